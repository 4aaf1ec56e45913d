"""The HetRec 2011 Last.fm parser on tiny invented files in the release's formats, a large synthetic
file for speed, and the real release where a copy is at ../shared/datasets (never copied into the
repository)."""

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqrec import datasets
from seqrec.datasets.lastfm import CURATED_TAGS, LASTFM, TAG_ALIASES, LastFM
from seqrec.io import InputError, read_parquet
from seqrec.prepare import prepare

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "hetrec2011-lastfm-2k"
TAGGINGS, TIMESTAMPS = "user_taggedartists.dat", "user_taggedartists-timestamps.dat"

# user, artist, tag, (day, month, year), timestamp in ms (local midnight in Madrid, as released)
ROWS = [
    (2, 51, 1, (1, 4, 2009), 1238536800000),
    (2, 52, 2, (1, 4, 2009), 1238536800000),  # the same time as the line before
    (2, 51, 3, (1, 3, 2009), 1235862000000),  # an earlier tagging of (2, 51): its first
    (2, 51, 4, (1, 5, 2009), 1241128800000),
    (3, 53, 5, (15, 6, 2010), 1276552800000),
    (3, 99, 1, (15, 6, 2010), 1276552800000),  # artist 99 is not in artists.dat
    (3, 51, 1, (15, 6, 2010), 1276552800000),
    (3, 52, 6, (16, 6, 2010), 1276639200999),  # milliseconds are floored
    (3, 51, 3, (15, 6, 2010), 1276552800000),  # (3, 51) again at the same time: line 7 is first
    (4, 51, 1, (1, 1, 1956), -441853199500),  # before 1970: floored, not truncated
]
TAGGED = ("userID\tartistID\ttagID\tday\tmonth\tyear\n" + "".join(
    f"{u}\t{a}\t{t}\t{d}\t{m}\t{y}\n" for u, a, t, (d, m, y), _ in ROWS)).encode()
TIMED = ("userID\tartistID\ttagID\ttimestamp\n" + "".join(
    f"{u}\t{a}\t{t}\t{ms}\n" for u, a, t, _, ms in ROWS)).encode()
TAGS = (b"tagID\ttagValue\n"
        b"1\trock\n"
        b"2\t Hip Hop\n"  # aliased after stripping and lower-casing
        b"3\tR&B\n"
        b"4\tindie rock\n"  # neither indie nor rock: whole values only
        b"5\tseen live\n"
        b"6\tm\xfasica\n")  # Latin-1
ARTISTS = ("id\tname\turl\tpictureURL\n"
           "51\tBeyoncé\thttp://www.last.fm/music/Beyonc%C3%A9\thttp://x/51.jpg\n"
           "52\tJay-Z\thttp://www.last.fm/music/Jay-Z\t\n"
           "53\tJoy Division\thttp://www.last.fm/music/Joy+Division\thttp://x/53.jpg\n"
           "54\tNever Tagged\thttp://www.last.fm/music/Never\thttp://x/54.jpg\n").encode("utf-8")
FILES = {TAGGINGS: TAGGED, TIMESTAMPS: TIMED, "tags.dat": TAGS, "artists.dat": ARTISTS}


def write(raw: Path, files: dict[str, bytes]) -> Path:
    raw.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (raw / name).write_bytes(data)
    return raw


def header(data: bytes) -> bytes:
    return data.splitlines(keepends=True)[0]


def without(name: str, files: dict[str, bytes] = FILES) -> dict[str, bytes]:
    return {key: data for key, data in files.items() if key != name}


def interactions_frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"]).astype("int64")


def test_raw_files_are_the_members_at_the_archive_root():
    assert LASTFM.RAW_FILES == ["user_taggedartists.dat", "tags.dat", "artists.dat"]
    assert LASTFM.OPTIONAL_FILES == ["user_taggedartists-timestamps.dat"]
    assert 14 <= len(CURATED_TAGS) <= 17 and set(TAG_ALIASES.values()) <= set(CURATED_TAGS)
    assert not {"seen live", "female vocalists", "80s"} & set(CURATED_TAGS)


def test_timestamps_file_gives_first_taggings_in_file_order(tmp_path):
    tables = LASTFM.load_raw(write(tmp_path, FILES))
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame([
        (2, 52, 1238536800), (2, 51, 1235862000), (3, 53, 1276552800), (3, 99, 1276552800),
        (3, 51, 1276552800), (3, 52, 1276639200), (4, 51, -441853200)]))
    assert tables.lines == {TIMESTAMPS: 10, "tags.dat": 6, "artists.dat": 4}
    assert tables.malformed == {TIMESTAMPS: 0, "tags.dat": 0, "artists.dat": 0}


def test_without_timestamps_file_dates_are_midnight_utc(tmp_path):
    tables = LASTFM.load_raw(write(tmp_path, without(TIMESTAMPS)))
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame([
        (2, 52, 1238544000), (2, 51, 1235865600), (3, 53, 1276560000), (3, 99, 1276560000),
        (3, 51, 1276560000), (3, 52, 1276646400), (4, 51, -441849600)]))
    assert tables.lines == {TAGGINGS: 10, "tags.dat": 6, "artists.dat": 4}
    assert tables.malformed == {TAGGINGS: 0, "tags.dat": 0, "artists.dat": 0}


@pytest.mark.parametrize("timestamps", [True, False], ids=["timestamps", "dates"])
def test_domains_are_the_curated_tags_any_user_gave(timestamps, tmp_path):
    files = FILES if timestamps else without(TIMESTAMPS)
    items = LASTFM.load_raw(write(tmp_path, files)).items
    expected = pd.DataFrame({
        "item": [51, 52, 53, 99],  # the tagged artists; 54 never was
        "title": ["Beyoncé", "Jay-Z", "Joy Division", "99"],
        "domains": [["rock", "soul-rnb"], ["hip-hop"], [], ["rock"]],
    }).astype({"item": "int64", "title": str})
    pd.testing.assert_frame_equal(items, expected)


def test_min_taggings_drops_rare_artist_tags(tmp_path):
    items = LastFM(min_taggings=2).load_raw(write(tmp_path, FILES)).items
    # Artist 51 got rock three times and R&B twice; 52 and 99 their genre once.
    assert items["domains"].tolist() == [["rock", "soul-rnb"], [], [], []]


def test_crlf_blank_lines_and_trailing_spaces_are_no_fault(tmp_path):
    files = {name: data.replace(b"\n", b"  \r\n\r\n") for name, data in FILES.items()}
    tables = LASTFM.load_raw(write(tmp_path, files))
    assert tables.malformed == {TIMESTAMPS: 0, "tags.dat": 0, "artists.dat": 0}
    assert tables.lines == {TIMESTAMPS: 10, "tags.dat": 6, "artists.dat": 4}
    assert tables.items["title"].tolist() == ["Beyoncé", "Jay-Z", "Joy Division", "99"]
    assert tables.items["domains"].iloc[1] == ["hip-hop"]


@pytest.mark.parametrize(("member", "bad_line"), [
    (TAGGINGS, b"5\t51\t1\t1\t4"),  # too few fields
    (TAGGINGS, b"5\t51\t1\t1\t4\t2009\t0"),  # too many
    (TAGGINGS, b"5\t5l\t1\t1\t4\t2009"),  # letter l in the artist id
    (TAGGINGS, b"5\t51\t1\tfirst\t4\t2009"),
    (TAGGINGS, b"5\t51\t1\t30\t2\t2009"),  # no such date
    (TAGGINGS, b"5\t51\t1\t1\t13\t2009"),
    (TAGGINGS, b"5\t51\t1\t1\t4\t09"),
    (TAGGINGS, b"5\t51\t1\x1f\t1\t4\t2009"),  # a control character that could split a line
    (TAGGINGS, b"5\t\xb951\t1\t1\t4\t2009"),  # not ASCII, let alone a number
    (TIMESTAMPS, b"5\t51\t1\t1238536800000.0"),
    (TIMESTAMPS, b"5\t51\t1\t1.2e12"),
    (TIMESTAMPS, b"5\t51\t1238536800000"),
    (TIMESTAMPS, b"5 51 1 1238536800000"),
    ("tags.dat", b"7\tjazz\textra"),
    ("tags.dat", b"x7\tjazz"),
    ("artists.dat", b"55\tNo Picture Field\thttp://x"),
    ("artists.dat", b"55\tCaf\xe9\thttp://x\thttp://y"),  # the name is not UTF-8
    ("artists.dat", b"A55\tName\thttp://x\thttp://y"),
])
def test_malformed_lines_are_counted_and_skipped(member, bad_line, tmp_path):
    files = FILES if member != TAGGINGS else without(TIMESTAMPS)
    n_lines = len(files[member].splitlines())  # with the header: one more data line
    good = {TAGGINGS: b"5\t52\t1\t1\t4\t2011", TIMESTAMPS: b"5\t52\t1\t1301608800000",
            "tags.dat": b"8\tJazz", "artists.dat": b"56\tNina\thttp://x\thttp://y"}[member]
    files = {**files, member: files[member] + bad_line + b"\n\n" + good + b"\n"}
    tables = LASTFM.load_raw(write(tmp_path, files), {"max_malformed_fraction": 0.2})
    assert tables.lines[member] == n_lines + 1
    assert tables.malformed == {name: int(name == member) for name in tables.lines}
    if member in (TAGGINGS, TIMESTAMPS):
        assert tables.interactions.iloc[-1].tolist()[:2] == [5, 52]
        assert 5 not in tables.interactions.loc[tables.interactions["item"] == 51, "user"].values


def test_too_many_malformed_lines_stop_naming_the_file_and_first_bad_line(tmp_path):
    tagged = TAGGED + b"5\t51\t1\t31\t4\t2009\n5\t5x\t1\t1\t4\t2009\n"
    raw = write(tmp_path, {**without(TIMESTAMPS), TAGGINGS: tagged})
    message = re.escape(f"{TAGGINGS}: 2 of 12 lines are malformed")
    with pytest.raises(InputError, match=message) as err:
        LASTFM.load_raw(raw, {"max_malformed_fraction": 0.1})
    assert str(raw / TAGGINGS) in str(err.value)
    assert repr("5\t51\t1\t31\t4\t2009") in str(err.value)  # the first bad line, in file order
    assert LASTFM.load_raw(raw, {"max_malformed_fraction": 0.2}).malformed[TAGGINGS] == 2
    # Without options the schema's default (0.1%) applies.
    with pytest.raises(InputError, match="max_malformed_fraction"):
        LASTFM.load_raw(raw)

    artists = FILES["artists.dat"] + b"57\tOnly a name\n"
    with pytest.raises(InputError, match=r"artists\.dat: 1 of 5 lines.*'57\\tOnly a name'"):
        LASTFM.load_raw(write(tmp_path, {**FILES, "artists.dat": artists}))


@pytest.mark.parametrize("member", ["user_taggedartists.dat", "tags.dat", "artists.dat"])
def test_missing_file_says_where_to_put_it(member, tmp_path):
    raw = write(tmp_path / "lastfm-hetrec", without(member))
    message = (re.escape(str(raw / member)) + r": file not found.*hetrec2011-lastfm-2k\.zip"
               r".*resources/raw/lastfm-hetrec/.*download")
    with pytest.raises(InputError, match=message):
        LASTFM.load_raw(raw)


def test_empty_file_says_to_fetch_it_again(tmp_path):
    raw = write(tmp_path, {**FILES, TIMESTAMPS: b""})
    with pytest.raises(InputError, match=r"timestamps\.dat: cannot be read.*put a fresh copy from hetrec2011-lastfm-2k.zip there"):
        LASTFM.load_raw(raw)


def test_header_only_files_have_no_interactions(tmp_path):
    files = {name: header(data) for name, data in FILES.items()}
    tables = LASTFM.load_raw(write(tmp_path, without(TIMESTAMPS, files)))
    assert tables.interactions.empty and list(tables.interactions) == ["user", "item", "timestamp"]
    assert tables.items.empty and list(tables.items) == ["item", "title", "domains"]
    assert tables.lines == {TAGGINGS: 0, "tags.dat": 0, "artists.dat": 0}


@pytest.mark.parametrize("timestamps", [True, False], ids=["timestamps", "dates"])
def test_a_release_sized_file_parses_in_about_a_second(timestamps, tmp_path):
    rng = np.random.default_rng(0)
    n = 186_479  # tag assignments in the release
    user, artist = rng.integers(2, 2101, n), rng.integers(1, 18_746, n)
    tag = rng.integers(1, 12_649, n)
    if timestamps:
        lines = [f"{u}\t{a}\t{t}\t{ms}\n" for u, a, t, ms in
                 zip(user, artist, tag, rng.integers(1_100_000_000_000, 1_310_000_000_000, n))]
    else:
        lines = [f"{u}\t{a}\t{t}\t{d}\t{m}\t{y}\n" for u, a, t, d, m, y in
                 zip(user, artist, tag, rng.integers(1, 29, n), rng.integers(1, 13, n),
                     rng.integers(2005, 2012, n))]
    tags = "".join(f"{i}\t{CURATED_TAGS[i % 16] if i % 50 == 0 else f'tag {i}'}\n"
                   for i in range(1, 12_649))
    artists = "".join(f"{i}\tArtist {i}\thttp://www.last.fm/music/{i}\thttp://x/{i}.jpg\n"
                      for i in range(1, 18_746))
    raw = write(tmp_path, {TAGGINGS: TAGGED, "tags.dat": header(TAGS) + tags.encode(),
                           "artists.dat": header(ARTISTS) + artists.encode()})
    member = TIMESTAMPS if timestamps else TAGGINGS
    write(raw, {member: header(FILES[member]) + "".join(lines).encode()})
    started = time.perf_counter()
    tables = LASTFM.load_raw(raw)
    seconds = time.perf_counter() - started
    print(f"{n} synthetic tag assignments parsed in {seconds:.2f} s")
    assert seconds < 2
    assert tables.lines[member] == n
    assert len(tables.interactions) == len(set(zip(user, artist)))
    assert tables.items["domains"].map(len).gt(0).any()


def test_prepare_reads_the_registered_source(tmp_path):
    if "lastfm-hetrec" not in datasets.DATASETS:
        pytest.skip("lastfm-hetrec is not registered in seqrec.datasets yet")
    assert datasets.get("lastfm-hetrec").source is LASTFM
    assert datasets.get("lastfm-hetrec").optional_files == [TIMESTAMPS]
    # Leave-one-out needs three artists per user: users 2 and 4 tag some more.
    timed = TIMED + b"2\t53\t5\t1301608800000\n4\t52\t2\t1301608800000\n4\t53\t5\t1301608800000\n"
    raw = write(tmp_path / "raw", {**FILES, TIMESTAMPS: timed})
    info = prepare("lastfm-hetrec", raw, tmp_path / "data", k_core=1)
    assert info["lines_read"] == {TIMESTAMPS: 13, "tags.dat": 6, "artists.dat": 4}
    assert info["n_interactions"] == 10
    items = read_parquet(tmp_path / "data" / "items.parquet").set_index("raw_id")
    assert list(items.loc["53", "domains"]) == ["other"]
    assert (items.loc["99", "title"], list(items.loc["99", "domains"])) == ("99", ["rock"])


def same_day_taggings(n_users: int, artists: list[int]) -> dict[str, bytes]:
    """Every user tags every artist on one day, lines in ascending artist id (as file order has it)."""
    day, ms = (1, 4, 2009), 1238536800000
    tagged = header(TAGGED) + "".join(f"{u}\t{a}\t1\t{day[0]}\t{day[1]}\t{day[2]}\n"
                                      for u in range(n_users) for a in artists).encode()
    timed = header(TIMED) + "".join(f"{u}\t{a}\t1\t{ms}\n" for u in range(n_users) for a in artists).encode()
    return {TAGGINGS: tagged, TIMESTAMPS: timed, "tags.dat": TAGS, "artists.dat": ARTISTS}


@pytest.mark.parametrize("timestamps", [True, False], ids=["timestamps", "dates"])
def test_same_day_taggings_are_not_split_by_artist_id(timestamps, tmp_path):
    # The timestamps file marks the day too (local midnight): both files tie the four artists.
    files = same_day_taggings(40, [51, 52, 53, 54])
    raw = write(tmp_path / "raw", files if timestamps else without(TIMESTAMPS, files))
    info = prepare("lastfm-hetrec", raw, tmp_path / "data", k_core=1)
    interactions = read_parquet(tmp_path / "data" / "interactions.parquet")
    raw_ids = read_parquet(tmp_path / "data" / "items.parquet").set_index("item")["raw_id"]
    test = interactions.loc[interactions["split"] == "test", "item"].map(raw_ids)
    # File order (ascending artist id) would make artist 54 every user's next item.
    assert set(test) == {"51", "52", "53", "54"} and test.value_counts().max() < 0.5 * len(test)
    assert info["held_out_tied"] == 2 * 40  # every valid and test item shares its user's day
    assert (TIMESTAMPS in info["sources"]) == timestamps  # the file read is the one recorded


def test_real_lastfm_hetrec():
    if not all((SHARED / name).is_file() for name in LASTFM.RAW_FILES):
        pytest.skip(f"no copy of hetrec2011-lastfm-2k at {SHARED}")
    started = time.perf_counter()
    tables = LASTFM.load_raw(SHARED)
    seconds = time.perf_counter() - started
    print(f"HetRec Last.fm parsed in {seconds:.2f} s; lines {tables.lines}; "
          f"malformed {tables.malformed}; {len(tables.interactions)} interactions")
    assert seconds < 2
    assert next(tables.lines[f] for f in (TIMESTAMPS, TAGGINGS) if f in tables.lines) == 186_479
    assert tables.lines["artists.dat"] == 17_632 and tables.lines["tags.dat"] == 11_946
    assert tables.interactions["user"].nunique() <= 1892
    assert "metal" in tables.items.set_index("item").loc[707, "domains"]  # Metallica

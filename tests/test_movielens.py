"""The MovieLens parsers on tiny invented files in each release's format, and on the real 100K
and 1M releases where a copy is at ../shared/datasets (never copied into the repository)."""

import gzip
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from seqrec import datasets
from seqrec.config import validate_config
from seqrec.datasets.movielens import ML_1M, ML_20M, ML_25M, ML_100K
from seqrec.io import InputError, read_parquet
from seqrec.prepare import prepare
from seqrec.splits import k_core, leave_one_out

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

# The order of the 19 flags of u.item, as in the 100K README.
GENRES_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def flags(*genres: str) -> str:
    return "|".join("1" if genre in genres else "0" for genre in GENRES_100K)


U_DATA = b"1\t10\t5\t881250949\n1\t20\t3\t881250949\n2\t10\t4\t881250000\n2\t30\t1\t881250100\n"
U_ITEM = (f"10|Caf\xe9 (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Caf%E9|"
          f"{flags('Comedy', 'Drama')}\n"
          f"20|unknown||||{flags('unknown')}\n"
          f"30|Noir: Night (1950)|01-Jan-1950||http://x|{flags('Crime', 'Film-Noir')}\n"
          ).encode("latin-1")

RATINGS_DAT = (b"1::10::5::978300760\n"
               b"1::20::3::978300760\n"  # the same second as the line before: file order decides
               b"1::30::4::978300100\n"
               b"2::10::2::978400000\n"
               b"2::30::5::978300000\n"
               b"2::40::1::978500000\n")  # movie 40 is not in movies.dat
MOVIES_DAT = (b"10::Caf\xe9 (1995)::Comedy|Drama\n"
              b"20::Noir: Night (1950)::Film-Noir\n"
              b"30::Kids' Movie (1990)::Children's|Sci-Fi\n")

RATINGS_CSV = (b"userId,movieId,rating,timestamp\n"
               b"1,10,4.5,1112486027\n"
               b"1,20,3.0,1112484676\n"
               b"2,10,0.5,1112484819\n")
MOVIES_CSV = ('movieId,title,genres\n'
              '10,"American President, The (1995)",Comedy|Drama|Romance\n'
              '20,Caf\xe9 (2003),(no genres listed)\n').encode("utf-8")


def write(raw: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(data)
    return raw


def items_frame(rows: list[tuple[int, str, list[str]]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["item", "title", "domains"])
    return frame.astype({"item": "int64", "title": str})


def interactions_frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"]).astype("int64")


def test_raw_files_are_laid_out_as_in_the_archives():
    assert ML_100K.RAW_FILES == ["ml-100k/u.data", "ml-100k/u.item"]
    assert ML_1M.RAW_FILES == ["ml-1m/ratings.dat", "ml-1m/movies.dat"]
    assert ML_20M.RAW_FILES == ["ml-20m/ratings.csv", "ml-20m/movies.csv"]
    assert ML_25M.RAW_FILES == ["ml-25m/ratings.csv", "ml-25m/movies.csv"]


def test_100k_every_flagged_genre_is_a_domain_and_unknown_is_none(tmp_path):
    raw = write(tmp_path, {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM})
    tables = ML_100K.load_raw(raw)
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame([
        (1, 10, 881250949), (1, 20, 881250949), (2, 10, 881250000), (2, 30, 881250100)]))
    pd.testing.assert_frame_equal(tables.items, items_frame([
        (10, "Café (1995)", ["Comedy", "Drama"]),
        (20, "unknown", []),
        (30, "Noir: Night (1950)", ["Crime", "Film-Noir"])]))
    assert tables.lines == {"ml-100k/u.data": 4, "ml-100k/u.item": 3}
    assert tables.malformed == {"ml-100k/u.data": 0, "ml-100k/u.item": 0}


def test_1m_keeps_file_order_and_ties_in_time(tmp_path):
    raw = write(tmp_path, {"ml-1m/ratings.dat": RATINGS_DAT, "ml-1m/movies.dat": MOVIES_DAT})
    tables = ML_1M.load_raw(raw)
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame([
        (1, 10, 978300760), (1, 20, 978300760), (1, 30, 978300100),
        (2, 10, 978400000), (2, 30, 978300000), (2, 40, 978500000)]))
    pd.testing.assert_frame_equal(tables.items, items_frame([
        (10, "Café (1995)", ["Comedy", "Drama"]),
        (20, "Noir: Night (1950)", ["Film-Noir"]),
        (30, "Kids' Movie (1990)", ["Children's", "Sci-Fi"])]))
    assert tables.lines == {"ml-1m/ratings.dat": 6, "ml-1m/movies.dat": 3}
    assert tables.malformed == {"ml-1m/ratings.dat": 0, "ml-1m/movies.dat": 0}
    # prepare's split orders the tied pair by the tie rule of seqrec.splits (not by file order).
    split = leave_one_out(tables.interactions)
    assert split.loc[split["user"] == 1, "item"].tolist() == [30, 10, 20]


@pytest.mark.parametrize("source", [ML_20M, ML_25M], ids=["20m", "25m"])
def test_csv_releases_read_quoted_titles_and_no_genres(source, tmp_path):
    ratings, movies = source.RAW_FILES
    raw = write(tmp_path, {ratings: RATINGS_CSV, movies: MOVIES_CSV})
    tables = source.load_raw(raw)
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame([
        (1, 10, 1112486027), (1, 20, 1112484676), (2, 10, 1112484819)]))
    pd.testing.assert_frame_equal(tables.items, items_frame([
        (10, "American President, The (1995)", ["Comedy", "Drama", "Romance"]),
        (20, "Café (2003)", [])]))
    assert tables.lines == {ratings: 3, movies: 2}
    assert tables.malformed == {ratings: 0, movies: 0}


def test_min_rating_drops_lower_ratings_and_keeps_the_order(tmp_path):
    raw = write(tmp_path, {"ml-1m/ratings.dat": RATINGS_DAT, "ml-1m/movies.dat": MOVIES_DAT})
    tables = ML_1M.load_raw(raw, {"min_rating": 4})
    assert tables.interactions[["user", "item"]].values.tolist() == [[1, 10], [1, 30], [2, 30]]
    assert tables.lines["ml-1m/ratings.dat"] == 6
    raw = write(tmp_path, {"ml-20m/ratings.csv": RATINGS_CSV, "ml-20m/movies.csv": MOVIES_CSV})
    kept = ML_20M.load_raw(raw, {"min_rating": 3.0})
    assert kept.interactions["item"].tolist() == [10, 20]


@pytest.mark.parametrize("bad_line", [
    b"3::10::4",  # too few fields
    b"3::10::4::978300000::1",  # too many
    b"3::10\x1f::4::978300000",  # a control character that could split a line
    b"x3::10::4::978300000",  # non-numeric user
    b"3::1O::4::978300000",  # letter O in the item id
    b"3::10::four::978300000",
    b"3::10::4::97830000O",
    b"3::10::-4::978300000",
    b"3::\xe9::4::978300000",  # not ASCII, let alone a number
    b"3;10;4;978300000",
])
def test_malformed_ratings_lines_are_counted_and_skipped(bad_line, tmp_path):
    ratings = RATINGS_DAT + bad_line + b"\n\n7::10::3::978300000\n"  # the blank line is no line
    raw = write(tmp_path, {"ml-1m/ratings.dat": ratings, "ml-1m/movies.dat": MOVIES_DAT})
    tables = ML_1M.load_raw(raw, {"max_malformed_fraction": 0.2})
    assert tables.lines["ml-1m/ratings.dat"] == 8
    assert tables.malformed == {"ml-1m/ratings.dat": 1, "ml-1m/movies.dat": 0}
    assert tables.interactions["user"].tolist() == [1, 1, 1, 2, 2, 2, 7]


def test_malformed_movie_lines_are_counted_and_the_movie_skipped(tmp_path):
    movies = MOVIES_DAT + b"40::Lost genres (2000)\n41::Bad id::\n4x::Title::Drama\n"
    raw = write(tmp_path, {"ml-1m/ratings.dat": RATINGS_DAT, "ml-1m/movies.dat": movies})
    tables = ML_1M.load_raw(raw, {"max_malformed_fraction": 0.5})
    assert tables.items["item"].tolist() == [10, 20, 30, 41]
    assert tables.items["domains"].iloc[-1] == []
    assert tables.lines["ml-1m/movies.dat"] == 6
    assert tables.malformed["ml-1m/movies.dat"] == 2

    u_item = U_ITEM + (f"40|Too few flags|01-Jan-2000||http://x|{flags()[2:]}\n"
                       f"41|Bad flag|01-Jan-2000||http://x|2|{flags()[2:]}\n").encode()
    raw = write(tmp_path, {"ml-100k/u.data": U_DATA, "ml-100k/u.item": u_item})
    assert ML_100K.load_raw(raw, {"max_malformed_fraction": 0.5}).malformed["ml-100k/u.item"] == 2

    movies_csv = MOVIES_CSV + b'30,"Unclosed, (2001),Drama\n31,No genres field\n32,Caf\xe9,Drama\n'
    raw = write(tmp_path, {"ml-25m/ratings.csv": RATINGS_CSV, "ml-25m/movies.csv": movies_csv})
    tables = ML_25M.load_raw(raw, {"max_malformed_fraction": 0.9})
    assert tables.items["item"].tolist() == [10, 20]  # line 32 is Latin-1, not UTF-8
    assert tables.malformed["ml-25m/movies.csv"] == 3


def test_too_many_malformed_lines_stop_naming_the_file_and_first_bad_line(tmp_path):
    ratings = RATINGS_DAT + b"3::ten::4::978300000\n3::10::4\n"
    raw = write(tmp_path, {"ml-1m/ratings.dat": ratings, "ml-1m/movies.dat": MOVIES_DAT})
    message = re.escape("ratings.dat: 2 of 8 lines are malformed")
    with pytest.raises(InputError, match=message) as err:
        ML_1M.load_raw(raw, {"max_malformed_fraction": 0.2})
    assert "'3::ten::4::978300000'" in str(err.value)
    assert ML_1M.load_raw(raw, {"max_malformed_fraction": 0.25}).malformed["ml-1m/ratings.dat"] == 2
    # Without options the schema's default (0.1%) applies.
    with pytest.raises(InputError, match="max_malformed_fraction"):
        ML_1M.load_raw(raw)


def test_missing_or_empty_file_says_what_to_do(tmp_path):
    raw = write(tmp_path, {"ml-1m/ratings.dat": RATINGS_DAT})
    message = r"ml-1m/movies\.dat: file not found.*ml-1m\.zip.*download"
    with pytest.raises(InputError, match=message):
        ML_1M.load_raw(raw)
    write(tmp_path, {"ml-1m/ratings.dat": b"", "ml-1m/movies.dat": MOVIES_DAT})
    with pytest.raises(InputError, match=r"ratings\.dat: cannot be read.*put a fresh copy from the archive there"):
        ML_1M.load_raw(raw)


def test_a_header_only_csv_has_no_interactions(tmp_path):
    raw = write(tmp_path, {"ml-20m/ratings.csv": RATINGS_CSV.splitlines(keepends=True)[0],
                           "ml-20m/movies.csv": MOVIES_CSV})
    tables = ML_20M.load_raw(raw)
    assert tables.interactions.empty and list(tables.interactions) == ["user", "item", "timestamp"]
    assert tables.lines["ml-20m/ratings.csv"] == 0


def test_prepare_reads_the_registered_source(tmp_path):
    assert datasets.get("movielens-1m").source is ML_1M
    raw = write(tmp_path / "raw", {"ml-1m/ratings.dat": RATINGS_DAT,
                                   "ml-1m/movies.dat": MOVIES_DAT})
    info = prepare("movielens-1m", raw, tmp_path / "data", k_core=1)
    assert info["lines_read"] == {"ml-1m/ratings.dat": 6, "ml-1m/movies.dat": 3}
    assert info["malformed_lines"] == {"ml-1m/ratings.dat": 0, "ml-1m/movies.dat": 0}
    assert set(info["sources"]) == set(ML_1M.RAW_FILES)
    items = read_parquet(tmp_path / "data" / "items.parquet")
    unlisted = items.loc[items["raw_id"] == "40"].iloc[0]
    assert (unlisted["title"], list(unlisted["domains"])) == ("40", ["other"])


@pytest.mark.parametrize("ties, last_of_the_tied_pair", [("hash", "20"), ("file", "10")])
def test_prepare_orders_ties_by_the_configured_rule(ties, last_of_the_tied_pair, tmp_path):
    # User 1's movies 20 and 10 share a second; the file lists 20 first, the hash puts 10 first.
    swapped = RATINGS_DAT.replace(b"1::10::5::978300760\n1::20::3::978300760\n",
                                  b"1::20::3::978300760\n1::10::5::978300760\n")
    raw = write(tmp_path / "raw", {"ml-1m/ratings.dat": swapped, "ml-1m/movies.dat": MOVIES_DAT})
    # The rule comes with the config's prepare section, as every caller passes it (the CLI step,
    # benchmarks/time_to_quality.py with --set prepare.ties=file).
    options = validate_config({"prepare": {"ties": ties}})["prepare"]
    info = prepare("movielens-1m", raw, tmp_path / "data", k_core=1, options=options)
    assert info["filters"]["ties"] == ties
    interactions = read_parquet(tmp_path / "data" / "interactions.parquet")
    items = read_parquet(tmp_path / "data" / "items.parquet").set_index("item")["raw_id"]
    test = interactions.loc[(interactions["split"] == "test")].set_index("user")["item"].map(items)
    assert test.tolist() == [last_of_the_tied_pair, "40"]


def shared_release(folder: str, *names: str) -> Path:
    if not all((SHARED / folder / name).is_file() for name in names):
        pytest.skip(f"no copy of {folder} at {SHARED}")
    return SHARED / folder


def domain_counts(tables, domain: str) -> tuple[int, int]:
    """(rated movies in `domain`, interactions with them)."""
    in_domain = tables.items.loc[tables.items["domains"].map(lambda d: domain in d), "item"]
    rated = tables.interactions["item"].isin(in_domain)
    return tables.interactions.loc[rated, "item"].nunique(), int(rated.sum())


def test_real_movielens_100k():
    shared = shared_release("ml-100k", "u.data", "u.item")
    started = time.perf_counter()
    # The shared folder is the archive's ml-100k/ itself, so its parent is the raw folder.
    tables = ML_100K.load_raw(shared.parent)
    print(f"MovieLens 100K parsed in {time.perf_counter() - started:.2f} s")
    interactions = tables.interactions
    assert (interactions["user"].nunique(), interactions["item"].nunique()) == (943, 1682)
    assert len(interactions) == 100_000
    assert domain_counts(tables, "Film-Noir") == (24, 1733)
    assert tables.malformed == {"ml-100k/u.data": 0, "ml-100k/u.item": 0}
    assert tables.items["domains"].map(len).eq(0).sum() == 2  # the two `unknown` movies


@pytest.fixture(scope="module")
def real_1m(tmp_path_factory):
    shared = shared_release("ml-1m", "ratings.dat.gz", "movies.dat")
    raw = tmp_path_factory.mktemp("movielens-1m")
    (raw / "ml-1m").mkdir()
    with gzip.open(shared / "ratings.dat.gz", "rb") as src, \
            open(raw / "ml-1m" / "ratings.dat", "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copyfile(shared / "movies.dat", raw / "ml-1m" / "movies.dat")
    return raw


def test_real_movielens_1m(real_1m):
    started = time.perf_counter()
    tables = ML_1M.load_raw(real_1m)
    seconds = time.perf_counter() - started
    print(f"MovieLens 1M parsed in {seconds:.2f} s")
    assert seconds < 10
    interactions = tables.interactions
    assert (interactions["user"].nunique(), interactions["item"].nunique()) == (6040, 3706)
    assert len(interactions) == 1_000_209
    assert domain_counts(tables, "Film-Noir") == (44, 18_261)
    assert tables.lines == {"ml-1m/ratings.dat": 1_000_209, "ml-1m/movies.dat": 3883}
    assert tables.malformed == {"ml-1m/ratings.dat": 0, "ml-1m/movies.dat": 0}
    assert tables.items.loc[tables.items["item"] == 1, "domains"].item() == \
        ["Animation", "Children's", "Comedy"]
    core = k_core(interactions, 5)
    print(f"MovieLens 1M 5-core: {core['user'].nunique()} users, {core['item'].nunique()} items, "
          f"{len(core)} interactions")

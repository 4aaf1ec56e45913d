"""The Amazon Electronics parsers on tiny invented files in the 2014 and 2018 formats, written
gzip-compressed by the tests (no real Amazon data is used)."""

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from seqrec import datasets
from seqrec.datasets.amazon import ELECTRONICS_2014, ELECTRONICS_2018
from seqrec.io import InputError, read_parquet
from seqrec.prepare import prepare
from seqrec.splits import leave_one_out


def review(user: str, item: str, rating: float, time: int) -> str:
    return json.dumps({"reviewerID": user, "asin": item, "reviewerName": "Jo", "helpful": [0, 1],
                       "reviewText": "Works \"great\", it's fine", "overall": rating,
                       "summary": "ok", "unixReviewTime": time, "reviewTime": "06 2, 2013"})


# Both releases write reviews alike. Reviewer 0071 and the asins with leading zeros must stay
# strings; 0000000001 is reviewed but has no metadata.
REVIEWS = [
    review("0071", "0000031852", 5.0, 1370131200),
    review("0071", "B00000J1V5", 2.0, 1370131200),  # the same second as the line before
    review("0071", "0528881469", 4.0, 1370000000),
    review("A2", "0000031852", 4.0, 1360000000),
    review("A2", "0528881469", 3.0, 1360000001),
    review("A2", "0000000001", 5.0, 1360000002),
]
INTERACTIONS = [
    ("0071", "0000031852", 1370131200), ("0071", "B00000J1V5", 1370131200),
    ("0071", "0528881469", 1370000000), ("A2", "0000031852", 1360000000),
    ("A2", "0528881469", 1360000001), ("A2", "0000000001", 1360000002),
]

# 2014 metadata: Python literals, as the release writes them.
META_2014 = [
    """{'asin': '0000031852', 'title': "Kid's Cable &amp; Adapter", 'price': 9.99, """
    """'related': {'also_bought': ['B00000J1V5']}, 'categories': [['Electronics', """
    """'Computers &amp; Accessories', 'Cables'], ['Electronics', 'Camera & Photo'], """
    """['Clothing, Shoes & Jewelry', 'Kids']]}""",
    "{'asin': 'B00000J1V5', 'salesRank': {'Electronics': 12}, "
    "'categories': [['Electronics', 'Home Audio', 'Speakers']]}",  # no title
    """{'asin': '0528881469', 'title': "__import__('os').system('echo hi')", """
    """'categories': [['Electronics']]}""",  # no category below Electronics
    "{'asin': '9999999999', 'title': 'Never reviewed', 'categories': [['Electronics', 'TV']]}",
]
# 2018 metadata: JSON, one flat category path; 0000031852 is listed twice.
META_2018 = [json.dumps(meta) for meta in [
    {"category": ["Electronics", "Computers &amp; Accessories", "Cables"], "title": "First",
     "also_buy": ["B00000J1V5"], "asin": "0000031852"},
    {"category": ["Electronics", "Home Audio"], "asin": "B00000J1V5"},
    {"category": [], "title": "GPS", "asin": "0528881469"},
    {"category": ["Electronics", "Camera &amp; Photo"], "title": "Second", "asin": "0000031852"},
]]

FILES_2014 = ELECTRONICS_2014.RAW_FILES
FILES_2018 = ELECTRONICS_2018.RAW_FILES


def gz(lines: list[str | bytes]) -> bytes:
    return gzip.compress(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n"
                                  for line in lines))


def write(raw: Path, files: dict[str, bytes]) -> Path:
    raw.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (raw / name).write_bytes(data)
    return raw


def write_2014(raw: Path, reviews: list = REVIEWS, meta: list = META_2014) -> Path:
    return write(raw, {FILES_2014[0]: gz(reviews), FILES_2014[1]: gz(meta)})


def write_2018(raw: Path, reviews: list = REVIEWS, meta: list = META_2018) -> Path:
    return write(raw, {FILES_2018[0]: gz(reviews), FILES_2018[1]: gz(meta)})


def interactions_frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return frame.astype({"user": str, "item": str, "timestamp": "int64"})


def items_frame(rows: list[tuple[str, str, list[str]]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "title", "domains"]).astype({"item": str,
                                                                            "title": str})


def test_raw_files_are_the_releases_gzip_files():
    assert FILES_2014 == ["reviews_Electronics_5.json.gz", "meta_Electronics.json.gz"]
    assert FILES_2018 == ["Electronics_5.json.gz", "meta_Electronics.json.gz"]


def test_2014_reads_python_literal_metadata_and_every_category_path(tmp_path):
    tables = ELECTRONICS_2014.load_raw(write_2014(tmp_path))
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame(INTERACTIONS))
    pd.testing.assert_frame_equal(tables.items, items_frame([
        ("0000031852", "Kid's Cable & Adapter", ["Computers & Accessories", "Camera & Photo"]),
        ("B00000J1V5", "B00000J1V5", ["Home Audio"]),
        # Code in a string is only text: literal_eval reads data and never runs it.
        ("0528881469", "__import__('os').system('echo hi')", [])]))
    assert tables.lines == {FILES_2014[0]: 6, FILES_2014[1]: 4}
    assert tables.malformed == {FILES_2014[0]: 0, FILES_2014[1]: 0}
    # prepare's split sorts stably by time: of the tied pair the later line is the test item.
    split = leave_one_out(tables.interactions)
    assert split.loc[split["user"] == "0071", "item"].tolist() == \
        ["0528881469", "0000031852", "B00000J1V5"]


def test_2018_reads_json_metadata_and_keeps_the_first_of_duplicate_asins(tmp_path):
    tables = ELECTRONICS_2018.load_raw(write_2018(tmp_path))
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame(INTERACTIONS))
    pd.testing.assert_frame_equal(tables.items, items_frame([
        ("0000031852", "First", ["Computers & Accessories"]),
        ("B00000J1V5", "B00000J1V5", ["Home Audio"]),
        ("0528881469", "GPS", [])]))
    assert tables.lines == {FILES_2018[0]: 6, FILES_2018[1]: 4}
    assert tables.malformed == {FILES_2018[0]: 0, FILES_2018[1]: 0}


def test_category_depth_picks_the_level_below_electronics(tmp_path):
    domains = ELECTRONICS_2014.load_raw(write_2014(tmp_path / "2014"),
                                        {"amazon_category_depth": 2}).items["domains"]
    assert domains.tolist() == [["Cables"], ["Speakers"], []]
    domains = ELECTRONICS_2018.load_raw(write_2018(tmp_path / "2018"),
                                        {"amazon_category_depth": 2}).items["domains"]
    assert domains.tolist() == [["Cables"], [], []]
    # A path that does not start at Electronics gives no domain.
    meta = [json.dumps({"asin": "0000031852", "category": ["Cell Phones", "Electronics", "Cases"]})]
    tables = ELECTRONICS_2018.load_raw(write_2018(tmp_path / "other", meta=meta))
    assert tables.items["domains"].tolist() == [[]]


def test_min_rating_drops_lower_ratings_and_their_items(tmp_path):
    tables = ELECTRONICS_2014.load_raw(write_2014(tmp_path), {"min_rating": 4})
    assert tables.interactions["item"].tolist() == \
        ["0000031852", "0528881469", "0000031852", "0000000001"]
    assert tables.items["item"].tolist() == ["0000031852", "0528881469"]
    assert tables.lines[FILES_2014[0]] == 6
    assert ELECTRONICS_2018.load_raw(write_2018(tmp_path), {"min_rating": None}) \
        .interactions.shape == (6, 3)


def test_metadata_is_evaluated_as_a_literal_never_as_code(tmp_path):
    probe = tmp_path / "executed"
    meta = [
        f"__import__('pathlib').Path({str(probe)!r}).touch()",  # a call, not a literal
        f"{{'asin': 'B00000J1V5', 'title': open({str(probe)!r}, 'w').write('x')}}",
        *META_2014,
    ]
    tables = ELECTRONICS_2014.load_raw(write_2014(tmp_path / "raw", meta=meta),
                                       {"max_malformed_fraction": 0.5})
    assert not probe.exists()
    assert tables.malformed[FILES_2014[1]] == 2
    # The malformed line left B00000J1V5 to its well-formed line further down.
    assert tables.items["item"].tolist() == ["0000031852", "B00000J1V5", "0528881469"]


@pytest.mark.parametrize("bad_line", [
    '{"reviewerID": "A3", "asin": "0000031852", "overall": 5.0',  # cut off
    '{"reviewerID": "A3", "asin": "0000031852", "overall": 5.0}',  # no time
    '{"asin": "0000031852", "overall": 5.0, "unixReviewTime": 1360000000}',  # no reviewer
    '{"reviewerID": "A3", "asin": 31852, "overall": 5.0, "unixReviewTime": 1360000000}',
    '{"reviewerID": "A3", "asin": "0000031852", "overall": "five", "unixReviewTime": 1360000000}',
    '{"reviewerID": "A3", "asin": "0000031852", "overall": 5.0, "unixReviewTime": "06 2, 2013"}',
    '{"reviewerID": "A3", "asin": "0000031852", "overall": 5.0, "unixReviewTime": 1.5}',
    '{"reviewerID": "A3", "asin": "0000031852", "overall": 5.0, "unixReviewTime": -1}',
    '["A3", "0000031852", 5.0, 1360000000]',
    "{'reviewerID': 'A3', 'asin': '0000031852', 'overall': 5.0, 'unixReviewTime': 1360000000}",
    b'{"reviewerID": "A\xe93", "asin": "0000031852", "overall": 5.0, "unixReviewTime": 1}',
])
def test_malformed_review_lines_are_counted_and_skipped(bad_line, tmp_path):
    reviews = [*REVIEWS[:3], bad_line, "", *REVIEWS[3:]]  # the blank line is no line
    for source, writer in [(ELECTRONICS_2014, write_2014), (ELECTRONICS_2018, write_2018)]:
        tables = source.load_raw(writer(tmp_path, reviews=reviews),
                                 {"max_malformed_fraction": 0.2})
        assert tables.lines == {source.RAW_FILES[0]: 7, source.RAW_FILES[1]: 4}
        assert tables.malformed == {source.RAW_FILES[0]: 1, source.RAW_FILES[1]: 0}
        pd.testing.assert_frame_equal(tables.interactions, interactions_frame(INTERACTIONS))


def test_malformed_metadata_lines_are_counted_and_skipped(tmp_path):
    meta = [
        "{'asin': '0000031852', 'title': 'unterminated}",
        "{'title': 'no asin', 'categories': [['Electronics', 'TV']]}",
        "{'asin': 'B00000J1V5', 'categories': 'Electronics'}",  # not a list of paths
        "{'asin': 'B00000J1V5', 'categories': [['Electronics', 3]]}",
        b"{'asin': '0528881469', 'title': 'Caf\xe9'}",  # Latin-1, not UTF-8
        "{'asin': '8888888888', 'title': broken(",  # nobody reviewed it: never parsed
        *META_2014,
    ]
    tables = ELECTRONICS_2014.load_raw(write_2014(tmp_path, meta=meta),
                                       {"max_malformed_fraction": 0.5})
    assert tables.lines[FILES_2014[1]] == 10
    assert tables.malformed[FILES_2014[1]] == 5
    assert tables.items["item"].tolist() == ["0000031852", "B00000J1V5", "0528881469"]

    meta = ['{"asin": "0000031852", "category": "Electronics"}',
            '{"asin": "0000031852", "category": [["Electronics"]]}', *META_2018]
    tables = ELECTRONICS_2018.load_raw(write_2018(tmp_path, meta=meta),
                                       {"max_malformed_fraction": 0.5})
    assert tables.malformed[FILES_2018[1]] == 2
    assert tables.items["title"].tolist() == ["First", "B00000J1V5", "GPS"]


def test_too_many_malformed_lines_stop_naming_the_file_and_first_bad_line(tmp_path):
    reviews = [*REVIEWS, '{"reviewerID": "A3", "asin": "0000031852"}', "not json"]
    raw = write_2014(tmp_path, reviews=reviews)
    message = re.escape("reviews_Electronics_5.json.gz: 2 of 8 lines are malformed")
    with pytest.raises(InputError, match=message) as err:
        ELECTRONICS_2014.load_raw(raw, {"max_malformed_fraction": 0.2})
    assert """'{"reviewerID": "A3", "asin": "0000031852"}'""" in str(err.value)
    assert ELECTRONICS_2014.load_raw(raw, {"max_malformed_fraction": 0.25}) \
        .malformed[FILES_2014[0]] == 2
    # Without options the schema's default (0.1%) applies.
    with pytest.raises(InputError, match="max_malformed_fraction"):
        ELECTRONICS_2014.load_raw(raw)

    raw = write_2018(tmp_path, meta=["{'asin': '0000031852'}", *META_2018])
    with pytest.raises(InputError, match=r"meta_Electronics\.json\.gz: 1 of 5 lines") as err:
        ELECTRONICS_2018.load_raw(raw, {"max_malformed_fraction": 0.1})
    assert "\"{'asin': '0000031852'}\"" in str(err.value)


def test_a_file_that_is_not_gzip_or_is_truncated_is_named(tmp_path):
    raw = write_2014(tmp_path)
    (raw / FILES_2014[0]).write_bytes(b"".join(line.encode() + b"\n" for line in REVIEWS))
    with pytest.raises(InputError, match=r"reviews_Electronics_5\.json\.gz: not a complete gzip"):
        ELECTRONICS_2014.load_raw(raw)
    raw = write_2018(tmp_path)
    (raw / FILES_2018[1]).write_bytes(gz(META_2018)[:-12])  # cut off before the end
    message = r"meta_Electronics\.json\.gz: not a complete gzip.*put the .json.gz file there as downloaded"
    with pytest.raises(InputError, match=message):
        ELECTRONICS_2018.load_raw(raw)


def test_missing_file_says_where_to_put_it(tmp_path):
    raw = write(tmp_path, {FILES_2014[0]: gz(REVIEWS)})
    message = (r"meta_Electronics\.json\.gz: file not found.*"
               r"resources/raw/amazon-electronics-2014/.*download")
    with pytest.raises(InputError, match=message):
        ELECTRONICS_2014.load_raw(raw)


@pytest.mark.parametrize("name,source,writer", [
    ("amazon-electronics-2014", ELECTRONICS_2014, write_2014),
    ("amazon-electronics-2018", ELECTRONICS_2018, write_2018),
])
def test_prepare_reindexes_string_ids(name, source, writer, tmp_path, monkeypatch):
    # Registered here so the test does not depend on the registry entry's download details.
    monkeypatch.setitem(datasets.DATASETS, name, datasets.Dataset(name, source, (), "", "", ""))
    info = prepare(name, writer(tmp_path / "raw"), tmp_path / "data", k_core=1)
    assert (info["n_users"], info["n_items"], info["n_interactions"]) == (2, 4, 6)
    assert info["lines_read"] == {source.RAW_FILES[0]: 6, source.RAW_FILES[1]: 4}
    items = read_parquet(tmp_path / "data" / "items.parquet").set_index("raw_id")
    assert items.index.tolist() == ["0000000001", "0000031852", "0528881469", "B00000J1V5"]
    assert (items.loc["0000000001", "title"], list(items.loc["0000000001", "domains"])) == \
        ("0000000001", ["other"])
    assert list(items.loc["B00000J1V5", "domains"]) == ["Home Audio"]
    interactions = read_parquet(tmp_path / "data" / "interactions.parquet")
    test = interactions.loc[interactions["split"] == "test", "item"].tolist()
    assert items.reset_index().set_index("item").loc[test, "raw_id"].tolist() == \
        ["B00000J1V5", "0000000001"]

"""The Yelp parser on tiny invented files in the format of the Yelp Open Dataset (JSON lines)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from seqrec import datasets
from seqrec.datasets import yelp
from seqrec.datasets.yelp import BUSINESS_FILE, REVIEW_FILE, YELP, business_domains
from seqrec.io import InputError, read_parquet
from seqrec.prepare import prepare


def line(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n"


def review(user: str, item: str, stars: float, date: str) -> bytes:
    # The fields the parser ignores are there as in the real file, text with escapes included.
    return line(review_id=f"r-{user}-{item}", user_id=user, business_id=item, stars=stars,
                useful=0, funny=0, cool=1, text='Great "crust".\n\nCafé 😀', date=date)


# 3 of these 5 businesses have a top-level category (b1, b2, b5); b3 has none at all and b4 only
# sub-categories of Automotive, which the rule does not map to their parent.
BUSINESSES = b"".join([
    line(business_id="b1", name="Pizza Place", stars=4.5, categories="Restaurants, Pizza, Italian"),
    line(business_id="b2", name="Lanes & Lagers", categories="Nightlife, Bars, Bowling, "
         "Active Life, Restaurants"),
    line(business_id="b3", name="Mystery Shop", categories=None),
    line(business_id="b4", name="Tire Guy", categories="Tires, Oil Change Stations"),
    line(business_id="b5", name="Café Crème", categories="Coffee & Tea,Food ,  restaurants"),
])
REVIEWS = b"".join([
    review("u1", "b1", 5.0, "2018-07-07 22:09:11"),
    review("u1", "b2", 2.0, "2017-01-14 20:54:15"),
    review("u2", "b1", 4.0, "2018-07-07 22:09:11"),  # the same second as the first line
    review("u2", "b3", 3, "2020-02-29 12:00:00"),  # stars as an integer
    review("u3", "b4", 1.0, "2016-05-28 01:14:31"),
    review("u1", "b5", 4.0, "2019-12-31 23:59:59"),
])
# By date, ties in file order: (user, item, seconds since the epoch, UTC).
ORDERED = [("u3", "b4", 1464398071), ("u1", "b2", 1484427255), ("u1", "b1", 1531001351),
           ("u2", "b1", 1531001351), ("u1", "b5", 1577836799), ("u2", "b3", 1582977600)]


def write(raw: Path, businesses: bytes = BUSINESSES, reviews: bytes = REVIEWS) -> Path:
    raw.mkdir(parents=True, exist_ok=True)
    (raw / BUSINESS_FILE).write_bytes(businesses)
    (raw / REVIEW_FILE).write_bytes(reviews)
    return raw


def interactions_frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return frame.astype({"user": "str", "item": "str", "timestamp": "int64"})


def test_raw_files_and_the_facts_of_the_manual_download():
    assert YELP.RAW_FILES == ["yelp_academic_dataset_business.json",
                              "yelp_academic_dataset_review.json"]
    assert yelp.PAGE_URL == "https://business.yelp.com/data/resources/open-dataset/"
    assert (yelp.ARCHIVE, yelp.ARCHIVE_MD5) == ("Yelp-JSON.zip", "b0c36fe2d00a52d8de44fa3b2513c9d2")
    assert (yelp.INNER_TAR, yelp.INNER_TAR_MD5) == ("Yelp JSON/yelp_dataset.tar",
                                                    "0bc8cc1481ccbbd140d2aba2909a928a")
    assert len(yelp.TOP_LEVEL_CATEGORIES) == len(set(yelp.TOP_LEVEL_CATEGORIES)) == 22


@pytest.mark.parametrize("categories, domains", [
    ("Restaurants, Pizza, Italian", ["Restaurants"]),
    ("Shopping, Restaurants, Food, Shopping", ["Food", "Restaurants", "Shopping"]),  # fixed order
    (" Hotels & Travel ,Event Planning & Services", ["Event Planning & Services",
                                                      "Hotels & Travel"]),
    ("Pizza, Bars", ["other"]),  # sub-categories only
    ("restaurants, FOOD", ["other"]),  # exact match
    ("", ["other"]),
    (None, ["other"]),
])
def test_domains_are_the_top_level_categories_among_a_business_categories(categories, domains):
    assert business_domains(categories) == domains


def test_reviews_are_ordered_by_date_with_ties_in_file_order(tmp_path):
    tables = YELP.load_raw(write(tmp_path))
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame(ORDERED))
    expected_items = pd.DataFrame({
        "item": ["b1", "b2", "b3", "b4", "b5"],
        "title": ["Pizza Place", "Lanes & Lagers", "Mystery Shop", "Tire Guy", "Café Crème"],
        "domains": [["Restaurants"], ["Active Life", "Nightlife", "Restaurants"], ["other"],
                    ["other"], ["Food"]],
    }).astype({"item": "str", "title": "str"})
    pd.testing.assert_frame_equal(tables.items, expected_items)
    assert tables.lines == {BUSINESS_FILE: 5, REVIEW_FILE: 6}
    assert tables.malformed == {BUSINESS_FILE: 0, REVIEW_FILE: 0}


def test_chunks_give_the_same_tables(tmp_path, monkeypatch):
    raw = write(tmp_path, reviews=REVIEWS + b"not json\n")
    options = {"max_malformed_fraction": 0.2}
    whole = YELP.load_raw(raw, options)
    monkeypatch.setattr(yelp, "CHUNK_LINES", 2)  # the tie and the bad line cross chunk borders
    chunked = YELP.load_raw(raw, options)
    pd.testing.assert_frame_equal(chunked.interactions, whole.interactions)
    assert (chunked.lines, chunked.malformed) == (whole.lines, whole.malformed)
    assert chunked.malformed[REVIEW_FILE] == 1


def test_min_rating_drops_reviews_with_fewer_stars(tmp_path):
    tables = YELP.load_raw(write(tmp_path), {"min_rating": 4})
    assert tables.interactions[["user", "item"]].values.tolist() == [
        ["u1", "b1"], ["u2", "b1"], ["u1", "b5"]]
    assert tables.lines[REVIEW_FILE] == 6  # every line read, kept or not
    assert len(YELP.load_raw(tmp_path, {"min_rating": 3.0}).interactions) == 4


@pytest.mark.parametrize("bad_line", [
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "2018-07-07 22:09:11"',
    b"not json",
    b"[1, 2, 3]",
    b'"a string"',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0}',  # no date
    b'{"business_id": "b1", "stars": 4.0, "date": "2018-07-07 22:09:11"}',  # no user
    b'{"user_id": null, "business_id": "b1", "stars": 4.0, "date": "2018-07-07 22:09:11"}',
    b'{"user_id": "", "business_id": "b1", "stars": 4.0, "date": "2018-07-07 22:09:11"}',
    b'{"user_id": 9, "business_id": "b1", "stars": 4.0, "date": "2018-07-07 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": "4", "date": "2018-07-07 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": true, "date": "2018-07-07 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": NaN, "date": "2018-07-07 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 1e999, "date": "2018-07-07 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 1' + b"0" * 400 +
    b', "date": "2018-07-07 22:09:11"}',  # an integer beyond any float
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "2018-02-30 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "2018-07-07 24:00:00"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "2018-07-07T22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "2018-7-7 22:09:11"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "2018-07-07"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": "now"}',
    b'{"user_id": "u9", "business_id": "b1", "stars": 4.0, "date": 1531001351}',
    b'{"user_id": "u\xe9", "business_id": "b1", "stars": 4.0, "date": "2018-07-07 22:09:11"}',
])
def test_malformed_review_lines_are_counted_and_skipped(bad_line, tmp_path):
    reviews = REVIEWS + bad_line + b"\n\n" + review("u7", "b2", 5.0, "2021-01-01 00:00:00")
    tables = YELP.load_raw(write(tmp_path, reviews=reviews), {"max_malformed_fraction": 0.2})
    assert tables.lines == {BUSINESS_FILE: 5, REVIEW_FILE: 8}  # the blank line is no line
    assert tables.malformed == {BUSINESS_FILE: 0, REVIEW_FILE: 1}
    assert tables.interactions["user"].tolist() == [u for u, _, _ in ORDERED] + ["u7"]


def test_malformed_business_lines_are_counted_and_skipped(tmp_path):
    businesses = BUSINESSES + b"".join([
        b"{not json}\n",
        line(business_id="b6", name=None, categories="Food"),
        line(business_id="b7", name="No categories field"),
        line(business_id="b8", name="Listed categories", categories=["Food"]),
        line(business_id="", name="No id", categories="Food"),
    ])
    tables = YELP.load_raw(write(tmp_path, businesses=businesses), {"max_malformed_fraction": 0.5})
    assert tables.items["item"].tolist() == ["b1", "b2", "b3", "b4", "b5"]
    assert tables.lines[BUSINESS_FILE] == 10
    assert tables.malformed == {BUSINESS_FILE: 5, REVIEW_FILE: 0}


def test_too_many_malformed_lines_stop_naming_the_file_and_first_bad_line(tmp_path):
    # The first bad line fails only on its date, which is checked after the JSON of the chunk.
    bad_date = review("u8", "b1", 4.0, "2018-02-30 10:00:00")
    reviews = REVIEWS + bad_date + b"not json\n"
    raw = write(tmp_path, reviews=reviews)
    message = re.escape(f"{REVIEW_FILE}: 2 of 8 lines are malformed")
    with pytest.raises(InputError, match=message) as err:
        YELP.load_raw(raw, {"max_malformed_fraction": 0.2})
    assert repr(bad_date.decode().rstrip("\n")) in str(err.value)
    assert YELP.load_raw(raw, {"max_malformed_fraction": 0.25}).malformed[REVIEW_FILE] == 2
    # Without options the schema's default (0.1%) applies.
    with pytest.raises(InputError, match="max_malformed_fraction"):
        YELP.load_raw(raw)
    raw = write(tmp_path, businesses=BUSINESSES + b"{}\n")
    with pytest.raises(InputError, match=re.escape(f"{BUSINESS_FILE}: 1 of 6 lines")):
        YELP.load_raw(raw, {"max_malformed_fraction": 0.1})


@pytest.mark.parametrize("missing", [BUSINESS_FILE, REVIEW_FILE])
def test_a_missing_file_says_where_to_get_the_archive(missing, tmp_path):
    raw = write(tmp_path)
    (raw / missing).unlink()
    with pytest.raises(InputError) as err:
        YELP.load_raw(raw)
    message = str(err.value)
    assert message.startswith(f"{raw / missing}: file not found")
    for fact in ["https://business.yelp.com/data/resources/open-dataset/", "Yelp-JSON.zip",
                 "resources/archives/", "b0c36fe2d00a52d8de44fa3b2513c9d2"]:
        assert fact in message


def test_an_empty_review_file_has_no_interactions(tmp_path):
    tables = YELP.load_raw(write(tmp_path, reviews=b""))
    pd.testing.assert_frame_equal(tables.interactions, interactions_frame([]))
    assert tables.lines[REVIEW_FILE] == 0


def test_prepare_reindexes_the_string_ids(tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.DATASETS, "yelp", datasets.Dataset("yelp", YELP, (), "", "", ""))
    # Leave-one-out needs 3 interactions per user.
    reviews = b"".join([REVIEWS, review("u2", "b4", 2.0, "2015-03-01 08:00:00"),
                        review("u3", "b5", 5.0, "2016-06-01 09:30:00"),
                        review("u3", "b2", 4.0, "2022-01-19 18:00:00")])
    raw = write(tmp_path / "raw", reviews=reviews)
    info = prepare("yelp", raw, tmp_path / "data", k_core=1)
    assert (info["n_users"], info["n_items"], info["n_interactions"]) == (3, 5, 9)
    assert info["lines_read"] == {BUSINESS_FILE: 5, REVIEW_FILE: 9}
    interactions = read_parquet(tmp_path / "data" / "interactions.parquet")
    items = read_parquet(tmp_path / "data" / "items.parquet")
    assert items["raw_id"].tolist() == ["b1", "b2", "b3", "b4", "b5"]  # sorted raw ids
    assert [list(d) for d in items["domains"]] == [
        ["Restaurants"], ["Active Life", "Nightlife", "Restaurants"], ["other"], ["other"],
        ["Food"]]
    raw_id = dict(zip(items["item"], items["raw_id"]))
    u1 = interactions.loc[interactions["user"] == 0]  # "u1", the first of the sorted user ids
    assert [raw_id[i] for i in u1["item"]] == ["b2", "b1", "b5"]
    assert u1["split"].tolist() == ["train", "valid", "test"]

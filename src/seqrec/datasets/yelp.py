"""The Yelp Open Dataset: business and review files (JSON lines) -> raw tables.

Yelp gives the dataset only after a click-through on its terms at PAGE_URL, so it is never
downloaded by the workflow: the user puts ARCHIVE (`Yelp-JSON.zip`) in resources/archives/. The
archive holds INNER_TAR, whose members are the JSON files, extracted into resources/raw/yelp/ as
laid out in the tar. Two of them are read, one JSON object per line, UTF-8:

- `yelp_academic_dataset_business.json`: `business_id` (str), `name` (str) and `categories`, one
  comma-separated string (e.g. "Restaurants, Pizza, Italian") or null; other fields are ignored.
- `yelp_academic_dataset_review.json` (about 7M lines, 5 GB): `user_id`, `business_id` (str),
  `stars` (a number) and `date`, "YYYY-MM-DD HH:MM:SS" in UTC; other fields (`review_id`, the
  review `text`, votes) are ignored. It is streamed CHUNK_LINES lines at a time, so no more than
  one chunk of review text is held in memory.

Every review is an interaction (implicit feedback) of its user with its business at its date in
seconds since the epoch; with `min_rating` set, reviews with fewer stars are dropped. Users and
items keep their raw string ids (`prepare` re-indexes them). The interactions are ordered by date;
reviews with the same date keep their file order.

Domain rule: a business's domains are those of its categories that are themselves among Yelp's 22
top-level categories (TOP_LEVEL_CATEGORIES, in that order), compared exactly after stripping
spaces. A sub-category such as "Pizza" is not mapped to its parent: that needs Yelp's category
tree, which is not part of the dataset; Yelp lists the top-level category itself among the
categories of most businesses. A business without a top-level category, or without categories,
gets ["other"].

A malformed line (invalid JSON or UTF-8, not an object, a missing or null field, an id that is not
a non-empty string, stars that are not a finite number, a date not in the format above or not in
the calendar) is skipped and counted per file; more than `max_malformed_fraction` of a file's
lines stops with InputError. Blank lines are not counted.
"""

from __future__ import annotations

import json
import os
import re
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd

from seqrec.datasets.base import MAX_MALFORMED_FRACTION, MalformedLines, OTHER_DOMAIN, RawTables
from seqrec.io import InputError

PAGE_URL = "https://business.yelp.com/data/resources/open-dataset/"
ARCHIVE = "Yelp-JSON.zip"  # downloaded by hand from PAGE_URL into resources/archives/
ARCHIVE_MD5 = "b0c36fe2d00a52d8de44fa3b2513c9d2"
INNER_TAR = "Yelp JSON/yelp_dataset.tar"  # inside ARCHIVE; holds the JSON files
INNER_TAR_MD5 = "0bc8cc1481ccbbd140d2aba2909a928a"
BUSINESS_FILE = "yelp_academic_dataset_business.json"
REVIEW_FILE = "yelp_academic_dataset_review.json"

TOP_LEVEL_CATEGORIES = (
    "Active Life", "Arts & Entertainment", "Automotive", "Beauty & Spas", "Education",
    "Event Planning & Services", "Financial Services", "Food", "Health & Medical",
    "Home Services", "Hotels & Travel", "Local Flavor", "Local Services", "Mass Media",
    "Nightlife", "Pets", "Professional Services", "Public Services & Government", "Real Estate",
    "Religious Organizations", "Restaurants", "Shopping",
)
CHUNK_LINES = 100_000  # review lines parsed at a time
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
# Bad JSON or UTF-8 or a field's type or format; a missing field; not an object; stars beyond float.
_PARSE_ERRORS = (ValueError, KeyError, TypeError, OverflowError)


class Yelp:
    """The Yelp Open Dataset as a dataset source: `RAW_FILES` and `load_raw`."""

    RAW_FILES = [BUSINESS_FILE, REVIEW_FILE]

    def load_raw(self, raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables:
        """Read the businesses and reviews under `raw_dir`; `options` is the config's `prepare`."""
        options = options or {}
        max_fraction = options.get("max_malformed_fraction", MAX_MALFORMED_FRACTION)
        business_path, review_path = (_path(Path(raw_dir), name) for name in self.RAW_FILES)

        # The small business file is checked first, before minutes spent on the reviews.
        bad_businesses = MalformedLines(business_path, max_fraction)
        items, n_businesses = _read_businesses(business_path, bad_businesses)
        malformed = {BUSINESS_FILE: bad_businesses.check(n_businesses)}
        bad_reviews = MalformedLines(review_path, max_fraction)
        interactions, n_reviews = _read_reviews(review_path, options.get("min_rating"),
                                                bad_reviews)
        malformed[REVIEW_FILE] = bad_reviews.check(n_reviews)
        return RawTables(
            interactions=interactions,
            items=items,
            item_file=BUSINESS_FILE,
            lines={BUSINESS_FILE: n_businesses, REVIEW_FILE: n_reviews},
            malformed=malformed,
        )


def _path(raw_dir: Path, member: str) -> Path:
    path = raw_dir / member
    if not path.is_file():
        raise InputError(
            f"{path}: file not found. The Yelp Open Dataset needs a click-through on its terms at "
            f"{PAGE_URL} ; download {ARCHIVE} there and put it in resources/archives/ (expected "
            f"md5 {ARCHIVE_MD5}), then rerun: the workflow extracts {member} from the "
            f"{INNER_TAR} inside it into {raw_dir}. Files already extracted can be put there "
            "directly.")
    return path


def business_domains(categories: str | None) -> list[str]:
    """The domains of a business with `categories` (Yelp's comma-separated string, or None)."""
    listed = {category.strip() for category in (categories or "").split(",")}
    return [top for top in TOP_LEVEL_CATEGORIES if top in listed] or [OTHER_DOMAIN]


def _read_businesses(path: Path, bad: MalformedLines) -> tuple[pd.DataFrame, int]:
    """The well-formed lines of the business file as item, title, domains, and the number of
    lines read; malformed lines go to `bad`. The file is small: one line at a time."""
    businesses, n_lines = [], 0
    with open(path, "rb") as handle:
        for line in _lines(handle):
            n_lines += 1
            try:
                record = json.loads(line)
                item, title, categories = (record["business_id"], record["name"],
                                           record["categories"])
                if not (_is_id(item) and isinstance(title, str)
                        and isinstance(categories, (str, type(None)))):
                    raise ValueError("a field of the wrong type")
            except _PARSE_ERRORS:
                bad.add(_text(line))
                continue
            businesses.append((item, title, business_domains(categories)))
    items = pd.DataFrame(businesses, columns=["item", "title", "domains"])
    return items.astype({"item": "str", "title": "str"}), n_lines


def _read_reviews(path: Path, min_rating: float | None,
                  bad: MalformedLines) -> tuple[pd.DataFrame, int]:
    """The well-formed reviews with at least `min_rating` stars as user, item, timestamp, ordered
    by date (ties in file order), and the number of lines read; malformed lines go to `bad`."""
    frames, n_lines = [], 0
    with open(path, "rb") as handle:
        for lines in _chunks(handle):
            n_lines += len(lines)
            frames.append(_parse_reviews(lines, min_rating, bad))
    empty = _interactions([], [], np.zeros(0, np.int64), np.zeros(0, bool))
    interactions = pd.concat(frames or [empty], ignore_index=True)
    order = np.argsort(interactions["timestamp"].to_numpy(), kind="stable")
    return interactions.iloc[order].reset_index(drop=True), n_lines


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    """The lines of `handle` that are not blank."""
    return (line for line in handle if line.strip())


def _chunks(handle: BinaryIO) -> Iterator[list[bytes]]:
    """The lines of `handle` that are not blank, CHUNK_LINES at a time."""
    lines = _lines(handle)
    while chunk := list(islice(lines, CHUNK_LINES)):
        yield chunk


def _parse_reviews(lines: list[bytes], min_rating: float | None,
                   bad: MalformedLines) -> pd.DataFrame:
    """One chunk of review lines as user, item, timestamp in file order; malformed lines go to
    `bad` (as one count, so that its first bad line stays the first in the file)."""
    users, items, stars, dates, rows, bad_rows = [], [], [], [], [], []
    for row, line in enumerate(lines):
        try:
            record = json.loads(line)
            user, item, star, date = (record["user_id"], record["business_id"], record["stars"],
                                      record["date"])
            if not (_is_id(user) and _is_id(item) and type(star) in (int, float)
                    and isinstance(date, str) and _DATE.fullmatch(date)):
                raise ValueError("a field of the wrong type or format")
            star = float(star)
        except _PARSE_ERRORS:
            bad_rows.append(row)
            continue
        users.append(user)
        items.append(item)
        stars.append(star)
        dates.append(date)
        rows.append(row)

    # The pattern above fixes the shape of a date; its calendar (no 30 February) and the stars'
    # finiteness are checked here, for the whole chunk at once.
    times = pd.to_datetime(pd.Series(dates, dtype=object), format=DATE_FORMAT, errors="coerce")
    star_values = np.array(stars, dtype=np.float64)
    valid = times.notna().to_numpy() & np.isfinite(star_values)
    bad_rows.extend(row for row, ok in zip(rows, valid) if not ok)
    if bad_rows:
        bad.add(_text(lines[min(bad_rows)]), count=len(bad_rows))

    keep = valid if min_rating is None else valid & (star_values >= min_rating)
    return _interactions(users, items, times.to_numpy("datetime64[s]").view(np.int64), keep)


def _interactions(users: list[str], items: list[str], timestamps: np.ndarray,
                  keep: np.ndarray) -> pd.DataFrame:
    """The interactions table of the rows `keep` of the given columns."""
    return pd.DataFrame({
        "user": pd.array(users, dtype="str")[keep],
        "item": pd.array(items, dtype="str")[keep],
        "timestamp": timestamps[keep],
    })


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


YELP = Yelp()

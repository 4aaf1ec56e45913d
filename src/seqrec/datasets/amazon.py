"""Amazon Electronics, the 2014 and 2018 releases: reviews and metadata files -> raw tables.

Raw files, relative to resources/raw/{dataset}/, gzip-compressed as downloaded (never unpacked):

- amazon-electronics-2014 (McAuley et al., SIGIR 2015): `reviews_Electronics_5.json.gz`, one JSON
  object per line (`reviewerID`, `asin`, `overall`, `unixReviewTime`, ...);
  `meta_Electronics.json.gz`, one Python dict literal per line (single-quoted strings; read with
  `ast.literal_eval`, which evaluates no code): `asin`, `title` (may be missing) and `categories`,
  a list of category paths such as [["Electronics", "Computers & Accessories", "Cables"], ...].
- amazon-electronics-2018 (Ni et al., EMNLP 2019): `Electronics_5.json.gz` and
  `meta_Electronics.json.gz`, both one JSON object per line; reviews as in 2014, metadata `asin`,
  `title` and `category`, one flat path such as ["Electronics", "Camera & Photo", "Lenses"].
  An asin listed more than once in the metadata keeps its first line.

Every review is an interaction (implicit feedback); with `min_rating` set, reviews whose `overall`
is lower are dropped. The timestamp is `unixReviewTime`. Reviewer ids and asins stay strings
(leading zeros matter) and rows keep the file order (`prepare` orders ties in time). Only reviewed
items are read from the metadata: a cheap pattern finds the asins a line mentions and the line is
parsed only if one of them was reviewed. Reviewed items missing from the metadata are left to
`prepare`. A missing or empty title becomes the asin; HTML entities (`&amp;`) are unescaped.

Domain rule: an item's domains are its categories `amazon_category_depth` levels (default 1)
below "Electronics", i.e. element `depth` of every category path whose first element is
"Electronics" (2014: all such paths, multi-label; 2018: the one path). An item without a category
at that depth gets an empty list, which `prepare` turns into "other".

A malformed line (text that is not UTF-8, not a JSON object or dict literal; a missing or non-string
id; a non-numeric `overall`; a `unixReviewTime` that is not a non-negative integer; categories that
are not lists of strings) is skipped and counted per file; more than `max_malformed_fraction` of a
file's lines stops with InputError. Blank lines are not counted. Metadata lines of items nobody
reviewed are not parsed, so they are counted as lines but never as malformed.
"""

from __future__ import annotations

import ast
import gzip
import html
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from seqrec.datasets.base import MAX_MALFORMED_FRACTION, MalformedLines, RawTables
from seqrec.io import InputError

ROOT_CATEGORY = "Electronics"
CATEGORY_DEPTH = 1  # the schema's default of prepare.amazon_category_depth
EXCERPT_BYTES = 300  # of the first malformed line, in the error message

# The errors that mark a line as malformed while it is decoded, parsed and checked. Both parsers
# raise RecursionError on absurd nesting; literal_eval raises SyntaxError on what is not Python and
# TypeError on e.g. an unhashable dict key.
_MALFORMED = (ValueError, SyntaxError, TypeError, KeyError, RecursionError)
# An asin as the metadata writes it ('asin': '...' or "asin": "..."); the literal prefix keeps the
# search fast. It may also match inside some text: the matches are only candidates.
_ASIN = re.compile(rb"""asin['"]\s*:\s*['"]([^'"\\]*)['"]""")

Paths = Callable[[dict], list[list[str]]]  # an item's category paths; ValueError if malformed


@dataclass
class AmazonElectronics:
    """One Amazon Electronics release as a dataset source: `RAW_FILES` and `load_raw`."""

    name: str  # the dataset name used in configs, e.g. "amazon-electronics-2014"
    reviews_file: str  # relative to resources/raw/{name}/
    meta_file: str
    parse_meta: Callable[[str], object]  # one metadata line; a _MALFORMED error if malformed
    category_paths: Paths
    RAW_FILES: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.RAW_FILES = [self.reviews_file, self.meta_file]

    def load_raw(self, raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables:
        """Read the reviews and metadata under `raw_dir`; `options` is the config's `prepare`."""
        options = options or {}
        max_fraction = options.get("max_malformed_fraction", MAX_MALFORMED_FRACTION)
        depth = options.get("amazon_category_depth", CATEGORY_DEPTH)
        reviews_path, meta_path = (self._path(Path(raw_dir), name) for name in self.RAW_FILES)

        bad_reviews = MalformedLines(reviews_path, max_fraction)
        interactions, n_reviews = _read_reviews(reviews_path, options.get("min_rating"),
                                                bad_reviews)
        malformed = {self.reviews_file: bad_reviews.check(n_reviews)}
        bad_meta = MalformedLines(meta_path, max_fraction)
        reviewed = {asin.encode() for asin in interactions["item"].unique()}
        items, n_meta = _read_items(meta_path, reviewed, self.parse_meta, self.category_paths,
                                    depth, bad_meta)
        malformed[self.meta_file] = bad_meta.check(n_meta)
        return RawTables(interactions=interactions, items=items, item_file=self.meta_file,
                         lines={self.reviews_file: n_reviews, self.meta_file: n_meta},
                         malformed=malformed)

    def _path(self, raw_dir: Path, member: str) -> Path:
        path = raw_dir / member
        if not path.is_file():
            raise InputError(
                f"{path}: file not found. Put {member} of the {self.name} release, gzip-compressed "
                f"as downloaded, in {raw_dir} (resources/raw/{self.name}/ in the workflow), or let "
                "the workflow download it there.")
        return path


def _lines(path: Path) -> Iterator[bytes]:
    """The non-blank lines of a gzip file, without their line ends. Bytes, not text: a line that
    is not UTF-8 is then one malformed line instead of the end of the file."""
    try:
        with gzip.open(path, "rb") as stream:
            for line in stream:
                line = line.strip()
                if line:
                    yield line
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(
            f"{path}: not a complete gzip file ({err}). It is probably truncated, unpacked or not "
            "the expected release: put the .json.gz file there as downloaded, or move it away "
            "and the workflow downloads it again.") from err


def _read_reviews(path: Path, min_rating: float | None,
                  bad: MalformedLines) -> tuple[pd.DataFrame, int]:
    """The kept reviews as user, item, timestamp in file order, and the number of lines read;
    malformed lines go to `bad`."""
    users, items, times = [], [], []
    n_lines = 0
    for line in _lines(path):
        n_lines += 1
        try:
            review = _record(json.loads(line.decode("utf-8")))
            user, item = _id(review["reviewerID"]), _id(review["asin"])
            rating = _number(review["overall"])
            timestamp = _timestamp(review["unixReviewTime"])
        except _MALFORMED:
            bad.add(_excerpt(line))
            continue
        if min_rating is None or rating >= min_rating:
            users.append(user)
            items.append(item)
            times.append(timestamp)
    interactions = pd.DataFrame({"user": pd.Series(users, dtype=str),
                                 "item": pd.Series(items, dtype=str),
                                 "timestamp": np.array(times, dtype=np.int64)})
    return interactions, n_lines


def _read_items(path: Path, reviewed: set[bytes], parse: Callable[[str], object],
                category_paths: Paths, depth: int,
                bad: MalformedLines) -> tuple[pd.DataFrame, int]:
    """The metadata of the `reviewed` asins (first line of each) as item, title, domains, and the
    number of lines read; malformed lines go to `bad`."""
    wanted = set(reviewed)  # reviewed asins not yet found, so later duplicates are skipped
    rows = []
    n_lines = 0
    for line in _lines(path):
        n_lines += 1
        candidates = _ASIN.findall(line)
        if candidates and wanted.isdisjoint(candidates):
            continue  # an item nobody reviewed, or a duplicate: not worth parsing
        try:
            meta = _record(parse(line.decode("utf-8")))
            asin = _id(meta["asin"])
            domains = _domains(category_paths(meta), depth)
        except _MALFORMED:
            bad.add(_excerpt(line))
            continue
        if asin.encode() in wanted:
            wanted.discard(asin.encode())
            rows.append((asin, _title(meta.get("title"), asin), domains))
    items = pd.DataFrame(rows, columns=["item", "title", "domains"])
    return items.astype({"item": str, "title": str}), n_lines


def _excerpt(line: bytes) -> str:
    """A bad line as shown in the error message: metadata lines can be many kilobytes long."""
    return line[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _record(value: object) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, not {type(value).__name__}")
    return value


def _id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"not an id: {value!r}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _timestamp(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"not a Unix time: {value!r}")
    return value


def _title(value: object, asin: str) -> str:
    title = html.unescape(value).strip() if isinstance(value, str) else ""
    return title or asin


def _string_list(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError(f"not a list of category names: {value!r}")
    return value


def _paths_2014(meta: dict) -> list[list[str]]:
    paths = meta.get("categories", [])
    if not isinstance(paths, list):
        raise ValueError(f"not a list of category paths: {paths!r}")
    return [_string_list(path) for path in paths]


def _paths_2018(meta: dict) -> list[list[str]]:
    return [_string_list(meta.get("category", []))]


def _domains(paths: list[list[str]], depth: int) -> list[str]:
    """The distinct categories at `depth` below the root of the paths under "Electronics"."""
    domains = []
    for path in paths:
        if len(path) > depth and html.unescape(path[0]) == ROOT_CATEGORY:
            domain = html.unescape(path[depth])
            if domain not in domains:
                domains.append(domain)
    return domains


ELECTRONICS_2014 = AmazonElectronics("amazon-electronics-2014", "reviews_Electronics_5.json.gz",
                                     "meta_Electronics.json.gz", ast.literal_eval, _paths_2014)
ELECTRONICS_2018 = AmazonElectronics("amazon-electronics-2018", "Electronics_5.json.gz",
                                     "meta_Electronics.json.gz", json.loads, _paths_2018)

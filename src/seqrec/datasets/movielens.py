"""The MovieLens releases 100K, 1M, 20M and 25M: ratings and movie files -> raw tables.

Raw files, relative to resources/raw/{dataset}/ and laid out as inside the official archives:

- movielens-100k: `ml-100k/u.data`, tab-separated user, item, rating, timestamp without header;
  `ml-100k/u.item`, Latin-1, `|`-separated id, title, release date, video release date, IMDb URL
  and 19 genre flags (0/1) in the order of GENRES_100K.
- movielens-1m: `ml-1m/ratings.dat`, `UserID::MovieID::Rating::Timestamp`, ordered by user;
  `ml-1m/movies.dat`, Latin-1, `MovieID::Title::Genres` with `|`-separated genres.
- movielens-20m, movielens-25m: `ml-20m/ratings.csv` and `ml-20m/movies.csv` (`ml-25m/...` alike),
  CSV with a header row (`userId,movieId,rating,timestamp`; `movieId,title,genres`, titles quoted
  where they contain a comma, `|`-separated genres), UTF-8 as the releases' READMEs state.

Every rating is an interaction (implicit feedback); with `min_rating` set, lower ratings are
dropped. Users and items keep their raw ids and rows keep the file order (`prepare` orders ties in
time by the rule of `seqrec.splits`). Items rated but missing from the movie file are left to `prepare`.

Domain rule: a movie's domains are all of its genres (multi-label), named as in the release. The
100K flag `unknown` and the 20M/25M entry `(no genres listed)` mean no genre, not a genre of their
own: such a movie gets an empty list, which `prepare` turns into "other".

A malformed line (wrong number of fields; an id, rating or timestamp that is not a plain decimal
number; text that does not decode) is skipped and counted per file; more than
`max_malformed_fraction` of a file's lines stops with InputError. Blank lines are not counted.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seqrec.datasets.base import MAX_MALFORMED_FRACTION, MalformedLines, RawTables, read_lines
from seqrec.io import InputError

GENRES_100K = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]
NO_GENRE = {"unknown", "(no genres listed)"}
CSV_RATINGS_HEADER = "userId,movieId,rating,timestamp"
CSV_MOVIES_HEADER = "movieId,title,genres"

Movie = tuple[int, str, list[str]]  # item, title, domains
_ID = re.compile(r"[0-9]{1,18}")  # at most 18 digits always fits in int64


@dataclass
class MovieLens:
    """One MovieLens release as a dataset source: `RAW_FILES` and `load_raw`."""

    name: str  # the dataset name used in configs, e.g. "movielens-1m"
    ratings_file: str  # relative to resources/raw/{name}/
    movies_file: str
    separator: str  # between the fields of a ratings line
    parse_movie: Callable[[str], Movie]  # one line of the movie file; ValueError if malformed
    movies_encoding: str = "latin-1"
    header: tuple[str, str] | None = None  # first lines of the ratings and movie files, if any
    RAW_FILES: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.RAW_FILES = [self.ratings_file, self.movies_file]

    def load_raw(self, raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables:
        """Read the ratings and movies under `raw_dir`; `options` is the config's `prepare`."""
        options = options or {}
        max_fraction = options.get("max_malformed_fraction", MAX_MALFORMED_FRACTION)
        min_rating = options.get("min_rating")
        ratings_path, movies_path = (self._path(Path(raw_dir), name) for name in self.RAW_FILES)
        ratings_header, movies_header = self.header or (None, None)

        bad_ratings = MalformedLines(ratings_path, max_fraction)
        ratings, n_ratings = _read_ratings(ratings_path, self.separator, ratings_header,
                                           bad_ratings)
        bad_movies = MalformedLines(movies_path, max_fraction)
        items, n_movies = _read_movies(movies_path, self.movies_encoding, movies_header,
                                       self.parse_movie, bad_movies)
        malformed = {self.ratings_file: bad_ratings.check(n_ratings),
                     self.movies_file: bad_movies.check(n_movies)}

        keep = slice(None) if min_rating is None else ratings["rating"] >= min_rating
        return RawTables(
            interactions=pd.DataFrame({c: ratings[c][keep] for c in ["user", "item", "timestamp"]}),
            items=items,
            item_file=self.movies_file,
            lines={self.ratings_file: n_ratings, self.movies_file: n_movies},
            malformed=malformed,
        )

    def _path(self, raw_dir: Path, member: str) -> Path:
        path = raw_dir / member
        if not path.is_file():
            archive = member.split("/")[0] + ".zip"
            raise InputError(
                f"{path}: file not found. Put the members of the {self.name} archive ({archive}) "
                f"in {raw_dir}, laid out as inside the archive (this one as {member}), or let the "
                "workflow download and extract it there.")
        return path


def _read_ratings(path: Path, separator: str, header: str | None,
                  bad: MalformedLines) -> tuple[dict[str, np.ndarray], int]:
    """The well-formed lines of a ratings file as columns user, item, rating, timestamp, in file
    order, and the number of lines read; malformed lines go to `bad`."""
    lines = read_lines(path, bad, "ratings", "put a fresh copy from the archive there, or move it away "
                       "and the workflow downloads it again.")
    if header is not None and len(lines) and lines[0].as_py() == header:
        lines = lines.slice(1)
    n_lines = len(lines) + bad.count

    fields = pc.extract_regex(lines, _ratings_pattern(separator))
    if fields.null_count:
        valid = pc.is_valid(fields)
        bad.add(lines[pc.index(valid, False).as_py()].as_py(), count=fields.null_count)
        fields = fields.filter(valid)
    types = {"user": pa.int64(), "item": pa.int64(), "rating": pa.float64(),
             "timestamp": pa.int64()}
    columns = {name: pc.cast(column, types[name]).to_numpy()
               for name, column in zip(types, fields.flatten())}
    return columns, n_lines


def _ratings_pattern(separator: str) -> str:
    """The RE2 pattern of a well-formed ratings line; `separator` has no regex metacharacter."""
    number, rating = "[0-9]{1,18}", r"[0-9]{1,9}(?:\.[0-9]{1,9})?"
    return (f"^(?P<user>{number}){separator}(?P<item>{number}){separator}"
            f"(?P<rating>{rating}){separator}(?P<timestamp>{number})$")


def _read_movies(path: Path, encoding: str, header: str | None,
                 parse: Callable[[str], Movie], bad: MalformedLines) -> tuple[pd.DataFrame, int]:
    """The well-formed lines of a movie file as item, title, domains, and the number of lines
    read; malformed lines go to `bad`. Movie files are small: one line at a time."""
    # Split the bytes, not the text: str.splitlines also breaks at characters such as \x85,
    # which Latin-1 titles may contain.
    raw_lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    if header is not None and raw_lines and raw_lines[0] == header.encode(encoding):
        raw_lines = raw_lines[1:]
    movies = []
    for raw in raw_lines:
        try:
            movies.append(parse(raw.decode(encoding)))
        except (UnicodeDecodeError, ValueError):
            bad.add(raw.decode(encoding, errors="replace"))
    items = pd.DataFrame(movies, columns=["item", "title", "domains"])
    return items.astype({"item": np.int64, "title": str}), len(raw_lines)


def _raw_id(text: str) -> int:
    if not _ID.fullmatch(text):
        raise ValueError(f"not an id: {text!r}")
    return int(text)


def _genres(text: str) -> list[str]:
    return [genre for genre in text.split("|") if genre and genre not in NO_GENRE]


def _movie_100k(line: str) -> Movie:
    fields = line.split("|")
    flags = fields[5:]
    if len(fields) != 5 + len(GENRES_100K) or not set(flags) <= {"0", "1"}:
        raise ValueError(f"expected 5 fields and {len(GENRES_100K)} 0/1 genre flags")
    genres = [genre for genre, flag in zip(GENRES_100K, flags)
              if flag == "1" and genre not in NO_GENRE]
    return _raw_id(fields[0]), fields[1], genres


def _movie_1m(line: str) -> Movie:
    # Split at the first and the last separator, so a title containing "::" stays whole.
    item, first, rest = line.partition("::")
    title, last, genres = rest.rpartition("::")
    if not (first and last):
        raise ValueError("expected MovieID::Title::Genres")
    return _raw_id(item), title, _genres(genres)


def _movie_csv(line: str) -> Movie:
    try:
        fields = next(csv.reader([line], strict=True))
    except csv.Error as err:
        raise ValueError(str(err)) from err
    if len(fields) != 3:
        raise ValueError("expected movieId,title,genres")
    return _raw_id(fields[0]), fields[1], _genres(fields[2])


ML_100K = MovieLens("movielens-100k", "ml-100k/u.data", "ml-100k/u.item", "\t", _movie_100k)
ML_1M = MovieLens("movielens-1m", "ml-1m/ratings.dat", "ml-1m/movies.dat", "::", _movie_1m)
ML_20M = MovieLens("movielens-20m", "ml-20m/ratings.csv", "ml-20m/movies.csv", ",", _movie_csv,
                   movies_encoding="utf-8", header=(CSV_RATINGS_HEADER, CSV_MOVIES_HEADER))
ML_25M = MovieLens("movielens-25m", "ml-25m/ratings.csv", "ml-25m/movies.csv", ",", _movie_csv,
                   movies_encoding="utf-8", header=(CSV_RATINGS_HEADER, CSV_MOVIES_HEADER))

"""HetRec 2011 Last.fm (hetrec2011-lastfm-2k): tag assignments and artists -> raw tables.

Raw files, relative to resources/raw/lastfm-hetrec/ and laid out as at the root of
hetrec2011-lastfm-2k.zip; all are tab-separated with a header line:

- `user_taggedartists.dat`: userID, artistID, tagID, day, month, year (one line per tag
  assignment);
- `user_taggedartists-timestamps.dat` (optional): the same assignments as userID, artistID, tagID,
  timestamp in milliseconds since the epoch (some are negative: dates before 1970);
- `tags.dat`: tagID, tagValue, Latin-1 encoded;
- `artists.dat`: id, name, url, pictureURL, UTF-8 encoded.
`user_artists.dat` (listening counts without time) is not used.

Interactions: a user's first tag assignment of an artist, one per (user, artist). Its time comes
from the timestamps file when present (milliseconds floored to seconds), else from the date of
`user_taggedartists.dat` at midnight UTC (the timestamps mark local midnight, so the two differ by
the time zone; only one file is read). Either way a time is a day: the artists a user tagged on one
day are tied, and `prepare` orders them by the tie rule of `seqrec.splits`, not by file order
(which is ascending artist id). Of assignments of one artist at the same time the earlier line is
the first; rows keep the file order of the kept assignments. Users and items keep their raw ids.
There are no ratings, so `min_rating` does not apply.

Domain rule: an artist's domains are the genres of CURATED_TAGS that any user assigned to it at
least `min_taggings` times (default 1; counted over all assignments). A tag value matches after
lower-casing, stripping and TAG_ALIASES, as a whole value, never a substring ("indie rock" is
neither indie nor rock). Non-genre tags (seen live, decades, female vocalists, ...) are never
domains; an artist without a curated tag gets an empty list, which `prepare` turns into "other".
Items are the tagged artists, titled by their name in `artists.dat`, or by their id when missing.

A malformed line (wrong number of fields; an id, date or timestamp that is not a plain decimal
number; a date that does not exist; an artist name that is not UTF-8) is skipped and counted per
file; more than `max_malformed_fraction` of a file's lines stops with InputError. Blank lines are
not counted; trailing spaces and carriage returns are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seqrec.datasets.base import MAX_MALFORMED_FRACTION, MalformedLines, RawTables, read_lines
from seqrec.io import InputError

ARCHIVE = "hetrec2011-lastfm-2k.zip"
TAGGINGS, TIMESTAMPS = "user_taggedartists.dat", "user_taggedartists-timestamps.dat"
TAGS, ARTISTS = "tags.dat", "artists.dat"
HEADERS = {
    TAGGINGS: "userID\tartistID\ttagID\tday\tmonth\tyear",
    TIMESTAMPS: "userID\tartistID\ttagID\ttimestamp",
    TAGS: "tagID\ttagValue",
    ARTISTS: "id\tname\turl\tpictureURL",
}
CURATED_TAGS = [
    "rock", "pop", "electronic", "hip-hop", "soul-rnb", "jazz", "blues", "metal", "punk", "indie",
    "alternative", "folk", "country", "classical", "reggae", "ambient",
]
TAG_ALIASES = {
    "hip hop": "hip-hop", "hiphop": "hip-hop", "rap": "hip-hop",
    "soul": "soul-rnb", "rnb": "soul-rnb", "r&b": "soul-rnb", "r'n'b": "soul-rnb",
    "electronica": "electronic",
}

_ID = "[0-9]{1,18}"  # at most 18 digits always fits in int64
PATTERNS = {
    TAGGINGS: (f"^(?P<user>{_ID})\t(?P<item>{_ID})\t(?P<tag>{_ID})\t(?P<day>[0-9]{{1,2}})\t"
               "(?P<month>[0-9]{1,2})\t(?P<year>[0-9]{4})$"),
    TIMESTAMPS: f"^(?P<user>{_ID})\t(?P<item>{_ID})\t(?P<tag>{_ID})\t(?P<timestamp>-?{_ID})$",
    TAGS: f"^(?P<tag>{_ID})\t(?P<value>[^\t]*)$",
    ARTISTS: f"^(?P<item>{_ID})\t(?P<name>[^\t]*)\t[^\t]*\t[^\t]*$",
}
NUMBERS = {"user", "item", "tag", "timestamp", "day", "month", "year"}  # fields cast to int64


@dataclass(frozen=True)
class LastFM:
    """The HetRec 2011 Last.fm release as a dataset source: `RAW_FILES` and `load_raw`."""

    min_taggings: int = 1  # assignments of a curated tag to an artist that make it a domain
    RAW_FILES: ClassVar[list[str]] = [TAGGINGS, TAGS, ARTISTS]
    OPTIONAL_FILES: ClassVar[list[str]] = [TIMESTAMPS]

    def load_raw(self, raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables:
        """Read the tag assignments, tags and artists under `raw_dir`; `options` is the config's
        `prepare` (only `max_malformed_fraction` applies)."""
        raw_dir = Path(raw_dir)
        max_fraction = (options or {}).get("max_malformed_fraction", MAX_MALFORMED_FRACTION)
        for member in self.RAW_FILES:
            _require(raw_dir, member)
        taggings_file = TIMESTAMPS if (raw_dir / TIMESTAMPS).is_file() else TAGGINGS
        lines, malformed = {}, {}

        def read(member: str) -> pd.DataFrame:
            bad = MalformedLines(raw_dir / member, max_fraction)
            frame, lines[member] = _read(raw_dir / member, member, bad)
            malformed[member] = bad.check(lines[member])
            return frame

        taggings, tags, artists = read(taggings_file), read(TAGS), read(ARTISTS)
        interactions = _first_taggings(taggings)
        item_ids = np.unique(interactions["item"].to_numpy())
        names = artists.drop_duplicates("item").set_index("item")["name"].reindex(item_ids)
        domains = _domains(taggings, tags, self.min_taggings).reindex(item_ids)
        items = pd.DataFrame({
            "item": item_ids,
            "title": [n if isinstance(n, str) else str(i) for i, n in zip(item_ids, names)],
            "domains": [d if isinstance(d, list) else [] for d in domains],
        })
        return RawTables(interactions=interactions, items=items.astype({"title": str}),
                         item_file=ARTISTS, lines=lines, malformed=malformed)


def _require(raw_dir: Path, member: str) -> None:
    path = raw_dir / member
    if not path.is_file():
        raise InputError(
            f"{path}: file not found. Put the members of {ARCHIVE} ({', '.join(LastFM.RAW_FILES)} "
            f"and, if you have it, {TIMESTAMPS}) in {raw_dir} (resources/raw/lastfm-hetrec/ in the "
            "workflow), laid out as at the root of the archive, or let the workflow download and "
            "extract it there.")


def _read(path: Path, member: str, bad: MalformedLines) -> tuple[pd.DataFrame, int]:
    """The well-formed lines of `member` as columns (NUMBERS as int64, then CONVERTERS), in file
    order, and the number of data lines read; malformed lines go to `bad`."""
    # Latin-1 reads every byte; the patterns accept only ASCII where they want numbers, and artist
    # names are re-decoded as UTF-8 afterwards.
    raw = read_lines(path, bad, "text", f"put a fresh copy from {ARCHIVE} there, or move it away and "
                     "the workflow downloads it again.")
    lines = pc.utf8_rtrim(raw, characters=" \r")
    if len(lines) and lines[0].as_py() == HEADERS[member]:
        raw, lines = raw.slice(1), lines.slice(1)
    n_lines = len(lines) + bad.count

    fields = pc.extract_regex(lines, PATTERNS[member]).combine_chunks()
    matched = fields.is_valid().to_numpy(zero_copy_only=False)
    fields = fields.filter(matched)
    frame, ok = CONVERTERS[member](pd.DataFrame({
        f.name: (pc.cast(fields.field(f.name), pa.int64()).to_numpy() if f.name in NUMBERS
                 else fields.field(f.name).to_numpy(zero_copy_only=False))
        for f in fields.type}))
    valid = matched.copy()
    valid[matched] = ok
    if not valid.all():
        bad.add(raw[int(np.argmin(valid))].as_py(), count=int((~valid).sum()))
    return frame.reset_index(drop=True), n_lines


def _dated_taggings(fields: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """user_taggedartists.dat: the date at midnight UTC as timestamp; a date that does not exist
    is not ok."""
    dates = pd.to_datetime(fields[["year", "month", "day"]], errors="coerce")
    ok = dates.notna().to_numpy()
    seconds = dates[ok].to_numpy().astype("datetime64[s]").astype(np.int64)
    return fields.loc[ok, ["user", "item", "tag"]].assign(timestamp=seconds), ok


def _timed_taggings(fields: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """user_taggedartists-timestamps.dat: milliseconds floored to seconds."""
    return fields.assign(timestamp=fields["timestamp"] // 1000), np.ones(len(fields), dtype=bool)


def _tags(fields: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return fields, np.ones(len(fields), dtype=bool)


def _artists(fields: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """artists.dat: names re-decoded as UTF-8 (they were read as Latin-1); other names are not
    ok."""
    names = [_utf8(name) for name in fields["name"]]
    ok = np.array([name is not None for name in names], dtype=bool)
    return pd.DataFrame({"item": fields["item"].to_numpy()[ok],
                         "name": [name for name in names if name is not None]}), ok


def _utf8(latin1: str) -> str | None:
    try:
        return latin1.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return None


CONVERTERS = {TAGGINGS: _dated_taggings, TIMESTAMPS: _timed_taggings, TAGS: _tags,
              ARTISTS: _artists}


def _first_taggings(taggings: pd.DataFrame) -> pd.DataFrame:
    """One interaction per (user, artist): the earliest assignment, the earlier line on a tie,
    in file order."""
    first = (taggings[["user", "item", "timestamp"]].sort_values("timestamp", kind="stable")
             .drop_duplicates(["user", "item"]))
    return first.sort_index().reset_index(drop=True)


def _domains(taggings: pd.DataFrame, tags: pd.DataFrame, min_taggings: int) -> pd.Series:
    """The curated genres of each tagged artist (index: artist id), in CURATED_TAGS order;
    artists without one are missing."""
    values = tags.drop_duplicates("tag").set_index("tag")["value"].str.strip().str.lower()
    genres = values.replace(TAG_ALIASES)
    genres = genres[genres.isin(CURATED_TAGS)]
    assigned = pd.DataFrame({
        "item": taggings["item"].to_numpy(),
        "domain": pd.Categorical(genres.reindex(taggings["tag"]).to_numpy(),  # others: NaN
                                 categories=CURATED_TAGS, ordered=True),
    })
    counts = assigned.groupby(["item", "domain"], observed=True).size()  # sorted by both
    kept = counts[counts >= min_taggings].reset_index()
    return kept.assign(domain=kept["domain"].astype(str)).groupby("item")["domain"].agg(list)


LASTFM = LastFM()

"""What every dataset source hands to `prepare`, and the shared check on malformed lines.

A source is anything with `RAW_FILES` (its raw members, relative to resources/raw/{dataset}/, laid
out as inside the archive) and `load_raw(raw_dir, options) -> RawTables`; `options` is the
`prepare` section of the config (e.g. `min_rating`, `max_malformed_fraction`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from seqrec.io import InputError

OTHER_DOMAIN = "other"  # the domain of an item that has none
MAX_MALFORMED_FRACTION = 0.001  # the schema's default, for callers that pass no options


@dataclass
class RawTables:
    """A dataset as read from its raw files, before filtering and splitting."""

    interactions: pd.DataFrame  # user, item, timestamp (int64); rows in source order (prepare orders ties)
    items: pd.DataFrame  # item, title, domains (list of str; an empty list becomes "other")
    item_file: str  # the raw member `items` comes from: where an item missing from it is missing
    lines: dict[str, int] = field(default_factory=dict)  # data lines read, per raw file
    malformed: dict[str, int] = field(default_factory=dict)  # lines skipped as malformed, per raw file


class MalformedLines:
    """Counts the malformed lines of one raw file and fails when they exceed the allowed fraction."""

    def __init__(self, path: str | os.PathLike, max_fraction: float):
        self.path, self.max_fraction = path, max_fraction
        self.count, self.first = 0, None

    def add(self, line: str, count: int = 1) -> None:
        self.count += count
        if self.first is None:
            self.first = line

    def check(self, n_lines: int) -> int:
        """Raise InputError if too many of `n_lines` were malformed; return the malformed count."""
        if self.count > self.max_fraction * max(n_lines, 1):
            raise InputError(
                f"{self.path}: {self.count} of {n_lines} lines are malformed "
                f"({self.count / max(n_lines, 1):.3%}, more than prepare.max_malformed_fraction = "
                f"{self.max_fraction:.3%}). First bad line: {self.first!r}. The file is probably "
                "corrupt or not the expected release: put a fresh copy from the dataset's archive there "
                "(or move it away, and the workflow downloads it again where it can), or raise "
                "prepare.max_malformed_fraction if the lines are known to be bad."
            )
        return self.count


def read_lines(path: Path, bad: MalformedLines, what: str, fix: str) -> pa.ChunkedArray:
    """Every line of a text file as one string column, read fast by pyarrow; lines pyarrow cannot
    take go to `bad`.

    The delimiter is a control character that only a corrupt line contains, and Latin-1 decodes
    any byte: parsers then match each line against a strict pattern, so an undecodable or
    ill-formed line becomes a malformed one. `what` names the content and `fix` the remedy in the
    error for an unreadable file.
    """
    def skip(row: pacsv.InvalidRow) -> str:
        bad.add(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=["line"], encoding="latin-1"),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(column_types={"line": pa.string()}))
    except pa.ArrowInvalid as err:
        raise InputError(f"{path}: cannot be read as lines of {what} ({err}). It is probably truncated "
                         f"or not the expected release: {fix}") from err
    return table.column("line")

"""The registry of datasets: each name maps to a source that turns its raw files into tables.

A source has `RAW_FILES` (the raw members, relative to resources/raw/{name}/) and
`load_raw(raw_dir, options) -> RawTables` (seqrec.datasets.base); a module is the usual one.
Adding a dataset is one line in DATASETS.
"""

from __future__ import annotations

import os
from typing import Protocol

from seqrec.datasets import synthetic
from seqrec.datasets.base import RawTables


class RawSource(Protocol):
    RAW_FILES: list[str]

    def load_raw(self, raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables: ...


DATASETS: dict[str, RawSource] = {
    "synthetic": synthetic,
}


def get(name: str) -> RawSource:
    """The source registered as `name`; ValueError naming the valid ones otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; valid datasets are: "
                         f"{', '.join(sorted(DATASETS))}") from None


def load_raw(name: str, raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables:
    """The raw tables of dataset `name`; `options` is the config's `prepare` section."""
    return get(name).load_raw(raw_dir, options)


def raw_files(name: str) -> list[str]:
    """The raw members of dataset `name`, relative to resources/raw/{name}/."""
    return list(get(name).RAW_FILES)

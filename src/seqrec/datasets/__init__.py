"""The registry of datasets: each name maps to a source that turns its raw files into tables.

A source is anything with `RAW_FILES` (the raw members, relative to resources/raw/{name}/) and
`load_raw(raw_dir) -> (interactions, items)`; a module is the usual one. Adding a dataset is one
line in DATASETS.
"""

from __future__ import annotations

import os
from typing import Protocol

import pandas as pd

from seqrec.datasets import synthetic


class RawSource(Protocol):
    RAW_FILES: list[str]

    def load_raw(self, raw_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]: ...


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


def load_raw(name: str, raw_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions[user, item, timestamp], items[item, title, domains]) of dataset `name`."""
    return get(name).load_raw(raw_dir)


def raw_files(name: str) -> list[str]:
    """The raw members of dataset `name`, relative to resources/raw/{name}/."""
    return list(get(name).RAW_FILES)

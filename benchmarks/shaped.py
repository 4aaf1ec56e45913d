"""Synthetic data of a given shape, prepared like the workflow does, for the benchmarks."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from seqrec import io
from seqrec.datasets import synthetic
from seqrec.prepare import prepare
from seqrec.weighting import domain_table, fixed_targets


def shaped_tables(users: int, items: int, interactions: int, sparse_share_threshold: float,
                  k_core: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The prepared interactions and items of generated data of that shape, and its domain table
    (the sparse domains as the fixed weighting's targets)."""
    with tempfile.TemporaryDirectory() as tmp:
        synthetic.write_raw(Path(tmp) / "raw", n_users=users, n_items=items, n_interactions=interactions)
        prepare("synthetic", Path(tmp) / "raw", Path(tmp) / "data", k_core=k_core)
        interaction_table = io.read_parquet(Path(tmp) / "data" / "interactions.parquet")
        item_table = io.read_parquet(Path(tmp) / "data" / "items.parquet")
    domains = domain_table(interaction_table, item_table, sparse_share_threshold)
    domains["fixed_target"] = domains["domain"].isin(fixed_targets(domains, None, "benchmark"))
    return interaction_table, item_table, domains

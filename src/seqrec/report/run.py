"""A finished workflow run as the report sees it: the validated config and the results layout."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seqrec.io import InputError, read_parquet
from seqrec.layout import Layout
from seqrec.stats import ALPHA, HEADLINE_K, read_tables

REFERENCE = "generic"  # the model of every lift: always run


@dataclass(frozen=True)
class Run:
    """The run of `config` (validated, with every default) whose outputs lie under `layout`."""

    config: dict
    layout: Layout = field(default_factory=Layout)

    @classmethod
    def load(cls, config_path: str | os.PathLike, results_dir: str | os.PathLike = "results") -> "Run":
        """The run whose config the notebook step wrote to `config_path` (JSON)."""
        path = Path(config_path)
        if not path.exists():
            raise InputError(f"{path}: the run's config file is missing; render the notebook with "
                             "`python -m seqrec notebook`, which writes it")
        return cls(json.loads(path.read_text()), Layout(results=Path(results_dir)))

    @property
    def datasets(self) -> list[str]:
        return list(self.config["datasets"])

    @property
    def methods(self) -> list[str]:
        """The configured methods, the reference first (every lift is measured against it)."""
        return [REFERENCE] + [m for m in self.config["methods"] if m != REFERENCE]

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self.config["seeds"]]

    @property
    def k(self) -> int:
        """The cut-off of the tables: the paper's 10 where the run evaluates it, else the middle one."""
        ks = sorted(self.config["evaluate"]["ks"])
        return HEADLINE_K if HEADLINE_K in ks else int(ks[len(ks) // 2])

    @property
    def alpha(self) -> float:
        return ALPHA

    @property
    def sparse_share_threshold(self) -> float:
        return float(self.config["sparsity"]["sparse_share_threshold"])

    def path(self, name: str, /, **wildcards) -> Path:
        return self.layout.path(name, **wildcards)

    def method_order(self, methods) -> list[str]:
        """`methods` in the order of the run's config (those it does not name last, by name)."""
        order = self.methods
        return sorted(dict.fromkeys(methods), key=lambda m: (order.index(m) if m in order else len(order), m))

    def aggregated(self, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The seed and lift tables of the aggregate step."""
        return read_tables(self.path("metrics_table", dataset=dataset), self.path("lift_table", dataset=dataset))

    def domains(self, dataset: str) -> pd.DataFrame:
        return read_parquet(self.path("domains", dataset=dataset)).astype({"domain": str})

    def table(self, name: str) -> pd.DataFrame:
        """A table of the report step (results/tables/{name}.csv)."""
        path = self.path("report_table", table=name)
        if not path.exists():
            raise InputError(f"{path}: file not found; run the workflow's report step first")
        # Only empty fields are missing: a domain may well be called "NA" or "None".
        return pd.read_csv(path, keep_default_na=False, na_values=[""],
                           dtype={"method": str, "reference": str, "domain": str, "dataset": str})

    def summary(self) -> str:
        """The settings every page of the report depends on, as a markdown line."""
        return (f"*This run: datasets {', '.join(self.datasets)}; methods {', '.join(self.methods)}; "
                f"seeds {', '.join(map(str, self.seeds))}; metrics at k = {self.k}; significance at "
                f"α = {self.alpha:g} after Holm's correction; sparse domains: share of the training "
                f"interactions below {100 * self.sparse_share_threshold:g}%.*")

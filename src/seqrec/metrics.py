"""Ranking metrics of leave-one-out test cases and their summary per domain.

Every test case has one target item, so with its 0-based rank r among all candidates
Recall@K = 1[r < K] and NDCG@K = 1 / log2(r + 2) if r < K else 0 (the ideal DCG is 1).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

METRICS = ("recall", "ndcg")
SCOPES = ("overall", "domain", "power")


def _is_tensor(ranks: Any) -> bool:
    # torch is only consulted when already imported: a tensor cannot exist otherwise.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(ranks, torch.Tensor)


def recall_at_k(ranks: Any, k: int) -> Any:
    """1.0 where the target ranks in the top k, else 0.0 (numpy array or torch tensor, as given)."""
    if _is_tensor(ranks):
        import torch

        return (ranks < k).to(torch.get_default_dtype())
    return (np.asarray(ranks) < k).astype(np.float64)


def ndcg_at_k(ranks: Any, k: int) -> Any:
    """1 / log2(rank + 2) where the target ranks in the top k, else 0.0 (array or tensor, as given)."""
    if _is_tensor(ranks):
        import torch

        gains = 1.0 / torch.log2(ranks.to(torch.get_default_dtype()) + 2.0)
        return torch.where(ranks < k, gains, torch.zeros_like(gains))
    ranks = np.asarray(ranks)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def metric_columns(ks: Iterable[int]) -> list[str]:
    """The per-case metric columns, `recall@k` and `ndcg@k` for each k in order."""
    return [f"{metric}@{k}" for k in ks for metric in METRICS]


def case_metrics(ranks: np.ndarray, ks: Iterable[int]) -> dict[str, np.ndarray]:
    """The `recall@k` and `ndcg@k` columns of per_case.parquet for the given 0-based ranks."""
    columns: dict[str, np.ndarray] = {}
    for k in ks:
        columns[f"recall@{k}"] = recall_at_k(ranks, k)
        columns[f"ndcg@{k}"] = ndcg_at_k(ranks, k)
    return columns


def group_members(per_case: pd.DataFrame) -> pd.DataFrame:
    """One row per (case, group) a case counts in: columns `scope`, `domain`, `case` (row position).

    A case counts in "overall" (domain "all"), in every domain of its target (scope "domain") and in
    every domain its user is a power user of (scope "power").
    """
    cases = pd.RangeIndex(len(per_case))
    parts = [pd.DataFrame({"scope": "overall", "domain": "all", "case": cases})]
    for scope, column in (("domain", "domains"), ("power", "power_domains")):
        exploded = pd.DataFrame({"domain": per_case[column].to_numpy(), "case": cases})
        exploded = exploded.explode("domain").dropna(subset=["domain"])
        # A domain listed twice for one case must not count the case twice.
        exploded = exploded.drop_duplicates()
        parts.append(exploded.assign(scope=scope))
    members = pd.concat(parts, ignore_index=True)[["scope", "domain", "case"]]
    return members.astype({"domain": str, "case": np.int64})


def summarise(per_case: pd.DataFrame, ks: Iterable[int]) -> pd.DataFrame:
    """Mean of each metric per group, long format: scope, domain, n_cases, metric, k, value."""
    columns = metric_columns(ks)
    missing = [c for c in ["domains", "power_domains", *columns] if c not in per_case.columns]
    if missing:
        raise ValueError(f"per-case results lack the columns {missing}")
    members = group_members(per_case)
    values = per_case[columns].to_numpy(dtype=np.float64)[members["case"].to_numpy()]
    frame = pd.concat([members[["scope", "domain"]], pd.DataFrame(values, columns=columns)], axis=1)
    grouped = frame.groupby(["scope", "domain"], sort=False)
    means = grouped[columns].mean()
    means["n_cases"] = grouped.size()
    long = means.reset_index().melt(
        id_vars=["scope", "domain", "n_cases"], value_vars=columns, var_name="column"
    )
    long[["metric", "k"]] = long["column"].str.split("@", expand=True)
    return sort_rows(long.astype({"k": np.int64, "n_cases": np.int64}))[
        ["scope", "domain", "n_cases", "metric", "k", "value"]
    ]


def sort_rows(frame: pd.DataFrame, methods: Sequence[str] = ()) -> pd.DataFrame:
    """Sort by method (in the given order), scope (overall, domain, power), domain, metric, k."""
    orders = {"method": list(methods), "scope": list(SCOPES), "metric": list(METRICS)}
    by = [c for c in ("method", "scope", "domain", "metric", "k") if c in frame.columns]
    return frame.sort_values(
        by,
        key=lambda col: col.map(orders[col.name].index) if col.name in orders else col,
        ignore_index=True,
    )

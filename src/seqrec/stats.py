"""Aggregation of the per-case results over seeds, lifts over the reference, CIs and paired tests.

The same tables are built for each evaluated split (`seqrec.layout.SPLITS`): the test split and
the validation split, on which choices are made without looking at the test set.

Lifts pair the evaluation cases of a method and of the reference by user: each user's metric is first
averaged over the seeds (every method of a seed is evaluated on the same users), then the lift is
mean(method) / mean(reference) - 1 over the users of a group. Its confidence interval is a
percentile bootstrap that resamples users, the same resample for every method, and its p-value a
two-sided Wilcoxon signed-rank test of the per-user differences.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats as sps

from seqrec.io import InputError, read_parquet, write_csv, write_text
from seqrec.layout import Layout, split_artifact
from seqrec.metrics import group_members, metric_columns, sort_rows, summarise

CASE_COLUMNS = ["user", "item", "rank", "domains", "power_domains"]
SEED_COLUMNS = ["method", "scope", "domain", "metric", "k", "mean", "std", "n_seeds", "n_cases"]
LIFT_COLUMNS = [
    "method", "reference", "scope", "domain", "metric", "k", "n_cases", "reference_value",
    "value", "lift", "ci_low", "ci_high", "confidence", "p_value",
]
HEADLINE_K = 10
# Resampled cases drawn at once by the bootstrap: bounds its memory (~100 MB) on large datasets.
BOOTSTRAP_BLOCK = 1 << 22
METRIC_LABELS = {"recall": "Recall", "ndcg": "NDCG"}
SPLIT_LABELS = {"test": "test", "valid": "validation"}
# Significance level of the paired tests, after Holm's correction across a family of domains.
ALPHA = 0.05


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the given order; NaN stays NaN and is not counted.

    The i-th smallest of m p-values is multiplied by m - i + 1, then a running maximum keeps the
    adjusted values in the order of the raw ones; a hypothesis is rejected where adjusted < alpha.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m:
        order = finite[np.argsort(p[finite], kind="stable")]
        adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


def load_runs(
    paths: Mapping[tuple[str, int], str | os.PathLike], ks: Iterable[int] = ()
) -> pd.DataFrame:
    """All per-case rows (of one split) with `method` and `seed` columns, keyed (method, seed) -> path.

    Checks that each file has the per-case columns (and the metric columns of `ks`) and that the
    methods of a seed were evaluated on the same users.
    """
    required = [*CASE_COLUMNS, *metric_columns(ks)]
    frames = []
    for (method, seed), path in paths.items():
        frame = read_parquet(path)
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputError(
                f"{path}: lacks the per-case columns {missing}. Delete it and rerun the evaluation "
                "with the same `evaluate.ks` as the aggregation."
            )
        frames.append(frame.assign(method=method, seed=int(seed)))
    if not frames:
        raise InputError("no per-case results to aggregate: `methods` or `seeds` is empty.")
    runs = pd.concat(frames, ignore_index=True)
    _check_matched(runs, paths)
    return runs


def _methods(runs: pd.DataFrame) -> list[str]:
    return list(pd.unique(runs["method"]))


def _require_reference(methods: Iterable[str], reference: str) -> None:
    methods = sorted(set(methods))
    if reference not in methods:
        raise InputError(
            f"no per-case results of the reference method {reference!r} (found {methods}): lifts "
            f"are measured against it, so add `{reference}` to `methods` in the config."
        )


def _check_matched(
    runs: pd.DataFrame, paths: Mapping[tuple[str, int], str | os.PathLike] | None = None
) -> None:
    """Raise unless every seed has every method, all evaluated once on the same users."""

    def label(method: str, seed: int) -> str:
        return str(paths[(method, seed)]) if paths else f"the results of {method!r}, seed {seed}"

    duplicated = runs.duplicated(["method", "seed", "user"])
    if duplicated.any():
        method, seed, user = runs.loc[duplicated, ["method", "seed", "user"]].iloc[0]
        raise InputError(
            f"{label(method, seed)}: user {user} has several test cases; leave-one-out evaluation "
            "has one per user. Delete the file and rerun its evaluation."
        )
    methods = _methods(runs)
    for seed, by_seed in runs.groupby("seed", sort=True):
        users = {m: np.sort(f["user"].to_numpy()) for m, f in by_seed.groupby("method", sort=False)}
        lacking = [m for m in methods if m not in users]
        if lacking:
            raise InputError(f"seed {seed} has no per-case results of {lacking}; evaluate them too.")
        first = methods[0]
        for method in methods[1:]:
            if not np.array_equal(users[first], users[method]):
                only = np.setxor1d(users[first], users[method]).size
                raise InputError(
                    f"{label(first, seed)} and {label(method, seed)} were evaluated on different "
                    f"users ({users[first].size} vs {users[method].size} cases, {only} users in "
                    "only one of them). Delete both and rerun their evaluation on the same data."
                )


def seed_table(per_case_all: pd.DataFrame, ks: Iterable[int]) -> pd.DataFrame:
    """Per method, scope, domain, metric and k: mean and std over seeds of the per-seed value."""
    ks = list(ks)
    summaries = [
        summarise(frame, ks).assign(method=method, seed=seed)
        for (method, seed), frame in per_case_all.groupby(["method", "seed"], sort=False)
    ]
    grouped = pd.concat(summaries, ignore_index=True).groupby(
        ["method", "scope", "domain", "metric", "k"], sort=False
    )
    table = grouped.agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n_seeds=("seed", "nunique"),
        # The test cases do not depend on the training seed, so every seed has the same count.
        n_cases=("n_cases", "max"),
    ).reset_index()
    return sort_rows(table, _methods(per_case_all))[SEED_COLUMNS]


def lift_table(
    per_case_all: pd.DataFrame,
    ks: Iterable[int],
    reference: str = "generic",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Lift of every method over `reference` per scope, domain, metric and k, with CI and p-value."""
    columns = metric_columns(ks)
    methods = _methods(per_case_all)
    _require_reference(methods, reference)
    _check_matched(per_case_all)
    others = [m for m in methods if m != reference]
    if not others:
        return pd.DataFrame(columns=LIFT_COLUMNS)

    # values[user, method, column]: per-user means over seeds, the reference at method index 0.
    per_user = per_case_all.groupby(["method", "user"], sort=True)[columns].mean()
    users = per_user.loc[reference].index
    values = np.stack(
        [per_user.loc[m].reindex(users).to_numpy(np.float64) for m in [reference, *others]], axis=1
    )
    cases = (
        per_case_all.loc[per_case_all["method"] == reference]
        .drop_duplicates("user")
        .set_index("user")
        .reindex(users)
    )
    members = group_members(cases)
    member_cases = members["case"].to_numpy()

    rng = np.random.default_rng(seed)
    tail = (1.0 - confidence) / 2.0
    blocks = []
    for (scope, domain), rows in members.groupby(["scope", "domain"], sort=False).indices.items():
        group = values[member_cases[rows]]
        means = group.mean(axis=0)
        ci_low, ci_high = _bootstrap_ci(group, n_bootstrap, (tail, 1.0 - tail), rng)
        blocks.append(
            pd.DataFrame(
                {
                    "method": np.repeat(others, len(columns)),
                    "scope": scope,
                    "domain": domain,
                    "column": np.tile(columns, len(others)),
                    "n_cases": len(rows),
                    "reference_value": np.tile(means[0], len(others)),
                    "value": means[1:].ravel(),
                    "lift": np.where(means[0] == 0, np.nan, _lift(means[1:], means[0])).ravel(),
                    "ci_low": ci_low.ravel(),
                    "ci_high": ci_high.ravel(),
                    "p_value": _wilcoxon(group[:, 1:] - group[:, :1]).ravel(),
                }
            )
        )
    table = pd.concat(blocks, ignore_index=True)
    table[["metric", "k"]] = table["column"].str.split("@", expand=True)
    table = table.astype({"k": np.int64, "n_cases": np.int64})
    table = table.assign(reference=reference, confidence=confidence)
    return sort_rows(table, others)[LIFT_COLUMNS]


def pooled_lifts(runs: pd.DataFrame, users: np.ndarray | None, k: int, reference: str, n_bootstrap: int,
                 confidence: float, seed: int) -> pd.DataFrame:
    """Lifts of every method over `reference` on the test cases of `users` (None: all) pooled into one
    group, per method and metric: the "overall" rows of `lift_table` on those cases only."""
    part = runs if users is None else runs.loc[runs["user"].isin(users)]
    empty = [[] for _ in range(len(part))]
    # One group only: the pooled cases, not every domain again.
    part = part.assign(domains=empty, power_domains=empty)
    table = lift_table(part, [k], reference, n_bootstrap, confidence, seed)
    return table.loc[table["scope"] == "overall"]


def _lift(value: np.ndarray, reference_value: np.ndarray) -> np.ndarray:
    """value / reference_value - 1: inf where only the reference is 0, NaN where both are."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return value / reference_value - 1.0


def _bootstrap_ci(
    group: np.ndarray, n_bootstrap: int, quantiles: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI of the lifts of group[:, 1:, :] over group[:, 0, :] when resampling users."""
    return percentile_interval(bootstrap_lifts(group, n_bootstrap, rng), quantiles)


def bootstrap_lifts(group: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """The lifts of group[:, 1:, ...] over group[:, 0, ...] in each of `n_bootstrap` resamples of the
    users (rows), the same resample for every method: shape (n_bootstrap, *group.shape[1:]) less one method."""
    n = group.shape[0]
    flat = group.reshape(n, -1)
    sums = np.empty((n_bootstrap, flat.shape[1]))
    block = max(1, BOOTSTRAP_BLOCK // n)
    for start in range(0, n_bootstrap, block):
        size = min(block, n_bootstrap - start)
        draws = rng.integers(0, n, size=(size, n))
        # counts[b, u]: how often resample b drew user u; counts @ values gives the resamples' sums.
        offsets = (np.arange(size)[:, None] * n + draws).ravel()
        counts = np.bincount(offsets, minlength=size * n).reshape(size, n)
        sums[start : start + size] = counts @ flat
    sums = sums.reshape(n_bootstrap, *group.shape[1:])
    # A resample where only the reference is 0 has an infinite lift, which keeps the CI unbounded.
    return _lift(sums[:, 1:], sums[:, :1])


def percentile_interval(lifts: np.ndarray, quantiles: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval over the resamples (axis 0) of `bootstrap_lifts`."""
    with warnings.catch_warnings():
        # A group whose reference is 0 in every resample has no defined lift at all.
        warnings.simplefilter("ignore", RuntimeWarning)
        # Order statistics, not interpolation (which turns inf into NaN), rounded outwards.
        low = np.nanquantile(lifts, quantiles[0], axis=0, method="lower")
        high = np.nanquantile(lifts, quantiles[1], axis=0, method="higher")
    return low, high


def _wilcoxon(differences: np.ndarray) -> np.ndarray:
    """Two-sided Wilcoxon signed-rank p-values per column of (cases, ...) paired differences."""
    flat = differences.reshape(differences.shape[0], -1)
    p_values = np.ones(flat.shape[1])  # no difference at all: nothing speaks against equality
    varied = flat.any(axis=0)
    if varied.any():
        p_values[varied] = sps.wilcoxon(flat[:, varied], axis=0).pvalue
    return p_values.reshape(differences.shape[1:])


@dataclass(frozen=True)
class TableFiles:
    """The files the aggregate step writes: every k as csv, the headline k as LaTeX."""

    metrics: Path
    metrics_tex: Path
    lift: Path
    lift_tex: Path

    @classmethod
    def in_folder(cls, folder: str | os.PathLike, split: str = "test") -> TableFiles:
        """The files of `split` in `folder`, named as in the results layout."""
        layout = Layout()
        names = {"metrics": "metrics_table", "metrics_tex": "metrics_tex", "lift": "lift_table", "lift_tex": "lift_tex"}
        return cls(**{field: Path(folder) / layout.path(split_artifact(name, split)).name
                      for field, name in names.items()})


def write_tables(seed_table: pd.DataFrame, lift_table: pd.DataFrame, outputs: TableFiles, dataset: str,
                 split: str = "test") -> None:
    """Write the seed and lift tables (everything) of `split` as csv and their headline k as LaTeX."""
    write_csv(seed_table, outputs.metrics)
    write_csv(lift_table, outputs.lift)
    write_text(_metrics_latex(seed_table, dataset, split), outputs.metrics_tex)
    write_text(_lift_latex(lift_table, dataset, split), outputs.lift_tex)


def read_tables(metrics_path: str | os.PathLike, lift_path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seed and lift tables of a dataset (csv) as written by `write_tables`."""
    frames = []
    for path in map(Path, (metrics_path, lift_path)):
        if not path.exists():
            raise InputError(f"{path}: file not found. Run the workflow's aggregate step first.")
        # Only empty fields are missing: a domain may well be called "NA" or "None".
        frames.append(
            pd.read_csv(
                path,
                keep_default_na=False,
                na_values=[""],
                dtype={"method": str, "reference": str, "scope": str, "domain": str},
            )
        )
    return frames[0], frames[1]


def _headline_k(table: pd.DataFrame) -> int:
    ks = sorted(table["k"].unique())
    return HEADLINE_K if HEADLINE_K in ks else int(ks[len(ks) // 2])


def _headline_rows(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """Rows of the overall and per-domain scopes at k, the overall one labelled "All"."""
    rows = table.loc[table["scope"].isin(["overall", "domain"]) & (table["k"] == k)]
    return rows.assign(domain=rows["domain"].where(rows["scope"] == "domain", "All"))


def _latex(frame: pd.DataFrame, caption: str, label: str) -> str:
    styler = frame.style.format_index(escape="latex", axis=0).format_index(escape="latex", axis=1)
    return styler.to_latex(
        hrules=True,
        caption=caption,
        label=label,
        position_float="centering",
        multicol_align="c",
        multirow_align="naive",
        column_format="l" * frame.index.nlevels + "r" * frame.shape[1],
    )


def _label(dataset: str, split: str, table: str) -> str:
    """The LaTeX label of a table: the test split's as before, another split's with its name."""
    return f"tab:{dataset}-{table}" if split == "test" else f"tab:{dataset}-{split}-{table}"


def _metrics_latex(table: pd.DataFrame, dataset: str, split: str) -> str:
    k = _headline_k(table)
    rows = _headline_rows(table, k)
    cells = [
        f"${mean:.4f}$" if math.isnan(std) else f"${mean:.4f} \\pm {std:.4f}$"
        for mean, std in zip(rows["mean"], rows["std"])
    ]
    frame = rows.assign(cell=cells, column=rows["metric"].map(METRIC_LABELS) + f"@{k}").pivot(
        index="domain", columns=["column", "method"], values="cell"
    )
    frame = frame.reindex(
        index=_domain_order(rows),
        columns=pd.MultiIndex.from_product([_metric_labels(k), list(pd.unique(rows["method"]))]),
    )
    frame.index.name = "Domain"
    frame.columns.names = [None, None]
    n_seeds = int(rows["n_seeds"].max())
    caption = (
        f"{dataset}, {SPLIT_LABELS[split]} split: Recall@{k} and NDCG@{k} per target domain, mean $\\pm$ "
        f"std over {n_seeds} seeds."
    )
    return _latex(frame, caption, _label(dataset, split, "metrics"))


def _lift_latex(table: pd.DataFrame, dataset: str, split: str) -> str:
    if table.empty:
        return f"% {dataset}, {SPLIT_LABELS[split]} split: no method besides the reference, so no lifts to report.\n"
    k = _headline_k(table)
    rows = _headline_rows(table, k)
    ci = f"{100 * rows['confidence'].iloc[0]:g}% CI"
    cells = {
        "Lift (%)": [f"${100 * v:+.1f}$" if np.isfinite(v) else "--" for v in rows["lift"]],
        ci: [
            f"$[{100 * lo:+.1f}, {100 * hi:+.1f}]$" if np.isfinite([lo, hi]).all() else "--"
            for lo, hi in zip(rows["ci_low"], rows["ci_high"])
        ],
        "p": [_format_p(p) for p in rows["p_value"]],
    }
    frame = (
        rows.assign(column=rows["metric"].map(METRIC_LABELS) + f"@{k}", **cells)
        .pivot(index=["domain", "method"], columns="column", values=list(cells))
        .swaplevel(axis=1)
    )
    frame = frame.reindex(
        index=pd.MultiIndex.from_product([_domain_order(rows), list(pd.unique(rows["method"]))]),
        columns=pd.MultiIndex.from_product([_metric_labels(k), list(cells)]),
    )
    frame.index.names = ["Domain", "Method"]
    frame.columns.names = [None, None]
    reference = rows["reference"].iloc[0]
    caption = (
        f"{dataset}, {SPLIT_LABELS[split]} split: relative change of Recall@{k} and NDCG@{k} over the "
        f"{reference} model per target domain (cases pooled over seeds), with a bootstrap confidence "
        "interval over users and the $p$-value of a paired Wilcoxon signed-rank test."
    )
    return _latex(frame, caption, _label(dataset, split, "lift"))


def _domain_order(rows: pd.DataFrame) -> list[str]:
    return ["All", *sorted(set(rows["domain"]) - {"All"})]


def _metric_labels(k: int) -> list[str]:
    return [f"{label}@{k}" for label in METRIC_LABELS.values()]


def _format_p(p: float) -> str:
    if not np.isfinite(p):
        return "--"
    return "$<0.001$" if p < 0.001 else f"${p:.3f}$"


def aggregate(
    dataset: str,
    per_case_paths: Mapping[tuple[str, int], str | os.PathLike],
    outputs: TableFiles,
    ks: Iterable[int],
    reference: str = "generic",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    split: str = "test",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The aggregate step: per-case results of every (method, seed) on `split` -> the tables `outputs`."""
    ks = list(ks)
    _require_reference((method for method, _ in per_case_paths), reference)
    runs = load_runs(per_case_paths, ks)
    metrics = seed_table(runs, ks)
    lifts = lift_table(runs, ks, reference, n_bootstrap, confidence, seed)
    write_tables(metrics, lifts, outputs, dataset, split)
    return metrics, lifts

"""Ablations: per weighting variant, the lift of NDCG@k over generic on the validation and on the test
split side by side, per domain group with its paired bootstrap CI; the fixed-weight sweep against the
dynamic weighting.

A group pools a split's cases by the domains of their target, as the selection rule of
docs/weighting.md does: *sparse*, a target in at least one sparse domain; *dense*, a target in no
sparse domain but in a dense one (the catch-all "other" is neither); *all*, every case. Each variant
is compared with generic of the same ablation seeds, case by case (`seqrec.stats.pooled_lifts`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seqrec.config import ablation_config, run_of
from seqrec.datasets.base import OTHER_DOMAIN
from seqrec.layout import split_artifact
from seqrec.report.figures import interval_errors
from seqrec.report.format import count, frame_latex, lift_cell, metric_label
from seqrec.report.run import REFERENCE, Run
from seqrec.report.tables import Table
from seqrec.stats import load_runs, pooled_lifts

METRIC = "ndcg"
SPLITS = {"valid": "validation", "test": "test"}  # shown in this order: the split choices are made on first
GROUPS = {"sparse": "sparse domains", "dense": "dense domains", "all": "all cases"}
COLUMNS = ["dataset", "variant", "split", "group", "n_cases", "reference_value", "value", "lift", "ci_low",
           "ci_high", "confidence", "p_value"]


def variants(run: Run) -> list[str]:
    return list(run.config["ablations"]["variants"])


def default_variant(run: Run) -> str | None:
    """The first dynamic variant whose weighting is the run's own (`sparsity` unchanged): the
    reference line of the fixed-weight sweep. None when no variant repeats it."""
    for name, variant in run.config["ablations"]["variants"].items():
        if variant["method"] == "dynamic" and ablation_config(run.config, name)["sparsity"] == run.config["sparsity"]:
            return name
    return None


def inputs(run: Run) -> list[Path]:
    """Every dataset's domains and the per-case results of generic and each variant, on both splits."""
    paths = [run.path("domains", dataset=d) for d in run.datasets]
    for split in SPLITS:
        paths += run.layout.expand(split_artifact("per_case", split), dataset=run.datasets,
                                   method=[run_of(run.config, m) for m in [REFERENCE, *variants(run)]],
                                   seed=run.config["ablations"]["seeds"])
    return list(dict.fromkeys(paths))


def group_users(cases: pd.DataFrame, domains: pd.DataFrame) -> dict[str, np.ndarray | None]:
    """The users of each group among `cases` (one row per user, with its target's `domains`); None: all."""
    sparse = set(domains.loc[domains["is_sparse"].astype(bool), "domain"])
    dense = set(domains["domain"]) - sparse - {OTHER_DOMAIN}
    targets = cases["domains"].map(lambda ds: set(map(str, ds)))
    in_sparse = targets.map(lambda ds: not sparse.isdisjoint(ds)).to_numpy(bool)
    in_dense = targets.map(lambda ds: not dense.isdisjoint(ds)).to_numpy(bool) & ~in_sparse
    users = cases["user"].to_numpy()
    return {"sparse": users[in_sparse], "dense": users[in_dense], "all": None}


def split_lifts(run: Run, dataset: str, split: str) -> pd.DataFrame:
    """The rows of one dataset and split: every variant's lift over generic in every non-empty group."""
    seeds = run.config["ablations"]["seeds"]
    artifact = split_artifact("per_case", split)
    paths = {(m, s): run.path(artifact, dataset=dataset, method=run_of(run.config, m), seed=s)
             for m in [REFERENCE, *variants(run)] for s in seeds}
    runs = load_runs(paths, [run.k])
    settings = run.config["aggregate"]
    cases = runs.loc[runs["method"] == REFERENCE].drop_duplicates("user")
    blocks = []
    for group, users in group_users(cases, run.domains(dataset)).items():
        if users is not None and not len(users):
            continue  # no case in the group: no row
        lifts = pooled_lifts(runs, users, run.k, REFERENCE, settings["n_bootstrap"], settings["confidence"],
                             settings["seed"])
        blocks.append(lifts.loc[lifts["metric"] == METRIC].assign(group=group))
    frame = pd.concat(blocks, ignore_index=True).rename(columns={"method": "variant"})
    return frame.assign(dataset=dataset, split=split)[COLUMNS]


def table(run: Run) -> pd.DataFrame:
    """Every dataset's rows of both splits (long: one row per dataset, variant, split and group)."""
    return pd.concat([split_lifts(run, d, split) for d in run.datasets for split in SPLITS], ignore_index=True)


def side_by_side(rows: pd.DataFrame, index: list[str], latex: bool = False, counts: bool = False) -> pd.DataFrame:
    """Lift cells [CI] with columns (group, split), validation beside test; `counts`: each split's
    number of cases in its header (the rows of one dataset)."""
    rows = rows.assign(cell=[lift_cell(r.lift, r.ci_low, r.ci_high, None, latex) for r in rows.itertuples()])
    header = {(g, s): SPLITS[s] for g in GROUPS for s in SPLITS}
    if counts:
        n = rows.drop_duplicates(["group", "split"]).set_index(["group", "split"])["n_cases"]
        header = {key: f"{label} ({count(n[key], latex)})" if key in n.index else label for key, label in header.items()}
    wide = rows.pivot(index=index, columns=["group", "split"], values="cell")
    order = [key for key in header if key in wide.columns]
    wide = wide.reindex(index=rows.drop_duplicates(index).set_index(index).index, columns=order)
    wide.columns = pd.MultiIndex.from_tuples([(GROUPS[g], header[(g, s)]) for g, s in order])
    return wide.fillna("--" if latex else "–")


def latex(run: Run, frame: pd.DataFrame) -> str:
    cells = side_by_side(frame, ["dataset", "variant"], latex=True)
    caption = (f"Lift of {metric_label(METRIC, run.k)} over generic per ablation variant, on the validation and "
               "the test split, per group of cases by their target's domains, with a paired bootstrap "
               f"{100 * run.config['aggregate']['confidence']:g}\\% confidence interval over users.")
    return frame_latex(cells, caption, "tab:ablations", escape=False)


def fixed_weight(variant: str) -> float | None:
    return float(variant.removeprefix("fixed_")) if variant.startswith("fixed_") else None


def _lift_and_error(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lifts in % and their CI as error bars (an unbounded end drawn as none)."""
    lift = 100 * rows["lift"].to_numpy(float)
    error = interval_errors(lift, 100 * rows["ci_low"], 100 * rows["ci_high"])
    return lift, np.where(np.isfinite(error), error, 0.0)


def bars(run: Run, rows: pd.DataFrame, dataset: str):
    """Per variant, the sparse and dense lifts with their CIs; validation and test side by side."""
    order = list(rows.loc[(rows["split"] == "valid") & (rows["group"] == "sparse")].sort_values("lift")["variant"])
    order += [v for v in pd.unique(rows["variant"]) if v not in order]
    y = np.arange(len(order))
    fig, axes = plt.subplots(1, len(SPLITS), figsize=(12, 0.45 * len(order) + 1.8), sharey=True, sharex=True,
                             layout="constrained")
    for ax, (split, label) in zip(axes, SPLITS.items()):
        for group, offset, color in (("sparse", 0.2, "tab:orange"), ("dense", -0.2, "tab:blue")):
            part = rows.loc[(rows["split"] == split) & (rows["group"] == group)].set_index("variant").reindex(order)
            lift, error = _lift_and_error(part)
            ax.barh(y + offset, lift, height=0.4, xerr=error, color=color, label=GROUPS[group],
                    error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_yticks(y, order)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{label} split")
        ax.set_xlabel(f"lift of {metric_label(METRIC, run.k)} over generic (%)")
        ax.grid(axis="x", color="0.85")
    axes[-1].legend(loc="lower right")
    fig.suptitle(f"{dataset}: ablation variants")
    return fig


def sweep(run: Run, rows: pd.DataFrame, dataset: str):
    """The fixed-weight sweep's sparse and dense lifts against the weight, the default dynamic variant
    as a dashed line; validation and test side by side. None without a fixed-weight variant."""
    fixed = rows.loc[rows["variant"].map(fixed_weight).notna() & rows["group"].isin(["sparse", "dense"])]
    if fixed.empty:
        return None
    fixed = fixed.assign(weight=fixed["variant"].map(fixed_weight)).sort_values("weight")
    reference_variant = default_variant(run)
    dynamic = rows.loc[rows["variant"] == reference_variant]
    fig, axes = plt.subplots(1, len(SPLITS), figsize=(12, 4.5), sharey=True, layout="constrained")
    for ax, (split, label) in zip(axes, SPLITS.items()):
        for group, color in (("sparse", "tab:orange"), ("dense", "tab:blue")):
            part = fixed.loc[(fixed["split"] == split) & (fixed["group"] == group)]
            lift, error = _lift_and_error(part)
            ax.errorbar(part["weight"], lift, yerr=error, fmt="o-", color=color, capsize=3,
                        label=f"fixed weight, {GROUPS[group]}")
            reference = dynamic.loc[(dynamic["split"] == split) & (dynamic["group"] == group), "lift"]
            if len(reference):
                ax.axhline(100 * reference.iloc[0], color=color, linestyle="--",
                           label=f"dynamic ({reference_variant}), {GROUPS[group]}")
        weights = sorted(fixed["weight"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(weights, [f"{w:g}" for w in weights])
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel("fixed weight on the target domains (PinnerFormerLite)")
        ax.set_title(f"{label} split")
        ax.grid(color="0.9")
    axes[0].set_ylabel(f"lift of {metric_label(METRIC, run.k)} over generic (%)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"{dataset}: fixed-weight sweep against dynamic weighting")
    return fig


TABLES = {"ablations": Table(inputs, table, latex)}

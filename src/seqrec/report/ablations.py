"""Ablations: per weighting variant, the overall lift over generic and the mean per-domain lift over
the sparse and over the dense domains; the fixed-weight sweep against the dynamic weighting."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seqrec.report.format import frame_latex, metric_label
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts

METRIC = "ndcg"
DEFAULT_DYNAMIC = "square_root"  # the variant with the main dynamic setting, a reference line of the sweep


def summary(run: Run, dataset: str) -> pd.DataFrame:
    lift = pd.read_csv(run.path("ablation_lift_table", dataset=dataset))
    domains = run.domains(dataset)
    rows = lift[(lift["metric"] == METRIC) & (lift["k"] == run.k)]
    sparse = set(domains.loc[domains["is_sparse"].astype(bool), "domain"])
    overall = rows[rows["scope"] == "overall"].set_index("method")
    per_domain = rows[rows["scope"] == "domain"].assign(sparse=lambda f: f["domain"].isin(sparse))
    means = per_domain.groupby(["method", "sparse"])["lift"].mean().unstack("sparse")
    table = pd.DataFrame({
        "overall lift": overall["lift"], "CI low": overall["ci_low"], "CI high": overall["ci_high"],
        "mean lift, sparse domains": means.get(True), "mean lift, dense domains": means.get(False),
    })
    return table.rename_axis("variant").reset_index().assign(dataset=dataset)


def table(run: Run) -> pd.DataFrame:
    frame = pd.concat([summary(run, d) for d in run.datasets], ignore_index=True)
    return frame[["dataset", *(c for c in frame.columns if c != "dataset")]]


def latex(run: Run, frame: pd.DataFrame) -> str:
    cells = frame.set_index(["dataset", "variant"]).map(lambda v: "--" if pd.isna(v) else f"{100 * v:+.1f}\\%")
    return frame_latex(cells, f"Lift of {metric_label(METRIC, run.k)} over generic per ablation variant.",
                       "tab:ablations", escape=False)


def fixed_weight(variant: str) -> float | None:
    return float(variant.removeprefix("fixed_")) if variant.startswith("fixed_") else None


def bars(run: Run, table: pd.DataFrame, dataset: str):
    table = table.set_index("variant")
    order = table.sort_values("mean lift, sparse domains").index
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(order) + 1.5), layout="constrained")
    ax.barh(y + 0.2, 100 * table.loc[order, "mean lift, sparse domains"], height=0.4, label="sparse domains", color="tab:orange")
    ax.barh(y - 0.2, 100 * table.loc[order, "mean lift, dense domains"], height=0.4, label="dense domains", color="tab:blue")
    ax.set_yticks(y, order)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"mean per-domain lift of {metric_label(METRIC, run.k)} over generic (%)")
    ax.set_title(f"{dataset}: ablation variants")
    ax.grid(axis="x", color="0.85")
    ax.legend(loc="lower right")
    return fig


def sweep(run: Run, table: pd.DataFrame, dataset: str):
    table = table.set_index("variant")
    fixed = table[[fixed_weight(v) is not None for v in table.index]].copy()
    if fixed.empty:
        return None
    fixed["weight"] = [fixed_weight(v) for v in fixed.index]
    fixed = fixed.sort_values("weight")
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    for column, color in (("mean lift, sparse domains", "tab:orange"), ("mean lift, dense domains", "tab:blue")):
        ax.plot(fixed["weight"], 100 * fixed[column], "o-", color=color, label=f"fixed weight, {column.split(', ')[1]}")
        if DEFAULT_DYNAMIC in table.index:
            ax.axhline(100 * table.loc[DEFAULT_DYNAMIC, column], color=color, linestyle="--",
                       label=f"dynamic (default), {column.split(', ')[1]}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(fixed["weight"], [f"{w:g}" for w in fixed["weight"]])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("fixed weight on the target domains (PinnerFormerLite)")
    ax.set_ylabel(f"mean per-domain lift of {metric_label(METRIC, run.k)} (%)")
    ax.set_title(f"{dataset}: fixed-weight sweep against dynamic weighting")
    ax.grid(color="0.9")
    ax.legend(fontsize=8)
    return fig


TABLES = {"ablations": Table(artifacts("ablation_lift_table", "domains"), table, latex)}

"""The datasets after preprocessing (size, density, filters, raw lines) and the long tail of their
item domains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from seqrec.io import read_json
from seqrec.report import figures
from seqrec.report.format import frame_latex, share_label
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts

COLUMNS = {  # csv column -> (group, column) of the displayed and LaTeX table
    "users": ("Users", ""), "items": ("Items", ""), "interactions": ("Interactions", ""),
    "density": ("Density", ""), "domains": ("Domains", "all"), "sparse_domains": ("Domains", "sparse"),
    "k_core": ("k-core filter", "k"), "users_removed": ("k-core filter", "users removed"),
    "items_removed": ("k-core filter", "items removed"),
    "interactions_removed": ("k-core filter", "interactions removed"),
    "lines_read": ("Lines read", "total"), "lines_read_per_file": ("Lines read", "per file"),
    "malformed_lines": ("Malformed lines", "total"), "malformed_lines_per_file": ("Malformed lines", "per file"),
}
DOMAIN_COLUMNS = {
    "share": "share", "interactions": "interactions", "items": "items", "users": "users",
    "user_ratio": "user ratio", "entropy": "entropy (nats)", "weight_generic": "w generic",
    "weight_fixed": "w fixed", "weight_dynamic": "w dynamic",
}


def files_cell(counts: dict, thousands: str = "") -> str:
    """Per-file counts as "file: n; file: n"; empty when the dataset has no raw files."""
    return "; ".join(f"{name}: {n:{thousands}}" for name, n in sorted(counts.items()))


def infos(run: Run) -> dict:
    return {d: read_json(run.path("dataset_summary", dataset=d)) for d in run.datasets}


def domain_tables(run: Run) -> dict:
    return {d: run.domains(d).sort_values("share", ascending=False, ignore_index=True) for d in run.datasets}


def table(run: Run) -> pd.DataFrame:
    """One row per dataset with plain values."""
    rows = []
    for dataset, info in infos(run).items():
        filters = info["filters"]
        rows.append({
            "dataset": dataset, "users": info["n_users"], "items": info["n_items"],
            "interactions": info["n_interactions"], "density": info["density"], "domains": info["n_domains"],
            "sparse_domains": int(run.domains(dataset)["is_sparse"].sum()), "k_core": filters["k_core"],
            "users_removed": filters["users_removed"], "items_removed": filters["items_removed"],
            "interactions_removed": filters["interactions_removed"],
            "lines_read": sum(info["lines_read"].values()) if info["lines_read"] else pd.NA,
            "malformed_lines": sum(info["malformed_lines"].values()) if info["malformed_lines"] else pd.NA,
            "lines_read_per_file": files_cell(info["lines_read"]),
            "malformed_lines_per_file": files_cell(info["malformed_lines"]),
        })
    return pd.DataFrame(rows).astype({"lines_read": "Int64", "malformed_lines": "Int64"})


def formatted(run: Run, stats: pd.DataFrame) -> pd.DataFrame:
    """The statistics as display strings, dataset as index and two-level columns."""
    found = infos(run)
    frame = stats.set_index("dataset")[list(COLUMNS)].astype(object)
    for column in frame.columns:
        if column == "density":
            frame[column] = [f"{100 * v:.2f}%" for v in stats["density"]]
        elif column.endswith("_per_file"):
            key = column.removesuffix("_per_file")
            frame[column] = [files_cell(found[d][key], ",") or "–" for d in stats["dataset"]]
        else:
            frame[column] = ["–" if pd.isna(v) else f"{int(v):,}" for v in stats[column]]
    frame.columns = pd.MultiIndex.from_tuples(COLUMNS.values())
    frame.index.name = "Dataset"
    return frame


def latex(run: Run, stats: pd.DataFrame) -> str:
    frame = formatted(run, stats).replace("–", "--")  # the escaped cells keep a LaTeX en dash
    caption = ("Datasets after preprocessing. Density: interactions / (users $\\times$ items); "
               f"sparse domains: share of the training interactions below {run.sparse_share_threshold:g}; "
               "the $k$-core filter's removals; raw lines read and malformed lines skipped.")
    return frame_latex(frame, caption, "tab:datasets")


def long_tail_figure(run: Run, domains: pd.DataFrame, dataset: str):
    """Bar chart of the domain shares, densest first, log y axis."""
    shown = domains.loc[domains["share"] > 0]
    n = len(shown)
    sparse = shown["is_sparse"].astype(bool).to_numpy()
    target = shown["fixed_target"].astype(bool).to_numpy()
    fig, ax = plt.subplots(figsize=(min(max(7.0, 0.34 * n + 4.0), 20.0), 5.0), layout="constrained")
    x = np.arange(n)
    bars = ax.bar(x, shown["share"], width=0.75, color=np.where(sparse, figures.SPARSE_COLOR, figures.DENSE_COLOR),
                  edgecolor="white", linewidth=0.5)
    for bar, is_target in zip(bars, target):
        if is_target:
            bar.set_hatch("///")
            bar.set_edgecolor("0.25")
    ax.set_yscale("log")
    low, high = shown["share"].min(), shown["share"].max()
    ax.set_ylim(low / 2.5, high * (6 if n <= 40 else 2))
    ax.set_xlim(-0.6, n - 0.4)
    if n <= 40:  # the value of each bar above it; with more bars they would overlap
        for xi, share in zip(x, shown["share"]):
            ax.annotate(share_label(share), (xi, share), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", rotation=90, fontsize=7.5,
                        bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none", alpha=0.85))
    ax.set_xticks(x, [figures.escape_mathtext(d) for d in shown["domain"]], rotation=45, ha="right",
                  rotation_mode="anchor", fontsize=8.5 if n <= 40 else 6.5)
    for tick, is_sparse in zip(ax.get_xticklabels(), sparse):
        if is_sparse:
            tick.set_color(figures.SPARSE_TEXT)
    handles = [Patch(color=figures.DENSE_COLOR, label="dense domain"),
               Patch(color=figures.SPARSE_COLOR, label="sparse domain")]
    if target.any():
        handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="///", label="fixed-weight target"))
    threshold = run.sparse_share_threshold
    ax.axhline(threshold, color="0.2", linestyle="--", linewidth=1)
    handles.append(Line2D([], [], color="0.2", linestyle="--", linewidth=1,
                          label=f"sparse threshold ({share_label(threshold)})"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
    ax.grid(axis="y", color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_ylabel("share of training interactions (log scale)")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False)
    ax.set_title(f"{dataset}: domain share of the training interactions\n"
                 f"{len(domains)} domains, {int(domains['is_sparse'].sum())} sparse", fontsize=11)
    return fig


def share_rank_figure(run: Run, tables: dict):
    """Share against normalised rank, one curve per dataset, log y axis."""
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"] * 9
    for (dataset, domains), color in zip(tables.items(), colors):
        shown = domains.loc[domains["share"] > 0]
        n = len(shown)
        rank = np.arange(n) / (n - 1) if n > 1 else np.zeros(n)
        sparse = shown["is_sparse"].astype(bool).to_numpy()
        ax.plot(rank, shown["share"], "-", color=color, linewidth=1.5,
                label=f"{dataset} ({len(domains)} domains, {int(domains['is_sparse'].sum())} sparse)")
        ax.plot(rank[~sparse], shown["share"][~sparse], "o", ms=4.5, color=color)
        ax.plot(rank[sparse], shown["share"][sparse], "o", ms=5.5, mfc="white", mew=1.3, color=color)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="o", ms=5.5, mfc="white", mew=1.3, color="0.3", linestyle="",
                          label="sparse domain"))
    ax.axhline(run.sparse_share_threshold, color="0.2", linestyle="--", linewidth=1)
    handles.append(Line2D([], [], color="0.2", linestyle="--", linewidth=1,
                          label=f"sparse threshold ({share_label(run.sparse_share_threshold)})"))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("domain rank by share, scaled to [0, 1] (0: densest domain, 1: sparsest)")
    ax.set_ylabel("share of training interactions (log scale)")
    ax.grid(color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(handles=handles, loc="lower left", fontsize=8.5, framealpha=0.95)
    ax.set_title("Domain long tail of every dataset")
    return fig


def domain_styler(domains: pd.DataFrame, dataset: str):
    """The per-domain table, densest first, sparse domains shaded."""
    table = domains.set_index("domain")[list(DOMAIN_COLUMNS)].rename(columns=DOMAIN_COLUMNS)
    table["entropy (nats)"] += 0.0  # -0.0 (a one-item domain) shows as 0.00
    shaded = domains.set_index("domain")["is_sparse"].astype(bool)
    return (
        table.style.format({"share": share_label, "user ratio": "{:.1%}", "entropy (nats)": "{:.2f}",
                            "interactions": "{:,}", "items": "{:,}", "users": "{:,}",
                            "w generic": "{:.2f}", "w fixed": "{:.2f}", "w dynamic": "{:.2f}"})
        .apply(lambda row: ["background-color: #fbe0cf" if shaded[row.name] else ""] * len(row), axis=1)
        .set_caption(f"{dataset}: item domains, densest first (sparse domains shaded orange)")
    )


TABLES = {"datasets": Table(artifacts("dataset_summary", "domains"), table, latex)}

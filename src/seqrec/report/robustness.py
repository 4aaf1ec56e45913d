"""Robustness: are the dense domains maintained? Per dataset, method and metric: the mean lift over
the sparse and over the dense domains, the worst dense domain and the dense domains significantly
worse (Holm across the domains). The per-domain lifts are those of the main results table."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from seqrec.report import figures, main_results
from seqrec.report.format import html_table, latex_table, lift_cell, metric_label, pct, share_label, tex
from seqrec.report.groups import METRICS
from seqrec.report.run import Run
from seqrec.report.tables import Table



def domain_lifts(main: pd.DataFrame) -> pd.DataFrame:
    """The per-domain rows of the main results table that have a lift (the methods but the reference)."""
    return main.loc[(main["group"] != "overall") & main["reference"].notna()].reset_index(drop=True)


def summary_row(run: Run, rows: pd.DataFrame, overall: pd.DataFrame) -> dict:
    """Sparse vs dense mean lift, the worst dense domain and the dense domains significantly worse."""
    sparse, dense = rows.loc[rows["group"] == "sparse"], rows.loc[rows["group"] == "dense"]
    finite_sparse = sparse["lift"][np.isfinite(sparse["lift"])]
    finite_dense = dense.loc[np.isfinite(dense["lift"])]
    worse = dense.loc[dense["significant"] & (dense["lift"] < 0)].sort_values("lift")
    worst = finite_dense.sort_values(["lift", "share"]).iloc[0] if len(finite_dense) else None
    all_cases = overall.iloc[0] if len(overall) else None
    first = rows.iloc[0]
    return {
        "dataset": first["dataset"], "method": first["method"], "reference": first["reference"],
        "metric": first["metric"], "k": run.k,
        "n_sparse": len(sparse), "n_sparse_finite": len(finite_sparse),
        "mean_lift_sparse": finite_sparse.mean() if len(finite_sparse) else np.nan,
        "n_dense": len(dense), "n_dense_finite": len(finite_dense),
        "mean_lift_dense": finite_dense["lift"].mean() if len(finite_dense) else np.nan,
        "overall_lift": np.nan if all_cases is None else all_cases["lift"],
        "overall_ci_low": np.nan if all_cases is None else all_cases["ci_low"],
        "overall_ci_high": np.nan if all_cases is None else all_cases["ci_high"],
        "worst_dense_domain": None if worst is None else worst["domain"],
        "worst_dense_share": np.nan if worst is None else worst["share"],
        "worst_dense_n_cases": pd.NA if worst is None else int(worst["n_cases"]),
        "worst_dense_lift": np.nan if worst is None else worst["lift"],
        "worst_dense_ci_low": np.nan if worst is None else worst["ci_low"],
        "worst_dense_ci_high": np.nan if worst is None else worst["ci_high"],
        "worst_dense_p_holm": np.nan if worst is None else worst["p_holm"],
        "n_dense_worse": len(worse),
        "dense_worse": "; ".join(worse["domain"]),
        "alpha": run.alpha,
        "verdict": "no dense domains" if dense.empty else ("worse" if len(worse) else "maintained"),
    }


def table(run: Run) -> pd.DataFrame:
    main = main_results.table(run)
    points, overall = domain_lifts(main), main.loc[main["group"] == "overall"]
    rows = [summary_row(run, group, overall.loc[(overall["dataset"] == d) & (overall["method"] == m)
                                                & (overall["metric"] == metric)])
            for (d, m, metric), group in points.groupby(["dataset", "method", "metric"], sort=False)]
    frame = pd.DataFrame(rows)
    if frame.empty:  # no lifts in any dataset: only the reference ran
        return pd.DataFrame(columns=["dataset", "method", "reference", "metric", "k", "verdict"])
    order = {"dataset": run.datasets.index, "method": run.method_order(frame["method"]).index,
             "metric": list(METRICS).index}
    frame = frame.sort_values(["dataset", "method", "metric"], key=lambda c: c.map(order[c.name]), ignore_index=True)
    return frame.astype({"worst_dense_n_cases": "Int64"})


def mean_text(n: int, n_finite: int, value: float, latex: bool = False) -> str:
    if n == 0:
        return "--" if latex else "–"
    missing = f", {n - n_finite} without finite lift" if n_finite < n else ""
    value = ("--" if latex else "–") if np.isnan(value) else (f"${pct(value, True)}$\\%" if latex else pct(value) + "%")
    return f"{value} ({n}{missing})"


def display_frame(run: Run, summary: pd.DataFrame):
    frame = pd.DataFrame({
        "dataset": summary["dataset"], "method": summary["method"],
        "metric": summary["metric"].map(lambda m: metric_label(m, run.k)),
        "sparse: mean lift (domains)": [mean_text(*r) for r in summary[["n_sparse", "n_sparse_finite", "mean_lift_sparse"]].itertuples(index=False)],
        "dense: mean lift (domains)": [mean_text(*r) for r in summary[["n_dense", "n_dense_finite", "mean_lift_dense"]].itertuples(index=False)],
        "all test cases: lift [CI]": [lift_cell(l, lo, hi, False) for l, lo, hi in summary[["overall_lift", "overall_ci_low", "overall_ci_high"]].itertuples(index=False)],
        "worst dense domain": ["–" if pd.isna(d) else f"{d} ({share_label(s)}, {n:,} cases)" for d, s, n in summary[["worst_dense_domain", "worst_dense_share", "worst_dense_n_cases"]].itertuples(index=False)],
        "its lift [CI]": [lift_cell(l, lo, hi, False) for l, lo, hi in summary[["worst_dense_lift", "worst_dense_ci_low", "worst_dense_ci_high"]].itertuples(index=False)],
        "dense significantly worse": [w if isinstance(w, str) and w else "none" for w in summary["dense_worse"]],
        "verdict": summary["verdict"],
    }).set_index(["dataset", "method", "metric"])
    return html_table(frame.style
                      .map(lambda v: "color: #b2182b; font-weight: bold" if v == "worse" else
                           ("color: #2166ac" if v == "maintained" else ""), subset=["verdict"])
                      .set_caption(f"Lift over {summary['reference'].iloc[0]} at k={run.k}: sparse vs dense "
                                   f"domains (Holm-corrected, α = {run.alpha:g})"))


def latex(run: Run, summary: pd.DataFrame) -> str:
    blocks = []
    for dataset, rows in summary.groupby("dataset", sort=False):
        body = []
        for r in rows.itertuples(index=False):
            worst = "--" if pd.isna(r.worst_dense_domain) else tex(r.worst_dense_domain)
            worse = r.dense_worse if isinstance(r.dense_worse, str) else ""
            body.append([
                tex(r.method), tex(metric_label(r.metric, run.k)),
                mean_text(r.n_sparse, r.n_sparse_finite, r.mean_lift_sparse, True),
                mean_text(r.n_dense, r.n_dense_finite, r.mean_lift_dense, True),
                lift_cell(r.overall_lift, r.overall_ci_low, r.overall_ci_high, False, latex=True),
                worst,
                lift_cell(r.worst_dense_lift, r.worst_dense_ci_low, r.worst_dense_ci_high, False, latex=True),
                tex(worse.replace("; ", ", ")) if worse else "none",
            ])
        blocks.append((dataset, body))
    reference = summary["reference"].iloc[0] if len(summary) else "generic"
    confidence = 100 * run.config["aggregate"]["confidence"]
    caption = (f"Lift over {tex(reference)} (\\%) at $k={run.k}$ on sparse and dense domains: plain mean over the "
               "domains (number of domains in brackets), the lift on all test cases and on the worst dense domain "
               f"with their {confidence:g}\\% bootstrap confidence intervals, and the dense domains whose lift is "
               "negative and significant (paired Wilcoxon test, Holm's correction across the domains, "
               f"$\\alpha={run.alpha:g}$).")
    return latex_table(["Method", "Metric"],
                       [("Mean lift", ["Sparse", "Dense"]), ("", ["All test cases"]),
                        ("Worst dense domain", ["Domain", "Lift"]), ("", ["Significantly worse"])],
                       blocks, caption, "tab:robustness")


def lift_share_figure(run: Run, points: pd.DataFrame):
    """Lift against domain share, all datasets: colour = compared method (the floor left out), marker =
    dataset, one panel per metric; None if no point has a positive share and a finite lift."""
    lifted = figures.compared(run.method_order(points["method"]))
    plotted = points.loc[points["method"].isin(lifted) & (points["share"] > 0) & np.isfinite(points["lift"])]
    if plotted.empty:
        return None
    reference = plotted["reference"].iloc[0]
    colors = figures.method_colors(lifted)
    markers = figures.dataset_markers([d for d in run.datasets if d in set(plotted["dataset"])])
    threshold = run.sparse_share_threshold
    shares = plotted["share"]
    xlim = (shares.min() / 2, min(shares.max() * 2, 2.0))
    # The y range holds every point and the intervals, an upper bound at most a quarter of the points'
    # range above the highest point (intervals reaching further are cut at the edge).
    y = 100 * plotted["lift"]
    bounds = 100 * plotted[["ci_low", "ci_high"]].to_numpy(dtype=float)
    bounds = bounds[np.isfinite(bounds)]
    low, high = min(y.min(), bounds.min(initial=0.0)), y.max()
    span = max(high - low, 10.0)
    high = min(max(high, bounds.max(initial=high)), high + 0.25 * span)
    ylim = (max(low - 0.05 * span, -105.0), high + 0.08 * span)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True, layout="constrained")
    offsets = dict(zip(lifted, np.linspace(-0.025, 0.025, len(lifted)) if len(lifted) > 1 else [0.0]))
    for ax, metric in zip(axes, METRICS):
        ax.set_xscale("log")
        ax.axvspan(xlim[0], threshold, color="0.92", zorder=0)
        ax.axvline(threshold, color="0.35", linestyle="--", linewidth=1)
        ax.axhline(0, color="black", linewidth=0.8)
        for (dataset, method), r in plotted.loc[plotted["metric"] == metric].groupby(["dataset", "method"], sort=False):
            x = r["share"] * 10 ** offsets[method]
            yv, lo, hi = 100 * r["lift"], 100 * r["ci_low"], 100 * r["ci_high"]
            bounded = (np.isfinite(lo) & np.isfinite(hi)).to_numpy()
            errors = figures.interval_errors(yv[bounded], lo[bounded], hi[bounded])
            ax.errorbar(x[bounded], yv[bounded], yerr=errors, fmt="none",
                        ecolor=colors[method], elinewidth=0.9, capsize=2, alpha=0.45)
            ax.plot(x[bounded], yv[bounded], markers[dataset], color=colors[method], ms=5.5, mec="white", mew=0.5)
            ax.plot(x[~bounded], yv[~bounded], markers[dataset], color=colors[method], ms=5.5, mfc="white", mew=1.2)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
        ax.grid(color="0.88", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel("domain share of the training interactions (log scale)")
        ax.set_title(metric_label(metric, run.k), fontsize=11)
    axes[0].set_ylabel(f"lift over {reference} (%)")
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[m], label=m) for m in lifted]
    handles += [Line2D([], [], marker=mark, linestyle="", color="0.35", label=d) for d, mark in markers.items()]
    handles += [Patch(color="0.92", label=f"sparse (share < {share_label(threshold)})"),
                Line2D([], [], marker="o", linestyle="", color="0.35", mfc="none", label="unbounded CI")]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), fontsize=9, frameon=False)
    fig.suptitle(f"Lift over {reference} against domain share, all datasets "
                 f"(k={run.k}, {100 * run.config['aggregate']['confidence']:g}% bootstrap CI; shape: dataset, "
                 "colour: method)", fontsize=11)
    return fig


TABLES = {"robustness": Table(main_results.TABLES["main_results"].inputs, table, latex)}

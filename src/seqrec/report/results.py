"""The per-domain view of the aggregated tables: one metric of every method per target domain, the
lifts over the reference with their intervals, and the lift against the domain share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from seqrec.report import figures
from seqrec.report.format import html_table, interval, mean_cell, metric_label
from seqrec.report.run import Run
from seqrec.report.sparsity import spread_labels

METRIC = "ndcg"  # the metric of this view (main_results shows both)


def select(run: Run, table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the metric at the run's k for the overall and per-domain scopes, the overall one named "(all)"."""
    rows = table[(table["metric"] == METRIC) & (table["k"] == run.k) & table["scope"].isin(["overall", "domain"])]
    return rows.assign(domain=rows["domain"].where(rows["scope"] == "domain", "(all)"))


def lift_cell(row) -> str:
    if not np.isfinite(row.lift):
        return "–"
    ci = interval(row.ci_low, row.ci_high)  # "[−5.0, +∞)": an unbounded end is kept
    p = "p<0.001" if row.p_value < 0.001 else f"p={row.p_value:.3f}"
    return f"{100 * row.lift:+.1f}%{' ' + ci if ci else ''}, {p}".replace("-", "−")


def domain_table(run: Run, dataset: str):
    """One row per domain, densest first: share, test cases, mean ± std per method, lift per method."""
    metrics, lifts = run.aggregated(dataset)
    domains = run.domains(dataset)
    rows = select(run, metrics)
    methods = run.method_order(rows["method"])
    means = rows.assign(cell=[mean_cell(m, s) for m, s in zip(rows["mean"], rows["std"])])
    table = pd.concat([rows.groupby("domain")["n_cases"].max().rename("test cases"),
                       means.pivot(index="domain", columns="method", values="cell")[methods]], axis=1)
    if not lifts.empty:
        lift_rows = select(run, lifts)
        lift_rows = lift_rows.assign(cell=[lift_cell(r) for r in lift_rows.itertuples()])
        cells = lift_rows.pivot(index="domain", columns="method", values="cell")
        reference = lift_rows["reference"].iloc[0]
        table = table.join(cells[run.method_order(lift_rows["method"])].add_suffix(f" vs {reference}"))
    info = domains.set_index("domain")[["share", "is_sparse"]]
    info.loc["(all)"] = [1.0, False]
    order = ["(all)", *domains.sort_values("share", ascending=False)["domain"]]
    table = info.join(table, how="left").reindex(order)
    table["test cases"] = table["test cases"].fillna(0).astype(int)
    shaded = table.pop("is_sparse").astype(bool)
    table.index.name = "domain"
    return html_table(
        table.style.format({"share": "{:.2%}"}, na_rep="–")
        .apply(lambda row: ["background-color: #e6e6e6" if shaded[row.name] else ""] * len(row), axis=1)
        .set_caption(f"{metric_label(METRIC, run.k)} per target domain")
    )


def lift_figure(run: Run, dataset: str):
    """Lift of each compared method (the floor left out) over the reference against the domain share,
    log x axis; None if no compared method has a lift."""
    _, lifts = run.aggregated(dataset)
    domains, label = run.domains(dataset), metric_label(METRIC, run.k)
    shares = domains.loc[domains["share"] > 0].sort_values("share")  # a log axis has no room for 0
    rows = select(run, lifts).merge(shares[["domain", "share", "is_sparse"]], on="domain")
    methods = figures.compared(run.method_order(rows["method"]))
    if not methods:
        return None
    reference = rows["reference"].iloc[0]
    colors = figures.method_colors(methods)
    xlim = (shares["share"].min() / 2, shares["share"].max() * 2)
    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    ax.set_xscale("log")
    ax.set_xlim(*xlim)
    handles = []
    if shares["is_sparse"].any():
        ax.axvspan(xlim[0], run.sparse_share_threshold, color="0.9", zorder=0)
        handles.append(Patch(color="0.9", label="sparse domains"))
    # Series are shifted a little sideways (in log space) so that their error bars stay apart.
    offsets = np.linspace(-0.02, 0.02, len(methods)) if len(methods) > 1 else [0.0]
    for method, offset in zip(methods, offsets):
        r = rows[rows["method"] == method].sort_values("share")
        x, y, low, high = r["share"] * 10**offset, 100 * r["lift"], 100 * r["ci_low"], 100 * r["ci_high"]
        bounded = np.isfinite(low) & np.isfinite(high)
        errors = figures.interval_errors(y[bounded], low[bounded], high[bounded])
        handles.append(ax.errorbar(x[bounded], y[bounded], yerr=errors,
                                   fmt="o", ms=5, capsize=3, elinewidth=1, color=colors[method], label=method))
        unbounded = ~bounded & np.isfinite(y)
        ax.plot(x[unbounded], y[unbounded], "o", ms=5, mfc="none", color=colors[method])
    ax.axhline(0, color="black", linewidth=0.8)
    # Domain names above the plot, spread apart where shares are close, with a leader line each.
    logs = np.log10(shares["share"].to_numpy())
    span = np.log10(xlim[1]) - np.log10(xlim[0])
    for (_, d), x in zip(shares.iterrows(), 10 ** spread_labels(logs, gap=span / 60)):
        ax.annotate(figures.escape_mathtext(d["domain"]), xy=(d["share"], 1.0), xycoords=("data", "axes fraction"),
                    xytext=(x, 1.04), textcoords=("data", "axes fraction"), rotation=90,
                    ha="center", va="bottom", fontsize=8, fontweight="bold" if d["is_sparse"] else "normal",
                    arrowprops=dict(arrowstyle="-", color="0.6", linewidth=0.6), annotation_clip=False)
    ax.set_xlabel("domain share of the training interactions (log scale)")
    ax.set_ylabel(f"lift of {label} over {reference} (%)")
    ax.grid(axis="y", color="0.85", linewidth=0.6)
    ax.legend(handles=handles, loc="best", fontsize=9)
    fig.suptitle(f"{dataset}: lift of {label} over {reference} by domain share "
                 f"({100 * rows['confidence'].iloc[0]:g}% bootstrap CI)")
    return fig

"""The main results table: Recall and NDCG per target domain (sparse block, dense block, all test
cases) for every method, with each method's lift over generic, its CI and Holm-corrected test."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seqrec.report import figures
from seqrec.report.format import html_table, metric_label, pct, share_label, tex, latex_table
from seqrec.report.groups import (GROUP_LABELS, LIFT_COLUMNS, METRICS, mark_best, method_cells, shown_and_lifted,
                                  sort_groups, tested, with_groups)
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts



def dataset_table(run: Run, dataset: str) -> pd.DataFrame:
    """Tidy rows (group, domain, metric, method) of the overall and per-domain scopes, with lift,
    CI, raw and Holm-adjusted p-value, significance and whether the mean is the best of its row."""
    metrics, lifts = run.aggregated(dataset)
    k = run.k
    shown = run.method_order(m for m in pd.unique(metrics["method"]) if m in run.methods)
    metrics = metrics.loc[(metrics["k"] == k) & metrics["method"].isin(shown)]
    lifts = lifts.loc[(lifts["k"] == k) & lifts["method"].isin(shown)]
    rows = metrics.loc[metrics["scope"].isin(["overall", "domain"]),
                       ["method", "scope", "domain", "metric", "k", "mean", "std", "n_seeds", "n_cases"]]
    keys = ["method", "scope", "domain", "metric"]
    if lifts.empty:
        rows = rows.assign(**{c: np.nan for c in LIFT_COLUMNS})
    else:
        # One family per method, metric and scope: the domains of the dataset (overall: one test).
        family = tested(lifts.loc[lifts["scope"].isin(["overall", "domain"])], ["method", "metric", "scope"], run.alpha)
        rows = rows.merge(family[keys + LIFT_COLUMNS], on=keys, how="left")
    rows["significant"] = rows["significant"].eq(True)
    rows["best"] = mark_best(rows, ["scope", "domain", "metric"])
    rows = sort_groups(with_groups(rows, run.domains(dataset)), shown)
    columns = ["group", "domain", "share", "n_cases", "metric", "k", "method", "mean", "std", "n_seeds", "best",
               *LIFT_COLUMNS]
    return rows[columns].assign(dataset=dataset)[["dataset", *columns]]


def table(run: Run) -> pd.DataFrame:
    return pd.concat([dataset_table(run, d) for d in run.datasets], ignore_index=True)


def layout(table: pd.DataFrame, k: int, latex: bool):
    """Column groups [(metric label, [columns])] and blocks [(group, [(domain, share, cases, cells, bold)])]."""
    shown, lifted, reference = shown_and_lifted(table)
    groups = [(metric_label(m, k), [*shown, *(f"{x} vs {reference}" for x in lifted)]) for m in METRICS]
    blocks = []
    for group, in_group in table.groupby("group", sort=False):
        rows = []
        for domain, cases in in_group.groupby("domain", sort=False):
            cells, bold = method_cells(cases, shown, lifted, latex)
            name = "All test cases" if group == "overall" else domain
            rows.append((name, cases["share"].iloc[0], int(cases["n_cases"].max()), cells, bold))
        blocks.append((group, rows))
    return groups, blocks


def html(run: Run, table: pd.DataFrame):
    """One dataset's rows as a styled table: sparse rows shaded, the best mean of each row bold."""
    dataset, k = table["dataset"].iloc[0], run.k
    groups, blocks = layout(table, k, latex=False)
    columns = pd.MultiIndex.from_tuples([("", "share"), ("", "test cases"),
                                         *((title, c) for title, cs in groups for c in cs)])
    index, cells, bold = [], [], []
    for group, rows in blocks:
        for name, share, cases, row, row_bold in rows:
            index.append(("", name) if group == "overall" else (GROUP_LABELS[group], name))
            cells.append([share_label(share), f"{cases:,}", *row])
            bold.append([False, False, *row_bold])
    frame = pd.DataFrame(cells, index=pd.MultiIndex.from_tuples(index, names=["", "domain"]), columns=columns)
    css = pd.DataFrame(
        [["; ".join(s for s in ("background-color: #fbe0cf" if g == GROUP_LABELS["sparse"] else "",
                                 "font-weight: bold" if b else "") if s) for b in row_bold]
         for (g, _), row_bold in zip(index, bold)],
        index=frame.index, columns=frame.columns)
    return html_table(frame.style.apply(lambda _: css, axis=None)
                      .set_caption(f"{dataset}: {metric_label('recall', k)} and {metric_label('ndcg', k)} per "
                                   f"target domain (* significant after Holm at α = {run.alpha:g})"))


def dataset_latex(run: Run, table: pd.DataFrame) -> str:
    dataset, k, alpha = table["dataset"].iloc[0], run.k, run.alpha
    _, lifted, reference = shown_and_lifted(table)
    groups, blocks = layout(table, k, latex=True)
    body = [(None if group == "overall" else GROUP_LABELS[group],
             [[tex(name), tex(share_label(share)), f"{cases:,}".replace(",", "{,}"), *row]
              for name, share, cases, row, _ in rows]) for group, rows in blocks]
    n_seeds = int(table["n_seeds"].max())
    confidence = table["confidence"].dropna()
    caption = (f"{tex(dataset)}: {metric_label('recall', k)} and {metric_label('ndcg', k)} per target domain, mean "
               f"$\\pm$ std over {n_seeds} seed{'s' if n_seeds != 1 else ''} (best of each row in bold, none where all tie). "
               f"Sparse domains: share of the training interactions below {100 * run.sparse_share_threshold:g}\\%.")
    if lifted:
        caption += (f" Lift: relative change over {tex(reference)} in \\%, with its "
                    f"{100 * confidence.iloc[0]:g}\\% bootstrap confidence interval over test users; "
                    f"$^{{*}}$: paired Wilcoxon test significant at $\\alpha={alpha:g}$ after Holm's correction "
                    "across the domains (per method and metric).")
    return latex_table(["Domain", "Share", "Cases"], groups, body, caption, f"tab:{dataset}-main-results")


def latex(run: Run, table: pd.DataFrame) -> str:
    """One LaTeX table per dataset."""
    return "\n".join(dataset_latex(run, rows) for _, rows in table.groupby("dataset", sort=False))


def heatmap(run: Run, table: pd.DataFrame):
    """Lift per domain (rows) and compared method (columns, the floor left out), one panel per
    metric, colour centred at 0; None if no compared method has a lift."""
    dataset, k = table["dataset"].iloc[0], run.k
    _, lifted, reference = shown_and_lifted(table)
    lifted = figures.compared(lifted)
    if not lifted:
        return None
    keys = table.drop_duplicates(["group", "domain"])[["group", "domain", "share"]].reset_index(drop=True)
    index = pd.MultiIndex.from_frame(keys[["group", "domain"]])
    n = len(keys)
    annotate = n <= 60
    per_row = 0.3 if annotate else 0.17
    fig, axes = plt.subplots(1, 2, sharey=True, layout="constrained",
                             figsize=(3.4 + 2 * (0.8 + 0.85 * len(lifted)), 1.5 + per_row * n))
    lifts = table.loc[table["method"].isin(lifted)]
    finite = lifts["lift"].to_numpy(dtype=float)
    finite = np.abs(finite[np.isfinite(finite)])
    vmax = min(finite.max(), 1.0) if finite.size and finite.max() > 0 else 0.05
    clipped = finite.size and finite.max() > vmax
    cmap = plt.get_cmap("RdBu").with_extremes(bad="0.88")
    for ax, metric in zip(axes, METRICS):
        rows = lifts.loc[lifts["metric"] == metric].set_index(["group", "domain", "method"])
        values = rows["lift"].unstack("method").reindex(index=index, columns=lifted).to_numpy(dtype=float)
        significant = rows["significant"].unstack("method").reindex(index=index, columns=lifted).to_numpy() == True
        shown = np.where(np.isposinf(values), vmax, np.where(np.isneginf(values), -vmax, values))
        image = ax.imshow(np.ma.masked_invalid(100 * shown), cmap=cmap, vmin=-100 * vmax, vmax=100 * vmax,
                          aspect="auto", interpolation="nearest")
        if annotate:
            for (i, j), value in np.ndenumerate(values):
                if np.isnan(value):
                    text = "–"
                elif np.isinf(value):
                    text = pct(value)
                else:
                    text = f"{100 * value:+.0f}" if abs(value) >= 0.1 else f"{100 * value:+.1f}"
                text += "*" if significant[i, j] else ""
                dark = np.isfinite(shown[i, j]) and abs(shown[i, j]) > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        for i in range(1, n):  # a rule between the blocks
            if keys["group"][i] != keys["group"][i - 1]:
                ax.axhline(i - 0.5, color="black", linewidth=1.2)
        ax.set_xticks(range(len(lifted)), lifted)
        ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
        ax.set_title(metric_label(metric, k), fontsize=11)
    labels = ["All test cases" if g == "overall" else f"{figures.escape_mathtext(d)} ({share_label(s)})"
              for g, d, s in keys.itertuples(index=False)]
    axes[0].set_yticks(range(n), labels, fontsize=9 if annotate else 6.5)
    for tick, group in zip(axes[0].get_yticklabels(), keys["group"]):
        if group == "sparse":
            tick.set_color(figures.SPARSE_TEXT)
            tick.set_fontweight("bold")
    fig.colorbar(image, ax=axes, label=f"lift over {reference} (%)", extend="both" if clipped else "neither",
                 shrink=min(1.0, 0.4 + 0.05 * n), aspect=25)
    fig.suptitle(f"{dataset}: lift over {reference} per domain, k={k}\n"
                 f"sparse domains in orange (share in brackets); * significant after Holm at α = {run.alpha:g}",
                 fontsize=11)
    return fig


TABLES = {"main_results": Table(artifacts("metrics_table", "lift_table", "domains"), table, latex)}

"""The power users of the sparse domains: their accuracy per method, the lift over generic on their
test cases, and the lift on all test cases of the domain for comparison."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from seqrec.io import read_parquet
from seqrec.report import figures
from seqrec.report.format import count, html_table, latex_table, metric_label, share_label, tex
from seqrec.report.groups import LIFT_COLUMNS, METRICS, mark_best, method_cells, shown_and_lifted, tested
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts

MAX_NAMES = 10  # domain names per panel of the figure, the points farthest from the diagonal


def dataset_table(run: Run, dataset: str) -> pd.DataFrame:
    """Tidy rows (domain, metric, method) for the power users of each sparse domain, sparsest first."""
    metrics, lifts = run.aggregated(dataset)
    shown = run.method_order(m for m in pd.unique(metrics["method"]) if m in run.methods)
    metrics = metrics.loc[(metrics["k"] == run.k) & metrics["method"].isin(shown)]
    lifts = lifts.loc[(lifts["k"] == run.k) & lifts["method"].isin(shown)]
    domains = run.domains(dataset)
    power_users = read_parquet(run.path("power_users", dataset=dataset))
    sparse = domains.loc[domains["is_sparse"].astype(bool), ["domain", "share"]].sort_values(["share", "domain"])
    counts = power_users.groupby("domain")["user"].nunique()
    rows = metrics.loc[(metrics["scope"] == "power") & metrics["domain"].isin(sparse["domain"]),
                       ["method", "domain", "metric", "k", "mean", "std", "n_seeds", "n_cases"]]
    domain_cases = metrics.loc[metrics["scope"] == "domain"].groupby("domain")["n_cases"].max()
    keys = ["method", "domain", "metric"]
    if lifts.empty:
        rows = rows.assign(**{c: np.nan for c in LIFT_COLUMNS}, domain_lift=np.nan, domain_ci_low=np.nan,
                           domain_ci_high=np.nan)
    else:
        power = tested(lifts.loc[(lifts["scope"] == "power") & lifts["domain"].isin(sparse["domain"])],
                       ["method", "metric"], run.alpha)
        rows = rows.merge(power[keys + LIFT_COLUMNS], on=keys, how="left")
        whole = lifts.loc[lifts["scope"] == "domain", [*keys, "lift", "ci_low", "ci_high"]]
        rows = rows.merge(whole.rename(columns={"lift": "domain_lift", "ci_low": "domain_ci_low",
                                                "ci_high": "domain_ci_high"}), on=keys, how="left")
    rows["significant"] = rows["significant"].eq(True)
    rows["best"] = mark_best(rows, ["domain", "metric"])
    rows = sparse.merge(rows, on="domain", how="left")  # sparse domains without power users stay, empty
    rows["power_users"] = rows["domain"].map(counts).fillna(0).astype("Int64")
    rows["n_cases"] = rows["n_cases"].fillna(0).astype(int)
    rows = rows.astype({"k": "Int64", "n_seeds": "Int64"})  # a domain without power users has neither
    rows["domain_cases"] = rows["domain"].map(domain_cases).fillna(0).astype(int)
    order = {"metric": list(METRICS).index, "method": shown.index}
    rows = rows.sort_values(["share", "domain", "metric", "method"], na_position="last", ignore_index=True,
                            key=lambda c: c.map(lambda v: order[c.name](v) if pd.notna(v) else -1) if c.name in order else c)
    columns = ["domain", "share", "power_users", "n_cases", "domain_cases", "metric", "k", "method", "mean", "std",
               "n_seeds", "best", *LIFT_COLUMNS, "domain_lift", "domain_ci_low", "domain_ci_high"]
    return rows[columns].assign(dataset=dataset)[["dataset", *columns]]


def table(run: Run) -> pd.DataFrame:
    return pd.concat([dataset_table(run, d) for d in run.datasets], ignore_index=True)


def layout(table: pd.DataFrame, shown: list, lifted: list, reference: str, k: int, latex: bool):
    """Column groups [(metric label, [columns])] and rows [(domain, share, power users, cases, domain cases, cells, bold)]."""
    groups = [(metric_label(m, k), [*shown, *(f"{x} vs {reference}" for x in lifted)]) for m in METRICS]
    rows = []
    for domain, cases in table.groupby("domain", sort=False):
        cells, bold = method_cells(cases, shown, lifted, latex, missing="--" if latex else "–")
        first = cases.iloc[0]
        rows.append((domain, first["share"], first["power_users"], int(first["n_cases"]), int(first["domain_cases"]),
                     cells, bold))
    return groups, rows


def html(run: Run, table: pd.DataFrame):
    dataset, k = table["dataset"].iloc[0], run.k
    shown, lifted, reference = shown_and_lifted(table)
    groups, rows = layout(table, shown, lifted, reference, k, latex=False)
    columns = pd.MultiIndex.from_tuples([("", "share"), ("", "power users"), ("", "test cases"), ("", "domain cases"),
                                         *((title, c) for title, cs in groups for c in cs)])
    cells = [[share_label(s), count(p), count(n), count(d), *c] for _, s, p, n, d, c, _ in rows]
    bold = [[False] * 4 + b for *_, b in rows]
    frame = pd.DataFrame(cells, index=pd.Index([r[0] for r in rows], name="sparse domain"), columns=columns)
    css = pd.DataFrame(np.where(bold, "font-weight: bold", ""), index=frame.index, columns=frame.columns)
    return html_table(frame.style.apply(lambda _: css, axis=None)
                      .set_caption(f"{dataset}: power users of the sparse domains, {metric_label('recall', k)} "
                                   f"and {metric_label('ndcg', k)} (* significant after Holm at α = {run.alpha:g})"))


def latex(run: Run, table: pd.DataFrame) -> str:
    k, alpha = run.k, run.alpha
    shown_all, lifted_all, reference = shown_and_lifted(table)
    blocks = []
    for dataset, rows in table.groupby("dataset", sort=False):
        # One column layout for every dataset: a method a dataset lacks shows as --.
        _, rows = layout(rows, shown_all, lifted_all, reference, k, latex=True)
        blocks.append((dataset, [[tex(d), tex(share_label(s)), count(p, True), count(n, True), count(dc, True), *c]
                                 for d, s, p, n, dc, c, _ in rows]))
    groups = [(metric_label(m, k), [*shown_all, *(f"{x} vs {reference}" for x in lifted_all)]) for m in METRICS]
    caption = (f"Power users of the sparse domains: users with at least the power-user share of their training "
               f"interactions in the domain, their test cases, and the test cases whose target lies in the domain "
               f"(domain cases). {metric_label('recall', k)} and {metric_label('ndcg', k)} on the power users' test "
               "cases, mean $\\pm$ std over seeds (best of each row in bold, none where all tie)")
    if lifted_all:
        confidence = table["confidence"].dropna()
        caption += (f", and the lift over {tex(reference)} in \\% with its {100 * confidence.iloc[0]:g}\\% bootstrap "
                    f"confidence interval; $^{{*}}$: paired Wilcoxon test significant at $\\alpha={alpha:g}$ after "
                    "Holm's correction across the sparse domains (per dataset, method and metric)")
    return latex_table(["Domain", "Share", "Power users", "Test cases", "Domain cases"], groups, blocks,
                       caption + ".", "tab:power-users")


def power_figure(run: Run, pairs: pd.DataFrame):
    """Lift on the power users (y) against lift on all test cases of the domain (x), for each compared
    method (the floor left out); None if no compared method has a pair."""
    _, lifted, reference = shown_and_lifted(pairs)
    lifted = figures.compared(lifted)
    pairs = pairs.loc[pairs["method"].isin(lifted)]
    if pairs.empty:
        return None
    colors = figures.method_colors(lifted)
    shown_datasets = [d for d in run.datasets if d in set(pairs["dataset"])]
    markers = figures.dataset_markers(shown_datasets)
    values = 100 * pd.concat([pairs["lift"], pairs["domain_lift"]])
    low, high = min(values.min(), 0.0), max(values.max(), 0.0)
    pad = max(0.15 * (high - low), 5.0)
    lim = (max(low - pad, -105.0), high + pad)
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 6), layout="constrained")
    for ax, metric in zip(axes, METRICS):
        ax.plot(lim, lim, color="0.5", linestyle="--", linewidth=0.9, zorder=1)
        ax.axhline(0, color="0.75", linewidth=0.7, zorder=0)
        ax.axvline(0, color="0.75", linewidth=0.7, zorder=0)
        for (dataset, method), r in pairs.loc[pairs["metric"] == metric].groupby(["dataset", "method"], sort=False):
            x, y = 100 * r["domain_lift"], 100 * r["lift"]
            xerr = np.array([x - 100 * r["domain_ci_low"], 100 * r["domain_ci_high"] - x])
            yerr = np.array([y - 100 * r["ci_low"], 100 * r["ci_high"] - y])
            # An unbounded side (the reference is 0 in some resamples) reaches the edge; its point is open.
            bounded = np.isfinite(xerr).all(axis=0) & np.isfinite(yerr).all(axis=0)
            xerr = np.clip(np.nan_to_num(xerr, posinf=lim[1] - lim[0]), 0, lim[1] - lim[0])
            yerr = np.clip(np.nan_to_num(yerr, posinf=lim[1] - lim[0]), 0, lim[1] - lim[0])
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=colors[method], elinewidth=0.8, alpha=0.35)
            ax.plot(x[bounded], y[bounded], markers[dataset], color=colors[method], ms=7, mec="white", mew=0.6, zorder=3)
            ax.plot(x[~bounded], y[~bounded], markers[dataset], color=colors[method], ms=7, mfc="white", mew=1.3, zorder=3)
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")
        ax.grid(color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel("lift on all test cases of the domain (%)")
        ax.set_ylabel("lift on the domain's power users (%)")
        ax.set_title(metric_label(metric, run.k), fontsize=11)
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[m], label=m) for m in lifted]
    handles += [Line2D([], [], marker=markers[d], linestyle="", color="0.35", label=d) for d in shown_datasets]
    handles.append(Line2D([], [], marker="o", linestyle="", color="0.35", mfc="white", mew=1.3, label="unbounded CI"))
    handles.append(Line2D([], [], color="0.5", linestyle="--", label="equal lift"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), fontsize=9, frameon=False)
    fig.suptitle(f"Sparse domains: lift over {reference} for the power users vs for all the domain's test cases "
                 f"(k={run.k}, {100 * run.config['aggregate']['confidence']:g}% bootstrap CI)", fontsize=11)
    fig.draw_without_rendering()  # fixes the layout, so that display positions below are final
    for ax, metric in zip(axes, METRICS):
        # Names of the points farthest from the diagonal, skipping one that would overlap a name placed.
        shown = pairs.loc[pairs["metric"] == metric]
        placed = []
        for r in shown.loc[(shown["lift"] - shown["domain_lift"]).abs().sort_values(ascending=False).index].itertuples():
            if len(placed) == MAX_NAMES:
                break
            name = figures.escape_mathtext(r.domain)
            x0, y0 = ax.transData.transform((100 * r.domain_lift, 100 * r.lift))
            width = 0.6 * 7.5 / 72 * fig.dpi * len(name)  # display width of a 7.5 pt name, roughly
            height = 1.3 * 7.5 / 72 * fig.dpi
            if any(abs(y0 - y1) < height and x0 < x1 + w1 and x1 < x0 + width for x1, y1, w1 in placed):
                continue
            placed.append((x0, y0, width))
            ax.annotate(name, (100 * r.domain_lift, 100 * r.lift), xytext=(4, 4), textcoords="offset points",
                        fontsize=7.5, color="0.2")
    return fig


TABLES = {"power_users": Table(artifacts("metrics_table", "lift_table", "domains", "power_users"), table, latex)}

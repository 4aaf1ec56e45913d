"""Training cost: time per method, the overhead of each weighting against the unweighted model of
the same architecture, and the resources of the train and evaluate jobs (Snakemake benchmarks)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from seqrec.claims import OVERHEAD_BOUND
from seqrec.methods import METHODS
from seqrec.report import figures, runs
from seqrec.report.format import frame_latex, mean_cell
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts

CLAIM_COLOR = "#c44e52"


def unweighted(method: str) -> str | None:
    """The method with the same architecture and no weighting (generic for fixed and dynamic, sigma for
    sigma+dynamic); None for a method that is itself unweighted (generic, pop, the plain baselines)."""
    known = METHODS.get(method)
    if known is None or known.weighting == "generic":
        return None
    return next(name for name, m in METHODS.items() if m.architecture == known.architecture and m.weighting == "generic")


def time_table(run: Run) -> pd.DataFrame:
    """Per dataset and method, mean and std over seeds."""
    rows = []
    for (dataset, method), m in runs.all_datasets(run, runs.timings).groupby(["dataset", "method"], sort=False):
        row = {"dataset": dataset, "method": method, "seeds": len(m),
               "device": ", ".join(sorted(set(m["device"].astype(str)))),
               "threads": ", ".join(str(v) for v in sorted(set(m["threads"]))),
               "epochs_mean": m["epochs"].mean()}
        for column in ("seconds_per_epoch", "train_seconds_per_epoch", "train_seconds", "wall_seconds",
                       "weighting_seconds", "weighting_share_of_training"):
            row[f"{column}_mean"], row[f"{column}_std"] = m[column].mean(), m[column].std()
        row["resumed_runs"] = int((m["resumed_after_epoch"] > 0).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def overhead_table(run: Run) -> pd.DataFrame:
    """Per dataset and weighted method: training-loop time per epoch relative to the unweighted model of
    the same architecture (its `reference`: generic for fixed and dynamic), paired by seed."""
    rows = []
    columns = ["dataset", "method", "reference", "paired_seeds", "overhead_per_epoch_mean"]
    for dataset in run.datasets:
        t = runs.timings(run, dataset)
        for method, m in t.loc[t["method"].map(unweighted).notna()].groupby("method", sort=False):
            reference = unweighted(method)
            generic = t.loc[t["method"] == reference].set_index("seed")
            m = m.set_index("seed")
            common = m.index.intersection(generic.index)
            ratio = m.loc[common, "train_seconds_per_epoch"] / generic.loc[common, "train_seconds_per_epoch"] - 1
            rows.append({
                "dataset": dataset, "method": method, "reference": reference, "paired_seeds": len(common),
                "train_seconds_per_epoch_mean": m["train_seconds_per_epoch"].mean(),
                "reference_train_seconds_per_epoch_mean": generic["train_seconds_per_epoch"].mean() if len(generic) else np.nan,
                "overhead_per_epoch_mean": ratio.mean(), "overhead_per_epoch_std": ratio.std(),
                "overhead_per_epoch_min": ratio.min(), "overhead_per_epoch_max": ratio.max(),
                "weighting_share_mean": m["weighting_share_of_training"].mean(),
                "weighting_share_std": m["weighting_share_of_training"].std(),
                "reference_weighting_share_mean": generic["weighting_share_of_training"].mean() if len(generic) else np.nan,
                "same_device_and_threads": bool(len(common)) and bool(
                    (m.loc[common, "device"].astype(str) == generic.loc[common, "device"].astype(str)).all()
                    and (m.loc[common, "threads"] == generic.loc[common, "threads"]).all()),
            })
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def benchmark_table(run: Run) -> pd.DataFrame:
    rows = []
    benchmarks = runs.all_datasets(run, runs.benchmarks)
    for (dataset, step, method), b in benchmarks.groupby(["dataset", "step", "method"], sort=False):
        row = {"dataset": dataset, "step": step, "method": method, "seeds": len(b)}
        for column in runs.BENCHMARK_COLUMNS:
            row[f"{column}_mean"], row[f"{column}_std"] = b[column].mean(), b[column].std()
        row["max_rss_max"] = b["max_rss"].max()
        rows.append(row)
    return pd.DataFrame(rows)


def percent(value: float, signed: bool = False, tex: bool = False) -> str:
    if pd.isna(value):
        return "--" if tex else "–"
    text = f"{100 * value:+.2f}%" if signed else f"{100 * value:.2f}%"
    return text.replace("%", "\\%") if tex else text


def percent_std(mean: float, std: float, signed: bool = False, tex: bool = False) -> str:
    if pd.isna(std):
        return percent(mean, signed, tex)
    if tex:
        return f"${100 * mean:{'+' if signed else ''}.2f} \\pm {100 * std:.2f}$\\%"
    return f"{percent(mean, signed)} ± {100 * std:.2f}"


def seconds(mean: float, std: float, tex: bool = False) -> str:
    digits = 3 if (pd.isna(mean) or abs(mean) < 10) else 1
    return mean_cell(mean, std, latex=tex, fmt=f".{digits}f")


def index(table: pd.DataFrame, columns: list) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(table[columns], names=[c.capitalize() if c != "step" else "Job" for c in columns])


def time_display(table: pd.DataFrame, tex: bool = False) -> pd.DataFrame:
    return pd.DataFrame({
        "Seeds": table["seeds"].astype(str).to_numpy(),
        "Device": table["device"].to_numpy(), "Threads": table["threads"].astype(str).to_numpy(),
        "Epochs": [f"{v:.1f}".removesuffix(".0") for v in table["epochs_mean"]],
        "Epoch (s)": [seconds(m, s, tex) for m, s in zip(table["seconds_per_epoch_mean"], table["seconds_per_epoch_std"])],
        "Training loop / epoch (s)": [seconds(m, s, tex) for m, s in
                                      zip(table["train_seconds_per_epoch_mean"], table["train_seconds_per_epoch_std"])],
        "Training loop (s)": [seconds(m, s, tex) for m, s in zip(table["train_seconds_mean"], table["train_seconds_std"])],
        "Weighting share": [percent_std(m, s, tex=tex) for m, s in
                            zip(table["weighting_share_of_training_mean"], table["weighting_share_of_training_std"])],
    }, index=index(table, ["dataset", "method"]))


def overhead_display(table: pd.DataFrame, tex: bool = False) -> pd.DataFrame:
    return pd.DataFrame({
        "Reference": table["reference"].to_numpy(),
        "Paired seeds": table["paired_seeds"].astype(str).to_numpy(),
        "Loop / epoch (s)": [seconds(v, np.nan, tex) for v in table["train_seconds_per_epoch_mean"]],
        "Reference (s)": [seconds(v, np.nan, tex) for v in table["reference_train_seconds_per_epoch_mean"]],
        "Per epoch vs reference": [percent_std(m, s, True, tex) for m, s in
                                   zip(table["overhead_per_epoch_mean"], table["overhead_per_epoch_std"])],
        "Weighting share": [percent_std(m, s, tex=tex) for m, s in zip(table["weighting_share_mean"], table["weighting_share_std"])],
        "Reference share (timer floor)": [percent(v, tex=tex) for v in table["reference_weighting_share_mean"]],
    }, index=index(table, ["dataset", "method"]))


def benchmark_display(table: pd.DataFrame, tex: bool = False) -> pd.DataFrame:
    return pd.DataFrame({
        "Seeds": table["seeds"].astype(str).to_numpy(),
        "Wall time (s)": [mean_cell(m, s, latex=tex, fmt=".1f") for m, s in zip(table["s_mean"], table["s_std"])],
        "CPU time (s)": [mean_cell(m, s, latex=tex, fmt=".1f") for m, s in zip(table["cpu_time_mean"], table["cpu_time_std"])],
        "Max RSS (MB)": [mean_cell(m, s, latex=tex, fmt=".0f") for m, s in zip(table["max_rss_mean"], table["max_rss_std"])],
        "Max RSS, largest (MB)": [("--" if tex else "–") if pd.isna(v) else f"{v:.0f}" for v in table["max_rss_max"]],
    }, index=index(table, ["dataset", "step", "method"]))


def time_latex(run: Run, table: pd.DataFrame) -> str:
    caption = ("Training time per method: seconds per epoch (training and validation), training-loop seconds per "
               "epoch and in total, and the weighting's share of the training loop (in-process timer); "
               "mean $\\pm$ std over seeds.")
    return frame_latex(time_display(table, tex=True), caption, "tab:training-time", escape=False)


def overhead_latex(run: Run, table: pd.DataFrame) -> str:
    caption = ("Cost of each weighting against the unweighted model of the same architecture (the reference): "
               "training-loop seconds per epoch (mean over seeds), their relative change against the reference "
               "run of the same seed (separate jobs: includes job-to-job noise), and the weighting's share of "
               "the training loop from the in-process timer (for the reference, the timer's own cost); "
               "mean $\\pm$ std over seeds.")
    return frame_latex(overhead_display(table, tex=True), caption, "tab:overhead", escape=False)


def benchmark_latex(run: Run, table: pd.DataFrame) -> str:
    caption = ("Resources of the workflow's train and evaluate jobs as recorded by Snakemake's benchmark files: wall "
               "time, CPU time and peak resident memory (max RSS) of the job; mean $\\pm$ std over seeds and the "
               "largest max RSS.")
    return frame_latex(benchmark_display(table, tex=True), caption, "tab:benchmarks", escape=False)


def claim_lines(run: Run, overhead: pd.DataFrame, timings: pd.DataFrame) -> list:
    """One sentence per dataset and dynamic method: what was measured against the 1% claim."""
    lines = []
    dynamic = timings["method"].map(lambda m: METHODS[m].weighting == "dynamic")
    for (dataset, method), m in timings.loc[dynamic].groupby(["dataset", "method"], sort=False):
        share = m["weighting_share_of_training"]
        verdict = "below" if share.max() < OVERHEAD_BOUND else ("above" if share.min() >= OVERHEAD_BOUND else "around")
        text = (f"* **{dataset}, {method}**: the weighting took {percent(share.mean())} of the training-loop time "
                f"(in-process timer, mean of {len(m)} seed{'s' if len(m) > 1 else ''}, "
                f"range {percent(share.min())}–{percent(share.max())}), {verdict} the claimed {percent(OVERHEAD_BOUND)}")
        row = overhead.loc[(overhead["dataset"] == dataset) & (overhead["method"] == method)]
        if len(row) and row["paired_seeds"].iloc[0]:
            r = row.iloc[0]
            text += (f"; its training-loop time per epoch differed from {r.reference}'s by {percent(r.overhead_per_epoch_mean, True)} "
                     f"(separate jobs, {r.paired_seeds} paired seed{'s' if r.paired_seeds > 1 else ''}, range "
                     f"{percent(r.overhead_per_epoch_min, True)} to {percent(r.overhead_per_epoch_max, True)})")
            if not r.same_device_and_threads:
                text += f", **but on another device or thread count than {r.reference}: not comparable**"
        else:
            text += f"; no {unweighted(method)} run of the same seed to compare the time per epoch with"
        lines.append(text + ".")
    return lines


def bar_groups(ax, groups: list, series: list, values: dict, colors: dict, fmt=None):
    """Grouped bars: groups on x, one bar per series; values[(group, series)] = (value, low, high)."""
    width = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        for g, group in enumerate(groups):
            if (group, name) not in values:
                continue
            value, low, high = values[(group, name)]
            x = g + (i - (len(series) - 1) / 2) * width
            ax.bar(x, value, width * 0.92, color=colors[name], edgecolor="white", linewidth=0.5)
            if np.isfinite([low, high]).all() and high > low:
                ax.errorbar(x, value, yerr=figures.interval_errors([value], [low], [high]), fmt="none", ecolor="0.2",
                            capsize=3, elinewidth=1)
            if fmt is not None:  # the value beyond the bar's end and its error bar
                if value >= 0:
                    end, offset, va = max(high if np.isfinite(high) else value, value), 2, "bottom"
                else:
                    end, offset, va = min(low if np.isfinite(low) else value, value), -2, "top"
                ax.annotate(fmt(value), (x, end), xytext=(0, offset), textcoords="offset points",
                            ha="center", va=va, fontsize=7.5)
    for g, group in enumerate(groups):
        if not any((group, name) in values for name in series):
            ax.text(g, 0, "no data", ha="center", va="bottom", fontsize=8.5, color="0.45", rotation=90)
    ax.set_xticks(range(len(groups)), [g if isinstance(g, str) else "\n".join(g) for g in groups])
    ax.set_xlim(-0.6, len(groups) - 0.4)


def overhead_figure(run: Run, overhead: pd.DataFrame, timings: pd.DataFrame):
    """Left: time per training epoch vs the unweighted model; right: the weighting share from the
    in-process timer. Only weighted methods and their unweighted references: pop and the plain
    baselines say nothing about the cost of a weighting (their times are in the table above)."""
    weighted = {m for m in timings["method"] if unweighted(m) is not None}
    shown = weighted | {unweighted(m) for m in weighted} | {"generic"}
    all_methods = run.method_order(m for m in timings["method"] if m in shown)
    colors = figures.method_colors(all_methods)
    groups = list(pd.unique(timings["dataset"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(9.0, 2.2 * len(groups) * 2 + 3), 5), layout="constrained")
    compared = [m for m in all_methods if m in weighted and ((overhead["method"] == m) & (overhead["paired_seeds"] > 0)).any()]
    values = {(r.dataset, r.method): (100 * r.overhead_per_epoch_mean, 100 * r.overhead_per_epoch_min,
                                      100 * r.overhead_per_epoch_max)
              for r in overhead.itertuples() if r.paired_seeds > 0}
    bar_groups(left, groups, compared, values, colors, fmt=lambda v: f"{v:+.1f}%")
    left.axhline(0, color="black", linewidth=0.8)
    left.axhline(100 * OVERHEAD_BOUND, color=CLAIM_COLOR, linestyle="--", linewidth=1.2)
    left.set_ylabel("training-loop time per epoch vs unweighted (%)")
    left.set_title("Between jobs: time per epoch relative to the unweighted model\n(same seed; includes job-to-job noise)", fontsize=10)
    if not compared:
        left.text(0.5, 0.5, "no weighted and unweighted run of the same seed", transform=left.transAxes, ha="center", color="0.4")
    stats = (100 * timings.loc[timings["method"].isin(all_methods)]
             .groupby(["dataset", "method"])["weighting_share_of_training"].agg(["mean", "min", "max"]))
    bar_groups(right, groups, all_methods, {key: tuple(v) for key, v in stats.iterrows()}, colors,
               fmt=lambda v: f"{v:.2f}%")
    right.axhline(100 * OVERHEAD_BOUND, color=CLAIM_COLOR, linestyle="--", linewidth=1.2)
    right.set_ylim(bottom=0)
    right.set_ylabel("weighting time / training-loop time (%)")
    right.set_title("In process: the weighting's share of the training loop\n(unweighted and fixed: the timer's own cost)", fontsize=10)
    for ax in (left, right):
        ax.grid(axis="y", color="0.88", linewidth=0.6)
        ax.set_axisbelow(True)
        low, high = ax.get_ylim()
        pad = 0.08 * (high - low)  # room for the value labels
        ax.set_ylim(low - pad if low < 0 else low, high + pad)
    handles = [Patch(color=colors[m], label=m) for m in all_methods]
    handles.append(Line2D([], [], color=CLAIM_COLOR, linestyle="--", linewidth=1.2,
                          label=f"claim: {100 * OVERHEAD_BOUND:g}% extra training time"))
    handles.append(Line2D([], [], color="0.2", marker="|", ms=10, linestyle="", label="min–max over seeds"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), fontsize=9, frameon=False)
    fig.suptitle("Training cost of the weightings", fontsize=12)
    return fig


def benchmark_figure(run: Run, benchmarks: pd.DataFrame):
    all_methods = run.method_order(benchmarks["method"])
    colors = figures.method_colors(all_methods)
    groups = list(dict.fromkeys(zip(benchmarks["dataset"], benchmarks["step"])))
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 1.6 * len(groups) * 2 + 3), 5), layout="constrained")
    for ax, column, label in [(axes[0], "max_rss", "peak memory, max RSS (MB)"), (axes[1], "s", "wall time of the job (s)")]:
        stats = benchmarks.groupby(["dataset", "step", "method"])[column].agg(["mean", "min", "max"])
        values = {((d, s), m): tuple(v) for (d, s, m), v in stats.iterrows() if np.isfinite(v["mean"])}
        bar_groups(ax, groups, all_methods, values, colors, fmt=lambda v: f"{v:.0f}" if v >= 10 else f"{v:.1f}")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        low, high = ax.get_ylim()
        ax.set_ylim(0, high * 1.08)
        ax.grid(axis="y", color="0.88", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0].set_title("Peak memory of the job (Snakemake benchmark)", fontsize=10)
    axes[1].set_title("Wall time of the job, start-up and I/O included", fontsize=10)
    handles = [Patch(color=colors[m], label=m) for m in all_methods]
    handles.append(Line2D([], [], color="0.2", marker="|", ms=10, linestyle="", label="min–max over seeds"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), fontsize=9, frameon=False)
    fig.suptitle("Resources of the train and evaluate jobs", fontsize=12)
    return fig


TABLES = {
    "training_time": Table(artifacts("timing"), time_table, time_latex),
    "overhead": Table(artifacts("timing"), overhead_table, overhead_latex),
    "benchmarks": Table(artifacts("train_benchmark", "evaluate_benchmark"), benchmark_table, benchmark_latex),
}

"""Convergence: epochs trained, the best epoch (the model kept) and the validation accuracy at it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from seqrec.report import figures, runs
from seqrec.report.format import frame_latex, mean_cell
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts


def run_summary(history: pd.DataFrame) -> pd.DataFrame:
    """One row per run: epochs trained, best epoch (first maximum of the validation NDCG) and its values."""
    ndcg, recall = runs.validation_columns(history)
    rows = []
    for (method, seed), h in history.groupby(["method", "seed"], sort=False):
        h = h.dropna(subset=[ndcg])
        if h.empty:
            continue
        best = h.loc[h[ndcg].idxmax()]
        rows.append({"method": method, "seed": seed, "epochs": len(h), "last_epoch": int(h["epoch"].max()),
                     "best_epoch": int(best["epoch"]), "best_ndcg": best[ndcg],
                     "best_recall": best.get(recall, np.nan), "final_train_loss": h["train_loss"].iloc[-1]})
    return pd.DataFrame(rows)


def method_table(history: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The rows of one dataset: per method, mean and std over seeds."""
    ndcg, recall = runs.validation_columns(history)
    rows = []
    for method, s in run_summary(history).groupby("method", sort=False):
        rows.append({
            "dataset": dataset, "method": method, "seeds": len(s),
            "epochs_mean": s["epochs"].mean(),
            "best_epoch_mean": s["best_epoch"].mean(), "best_epoch_std": s["best_epoch"].std(),
            "best_epochs": "; ".join(f"seed {r.seed}: {r.best_epoch}" for r in s.itertuples()),
            f"best_{ndcg}_mean": s["best_ndcg"].mean(), f"best_{ndcg}_std": s["best_ndcg"].std(),
            f"{recall}_at_best_mean": s["best_recall"].mean(), f"{recall}_at_best_std": s["best_recall"].std(),
            "final_train_loss_mean": s["final_train_loss"].mean(),
            "runs_best_at_last_epoch": int((s["best_epoch"] == s["last_epoch"]).sum()),
        })
    return pd.DataFrame(rows)


def table(run: Run) -> pd.DataFrame:
    return pd.concat([method_table(runs.histories(run, d), d) for d in run.datasets], ignore_index=True)


def display_table(table: pd.DataFrame, tex: bool = False) -> pd.DataFrame:
    """Dataset and method as index, mean ± std cells (LaTeX cells when `tex`)."""
    ndcg = next(c for c in table.columns if c.startswith("best_valid_ndcg@")).removeprefix("best_").removesuffix("_mean")
    recall, k = ndcg.replace("ndcg", "recall"), ndcg.split("@")[1]
    return pd.DataFrame({
        "Seeds": table["seeds"].astype(str).to_numpy(),
        "Epochs": [f"{v:.1f}".removesuffix(".0") for v in table["epochs_mean"]],
        "Best epoch": [mean_cell(m, s, latex=tex, fmt=".1f") for m, s in zip(table["best_epoch_mean"], table["best_epoch_std"])],
        f"Valid NDCG@{k}": [mean_cell(m, s, latex=tex) for m, s in zip(table[f"best_{ndcg}_mean"], table[f"best_{ndcg}_std"])],
        f"Valid Recall@{k}": [mean_cell(m, s, latex=tex) for m, s in
                              zip(table[f"{recall}_at_best_mean"], table[f"{recall}_at_best_std"])],
    }, index=pd.MultiIndex.from_frame(table[["dataset", "method"]], names=["Dataset", "Method"]))


def latex(run: Run, table: pd.DataFrame) -> str:
    k = display_table(table).columns[-1].split("@")[1]
    caption = (f"Convergence: epochs trained, best epoch (highest validation NDCG@{k}, the model kept) and the "
               f"validation NDCG@{k} and Recall@{k} of the kept model; mean $\\pm$ std over seeds.")
    return frame_latex(display_table(table, tex=True), caption, "tab:convergence", escape=False)


def band_plot(ax, h: pd.DataFrame, column: str, color: str, label: str, markers: bool):
    curve = h.groupby("epoch")[column].agg(["mean", "min", "max"])
    ax.fill_between(curve.index, curve["min"], curve["max"], color=color, alpha=0.12, linewidth=0)
    for edge in ("min", "max"):
        ax.plot(curve.index, curve[edge], color=color, alpha=0.45, linewidth=0.6)
    return ax.plot(curve.index, curve["mean"], "-", marker="o" if markers else None, ms=3, color=color,
                   linewidth=1.6, label=label)[0]


def convergence_figure(run: Run, histories: dict):
    """Validation NDCG@k (top) and training loss (bottom) per epoch, one column per dataset."""
    n = len(histories)
    fig, axes = plt.subplots(2, n, figsize=(max(7.0, 4.6 * n + 1.5), 7.5), squeeze=False,
                             sharex="col", layout="constrained")
    all_methods = run.method_order({m for h in histories.values() for m in h["method"]})
    colors = figures.method_colors(all_methods)
    handles = {}
    for column, (dataset, history) in enumerate(histories.items()):
        ndcg, _ = runs.validation_columns(history)
        top, bottom = axes[0, column], axes[1, column]
        markers = history["epoch"].max() <= 30
        summary = run_summary(history)
        shown = list(pd.unique(history["method"]))
        span = max(int(history["epoch"].max() - history["epoch"].min()), 1)
        for i, (method, h) in enumerate(history.groupby("method", sort=False)):
            # The best-epoch circles of the methods are shifted a little sideways so they do not hide each other.
            shift = (i - (len(shown) - 1) / 2) * 0.06 * max(1.0, span / 10)
            handles[method] = band_plot(top, h, ndcg, colors[method], method, markers)
            band_plot(bottom, h, "train_loss", colors[method], method, markers)
            best = summary.loc[summary["method"] == method]
            top.plot(best["best_epoch"] + shift, best["best_ndcg"], "o", ms=8, mfc="none", mew=1.4,
                     color=colors[method], zorder=4)
        top.set_title(f"{dataset} ({history['seed'].nunique()} seed{'s' if history['seed'].nunique() > 1 else ''})",
                      fontsize=11)
        top.set_ylabel(f"validation NDCG@{ndcg.split('@')[1]}" if column == 0 else "")
        bottom.set_ylabel("training loss (epoch mean)" if column == 0 else "")
        bottom.set_xlabel("epoch")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in (top, bottom):
            ax.grid(color="0.88", linewidth=0.6)
            ax.set_axisbelow(True)
    legend = [handles[m] for m in all_methods if m in handles]
    legend.append(Line2D([], [], marker="o", ms=8, mfc="none", mew=1.4, color="0.3", linestyle="",
                         label="best epoch of a seed (kept model)"))
    legend.append(plt.Rectangle((0, 0), 1, 1, color="0.3", alpha=0.15, label="min–max over seeds"))
    fig.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 3 if n == 1 else 6),
               fontsize=9, frameon=False)
    fig.suptitle(f"Validation NDCG@{ndcg.split('@')[1]} and training loss per epoch (line: mean over seeds)",
                 fontsize=12)
    return fig


TABLES = {"convergence": Table(artifacts("history"), table, latex)}

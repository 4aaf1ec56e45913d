"""Domain statistics and loss weights: per domain its share, size and the weight of a positive under
each weighting, the dynamic weights after training, and their trajectory over the epochs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from seqrec.methods import get_method
from seqrec.report import figures
from seqrec.report.format import frame_latex, latex_table, share_label, tex
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts

SPARSE_SHADE = "#fbe0cf"
DOMAIN_COLUMNS = ["domain", "share", "interactions", "items", "users", "user_ratio", "entropy",
                  "effective_item_ratio", "inverse_frequency", "is_sparse", "fixed_target",
                  "weight_generic", "weight_fixed", "weight_dynamic"]
WEIGHT_COLUMNS = ["epoch", "domain", "weight"]


def dynamic_methods(run: Run) -> list[str]:
    """The run's methods trained with the dynamic weighting (`dynamic`, `<model>+dynamic`)."""
    return [m for m in run.methods if get_method(m).weighting == "dynamic"]


def read_domains(run: Run, dataset: str) -> pd.DataFrame:
    domains = run.domains(dataset)
    missing = [c for c in DOMAIN_COLUMNS if c not in domains.columns]
    if missing:
        raise ValueError(f"{run.path('domains', dataset=dataset)}: columns {missing} missing; rerun the "
                         "workflow's sparsity step (delete the file, snakemake regenerates it).")
    domains = domains.sort_values("share", ascending=False, ignore_index=True)
    return domains.astype({"is_sparse": bool, "fixed_target": bool})


def read_weights(run: Run, dataset: str) -> pd.DataFrame:
    """weights.csv of every dynamic run, with method and seed columns."""
    frames = []
    for method in dynamic_methods(run):
        for seed in run.seeds:
            path = run.path("weights", dataset=dataset, method=method, seed=seed)
            frame = pd.read_csv(path)
            missing = [c for c in WEIGHT_COLUMNS if c not in frame.columns]
            if missing:
                raise ValueError(f"{path}: columns {missing} missing; rerun the train step of this run.")
            frames.append(frame[WEIGHT_COLUMNS].assign(method=method, seed=seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*WEIGHT_COLUMNS, "method", "seed"])


def final_weights(weights: pd.DataFrame) -> pd.DataFrame:
    """Per method and domain: the weight after each seed's last epoch; mean, min, max over seeds."""
    last = weights["epoch"] == weights.groupby(["method", "seed"])["epoch"].transform("max")
    final = weights.loc[last].groupby(["method", "domain"], sort=False)
    return final["weight"].agg(["mean", "min", "max"]).join(final["seed"].nunique().rename("seeds")).join(
        final["epoch"].agg(["min", "max"]).rename(columns={"min": "first_epoch", "max": "last_epoch"})
    ).reset_index()


def trajectories(weights: pd.DataFrame) -> pd.DataFrame:
    """Per method, epoch and domain: mean, min and max over the seeds that reached the epoch."""
    grouped = weights.groupby(["method", "epoch", "domain"], sort=False)
    return grouped["weight"].agg(["mean", "min", "max"]).join(grouped["seed"].nunique().rename("seeds")).reset_index()


def per_dataset(run: Run, compute) -> pd.DataFrame:
    frames = [compute(d).assign(dataset=d) for d in run.datasets]
    frame = pd.concat(frames, ignore_index=True)
    return frame[["dataset", *(c for c in frame.columns if c != "dataset")]]


def final_table(run: Run) -> pd.DataFrame:
    return per_dataset(run, lambda d: final_weights(read_weights(run, d)))


def trajectory_table(run: Run) -> pd.DataFrame:
    return per_dataset(run, lambda d: trajectories(read_weights(run, d)))


def domain_table(run: Run) -> pd.DataFrame:
    """Statistics and weights per domain, densest first, with the final dynamic weights."""
    def one(dataset: str) -> pd.DataFrame:
        table = read_domains(run, dataset)[DOMAIN_COLUMNS].copy()
        for method, final in final_weights(read_weights(run, dataset)).groupby("method", sort=False):
            final = final.set_index("domain")
            for stat in ("mean", "min", "max"):
                suffix = "" if stat == "mean" else f"_{stat}"
                table[f"weight_{method}_final{suffix}"] = table["domain"].map(final[stat])
        return table

    return per_dataset(run, one)


def display_table(table: pd.DataFrame):
    """One dataset's domain table as shown in the notebook (sparse domains shaded)."""
    table = table.dropna(axis=1, how="all")
    finals = [c for c in table.columns if c.endswith("_final")]
    columns = {"share": "share", "items": "items", "users": "users", "user_ratio": "user ratio",
               "entropy": "entropy (nats)", "inverse_frequency": "1/share", "is_sparse": "sparse",
               "weight_generic": "w generic", "weight_fixed": "w fixed", "weight_dynamic": "w dynamic, initial",
               **{c: f"w {c.removeprefix('weight_').removesuffix('_final')}, final" for c in finals}}
    shown = table.set_index("domain")[list(columns)].rename(columns=columns)
    shown["entropy (nats)"] += 0.0  # -0.0 (a one-item domain) shows as 0.00
    shown["sparse"] = np.where(shown["sparse"], "yes", "")
    shaded = table.set_index("domain")["is_sparse"]
    weight_format = {c: "{:.3f}" for c in columns.values() if c.startswith("w ")}
    return (
        shown.style.format({"share": share_label, "items": "{:,}", "users": "{:,}", "user ratio": "{:.1%}",
                            "entropy (nats)": "{:.2f}", "1/share": "{:,.1f}", **weight_format}, na_rep="–")
        .apply(lambda row: [f"background-color: {SPARSE_SHADE}" if shaded[row.name] else ""] * len(row), axis=1)
        .set_caption(f"{table['dataset'].iloc[0]}: item domains and the loss weight of each, densest first "
                     f"(sparse domains shaded)")
    )


def dataset_latex(table: pd.DataFrame, finals: pd.DataFrame) -> str:
    dataset = table["dataset"].iloc[0]
    number = lambda v, fmt: "--" if not np.isfinite(v) else f"{v:{fmt}}"
    stats = [("Share", [share_label(s).replace("%", "\\%") for s in table["share"]]),
             ("Items", [f"{v:,}" for v in table["items"]]), ("Users", [f"{v:,}" for v in table["users"]]),
             ("User ratio", [f"{100 * v:.1f}\\%" for v in table["user_ratio"]]),
             ("Entropy", [number(v + 0.0, ".2f") for v in table["entropy"]]),
             ("1/share", [number(v, ",.1f") for v in table["inverse_frequency"]]),
             ("Sparse", list(np.where(table["is_sparse"], "yes", "")))]
    weights = [(name, [number(v, ".2f") for v in table[column]]) for column, name in
               [("weight_generic", "generic"), ("weight_fixed", "fixed"), ("weight_dynamic", "dynamic, initial")]]
    n_seeds = ""
    if len(finals):
        weights += [(f"{m}, final", [number(v, ".2f") for v in table[f"weight_{m}_final"]])
                    for m in pd.unique(finals["method"])]
        counts = finals.groupby("method", sort=False)["seeds"].max().items()
        n_seeds = " " + "; ".join(f"{m}: mean over {n} seed" + ("s" if n > 1 else "") for m, n in counts) + "."
    columns = stats + weights
    rows = [[tex(d), *(values[i] for _, values in columns)] for i, d in enumerate(table["domain"])]
    caption = (f"{tex(dataset)}: item domains, densest first: share of the training interactions, items, users "
               "with a training interaction in the domain, entropy of item popularity (nats), inverse "
               "frequency, sparse flag, and the loss weight of a positive of the domain under each "
               f"weighting (dynamic: before training and after the last epoch).{n_seeds}")
    return latex_table(["Domain"], [("Domain statistics (training split)", [n for n, _ in stats]),
                                    ("Loss weight", [n for n, _ in weights])],
                       [(None, rows)], caption, f"tab:{dataset}-domain-weights")


def domain_latex(run: Run, table: pd.DataFrame) -> str:
    finals = final_table(run)
    return "\n".join(dataset_latex(rows.dropna(axis=1, how="all"), finals.loc[finals["dataset"] == d])
                     for d, rows in table.groupby("dataset", sort=False))


def final_latex(run: Run, table: pd.DataFrame) -> str:
    frame = table.set_index(["dataset", "method", "domain"])[["mean", "min", "max", "seeds"]]
    frame = frame.assign(**{c: frame[c].map(lambda v: f"{v:.3f}") for c in ("mean", "min", "max")})
    return frame_latex(frame, "Dynamic loss weight of each domain after the last epoch: mean, min and max over "
                              "the seeds.", "tab:final-weights")


def trajectory_latex(run: Run, table: pd.DataFrame) -> str:
    frame = table.pivot_table(index=["dataset", "method", "domain"], columns="epoch", values="mean", sort=False)
    frame = frame.map(lambda v: "--" if pd.isna(v) else f"{v:.3f}")
    frame.columns = [f"epoch {e}" for e in frame.columns]
    return frame_latex(frame, "Dynamic loss weight of each domain after every epoch (epoch 0: before training), "
                              "mean over the seeds.", "tab:weight-trajectories")


def bounds(run: Run) -> dict:
    """The bounds of the dynamic weights in this run: {"w_min": value, "w_max": value}."""
    dynamic = run.config["sparsity"]["dynamic"]
    return {"w_min": dynamic["w_min"], "w_max": dynamic["w_max"]}


def draw_bounds(ax, bounds: dict, handles: list) -> None:
    for value in bounds.values():
        ax.axhline(value, color="0.35", linestyle=":", linewidth=1.2, zorder=1)
    label = ", ".join(f"{name} = {value:g}" for name, value in bounds.items())
    handles.append(Line2D([], [], color="0.35", linestyle=":", linewidth=1.2, label=f"weight bounds: {label}"))


def spread_labels(positions: np.ndarray, gap: float) -> np.ndarray:
    """Move sorted label positions apart to at least `gap`, keeping their order and centre."""
    moved = positions.copy()
    for i in range(1, len(moved)):
        moved[i] = max(moved[i], moved[i - 1] + gap)
    return moved - (moved.mean() - positions.mean())


def weight_share_figure(run: Run, domains: pd.DataFrame, finals: pd.DataFrame):
    """Weight of a positive of each domain against the domain share (log x), one series per weighting."""
    dataset, colors = domains["dataset"].iloc[0], figures.method_colors(["generic", "fixed", "dynamic", *run.methods])
    shown = domains.loc[domains["share"] > 0].sort_values("share")
    x = shown["share"].to_numpy()
    xlim = (x.min() / 2, x.max() * 2)
    fig, ax = plt.subplots(figsize=(10, 6.5), layout="constrained")
    ax.set_xscale("log")
    ax.set_xlim(*xlim)
    handles = []
    if shown["is_sparse"].any():
        threshold = run.sparse_share_threshold
        ax.axvspan(xlim[0], threshold, color="0.92", zorder=0)
        handles.append(Patch(color="0.92", label=f"sparse domains (share < {share_label(threshold)})"))
    if np.allclose(shown["weight_generic"], 1.0):  # the usual case: a line, so that it shows under the others
        handles.append(ax.axhline(1.0, color=colors["generic"], linewidth=1.5, zorder=1, label="generic (every domain 1)"))
    else:
        handles += ax.plot(x, shown["weight_generic"], "-s", color=colors["generic"], ms=5, lw=1, label="generic")
    handles += ax.plot(x, shown["weight_fixed"], "-D", color=colors["fixed"], ms=5, lw=1,
                       label="fixed (PinnerFormerLite)")
    handles += ax.plot(x, shown["weight_dynamic"], "--o", color=colors["dynamic"], mfc="white",
                       mew=1.3, ms=7, lw=1, label="dynamic, initial (before training)")
    top = shown[["weight_generic", "weight_fixed", "weight_dynamic"]].to_numpy().max()
    for method, final in finals.groupby("method", sort=False):
        final = final.set_index("domain").reindex(shown["domain"])
        y, low, high = final["mean"].to_numpy(), final["min"].to_numpy(), final["max"].to_numpy()
        top = max(top, np.nanmax(high))
        epochs = (f"epoch {final['last_epoch'].max():.0f}" if final["first_epoch"].min() == final["last_epoch"].max()
                  else "the last epoch")
        seeds = f"(mean of {final['seeds'].max():.0f} seeds, min–max)" if final["seeds"].max() > 1 else "(1 seed)"
        handles.append(ax.errorbar(x, y, yerr=[y - low, high - y], fmt="o", ms=4.5, capsize=3, elinewidth=1,
                                   color=colors.get(method, "0.6"), label=f"{method}, after {epochs} {seeds}"))
    draw_bounds(ax, bounds(run), handles)
    ax.set_ylim(0, max(top, *bounds(run).values()) * 1.1)

    # Domain names above the plot, spread apart where shares are close, with a leader line each.
    labelled = shown if len(shown) <= 60 else shown.loc[shown["is_sparse"] | shown["fixed_target"]]
    if len(labelled) <= 80:
        logs = np.log10(labelled["share"].to_numpy())
        span = np.log10(xlim[1]) - np.log10(xlim[0])
        for (_, d), xt in zip(labelled.iterrows(), 10 ** spread_labels(logs, gap=span / 60)):
            ax.annotate(figures.escape_mathtext(d["domain"]), xy=(d["share"], 1.0), xycoords=("data", "axes fraction"),
                        xytext=(xt, 1.03), textcoords=("data", "axes fraction"), rotation=90, ha="center",
                        va="bottom", fontsize=8, fontweight="bold" if d["is_sparse"] else "normal",
                        arrowprops=dict(arrowstyle="-", color="0.6", linewidth=0.6), annotation_clip=False)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
    ax.set_xlabel("domain share of the training interactions (log scale)")
    ax.set_ylabel("loss weight of a positive of the domain")
    ax.grid(color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(handles=handles, loc="upper right", fontsize=8.5, framealpha=0.95)
    fig.suptitle(f"{dataset}: loss weight of each domain against its share "
                 f"({len(shown)} domains, {int(shown['is_sparse'].sum())} sparse)", fontsize=11)
    return fig


def trajectory_figure(run: Run, traj: pd.DataFrame, domains: pd.DataFrame):
    """Weight of each domain after every epoch (mean over seeds) and its change since epoch 0."""
    dataset, method = traj["dataset"].iloc[0], traj["method"].iloc[0]
    info = domains.set_index("domain")
    positive = info.loc[info["share"] > 0, "share"]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max() if positive.max() > positive.min() else positive.min() * 10)
    cmap = plt.get_cmap("viridis")
    first, last = int(traj["epoch"].min()), int(traj["epoch"].max())
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8.5), sharex=True, height_ratios=[3, 2], layout="constrained")
    n_seeds = int(traj["seeds"].max())
    markers = "o" if last - first <= 30 else None
    ends = []
    order = [d for d in info.index if d in set(traj["domain"])] + sorted(set(traj["domain"]) - set(info.index))
    for domain in order:  # densest first, so that the sparse lines are drawn on top
        t = traj.loc[traj["domain"] == domain].sort_values("epoch")
        share = info["share"].get(domain, 0.0)
        color = cmap(norm(share)) if share > 0 else "0.5"
        sparse = bool(info["is_sparse"].get(domain, False))
        style = dict(linewidth=2.2, zorder=3) if sparse else dict(linewidth=1.0, alpha=0.7, zorder=2)
        top.plot(t["epoch"], t["mean"], color=color, marker=markers, ms=3.5 if sparse else 2.5, **style)
        if sparse and n_seeds > 1:
            top.fill_between(t["epoch"], t["min"], t["max"], color=color, alpha=0.18, linewidth=0, zorder=1)
        start = t["mean"].iloc[0]
        bottom.plot(t["epoch"], 100 * (t["mean"] / start - 1), color=color, marker=markers,
                    ms=3.5 if sparse else 2.5, **style)
        if sparse:
            ends.append((t["mean"].iloc[-1], t["epoch"].iloc[-1], domain, color))

    handles = [Line2D([], [], color="0.3", linewidth=2.2, label="sparse domain (labelled)"),
               Line2D([], [], color="0.3", linewidth=1.0, alpha=0.7, label="dense domain")]
    draw_bounds(top, bounds(run), handles)
    values = [traj["min"].min(), traj["max"].max(), *bounds(run).values()]
    pad = 0.05 * (max(values) - min(values) or 1.0)
    top.set_ylim(min(values) - pad, max(values) + pad)
    span = max(last - first, 1)
    top.set_xlim(first - 0.03 * span - 0.1, last + 0.3 * span + 0.5)  # room on the right for the labels

    # The names of the sparse domains at the right end of their lines, spread apart vertically (at most 30).
    ends.sort()
    if ends and len(ends) <= 30:
        low, high = top.get_ylim()
        positions = spread_labels(np.array([e[0] for e in ends]), gap=(high - low) / 32)
        for (y, x, domain, color), yt in zip(ends, positions):
            top.annotate(figures.escape_mathtext(domain), xy=(x, y), xytext=(last + 0.08 * span + 0.2, yt), fontsize=8,
                         va="center", color="0.15", arrowprops=dict(arrowstyle="-", color="0.6", linewidth=0.6))
    top.set_ylabel("loss weight (mean over seeds)")
    top.legend(handles=handles, loc="upper left", fontsize=8.5, framealpha=0.95)
    top.grid(color="0.88", linewidth=0.6)
    bottom.axhline(0, color="black", linewidth=0.8)
    bottom.set_ylabel("change since epoch 0 (%)")
    bottom.set_xlabel("epoch (0: before training)")
    bottom.grid(color="0.88", linewidth=0.6)
    bottom.set_xticks([t for t in MaxNLocator(integer=True).tick_values(first, last) if first <= t <= last])
    colorbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=[top, bottom], shrink=0.9, pad=0.01)
    colorbar.set_label("domain share of the training interactions (log scale)")
    colorbar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.2g}%"))
    colorbar.ax.yaxis.set_minor_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.2g}%"))
    colorbar.ax.tick_params(which="both", labelsize=8)
    fig.suptitle(f"{dataset}, {method}: loss weight of each domain during training "
                 f"(mean of {n_seeds} seed{'s' if n_seeds > 1 else ''})", fontsize=11)
    return fig


_INPUTS = artifacts("domains", "weights")
TABLES = {
    "domain_weights": Table(_INPUTS, domain_table, domain_latex),
    "final_weights": Table(_INPUTS, final_table, final_latex),
    "weight_trajectories": Table(_INPUTS, trajectory_table, trajectory_latex),
}

"""The run outputs of every (dataset, method, seed) of the run that the report reads: training
histories, timings and the Snakemake benchmark files of the jobs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqrec.io import read_json
from seqrec.report.run import Run

HISTORY_COLUMNS = ["epoch", "train_loss"]
TIMING_KEYS = ["device", "threads", "epochs", "best_epoch", "wall_seconds", "train_seconds", "seconds_per_epoch",
               "weighting_seconds", "weighting_share_of_training", "resumed_after_epoch"]
BENCHMARK_COLUMNS = ["s", "max_rss", "max_uss", "cpu_time"]
BENCHMARKS = {"train": "train_benchmark", "evaluate": "evaluate_benchmark"}


def each_run(run: Run):
    """(method, seed) of every training of the run, in the config's order."""
    for method in run.methods:
        for seed in run.seeds:
            yield method, seed


def validation_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """The validation NDCG@k and Recall@k columns of a history (k: the cut-off the train step selects on)."""
    ndcg = next(c for c in frame.columns if c.startswith("valid_ndcg@"))
    return ndcg, ndcg.replace("ndcg", "recall")


def histories(run: Run, dataset: str) -> pd.DataFrame:
    frames = []
    for method, seed in each_run(run):
        path = run.path("history", dataset=dataset, method=method, seed=seed)
        frame = pd.read_csv(path)
        missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
        if missing or not any(c.startswith("valid_ndcg@") for c in frame.columns):
            raise ValueError(f"{path}: columns {missing or ['valid_ndcg@k']} missing; rerun the train step of this run.")
        frames.append(frame.assign(method=method, seed=seed).sort_values("epoch"))
    return pd.concat(frames, ignore_index=True)


def timings(run: Run, dataset: str) -> pd.DataFrame:
    rows = []
    for method, seed in each_run(run):
        path = run.path("timing", dataset=dataset, method=method, seed=seed)
        timing = read_json(path)
        missing = [key for key in TIMING_KEYS if key not in timing and key != "resumed_after_epoch"]
        if missing:
            raise ValueError(f"{path}: keys {missing} missing; rerun the train step of this run.")
        rows.append({"dataset": dataset, "method": method, "seed": seed,
                     **{key: timing.get(key, 0) for key in TIMING_KEYS}})
    frame = pd.DataFrame(rows)
    return frame.assign(train_seconds_per_epoch=frame["train_seconds"] / frame["epochs"])


def benchmarks(run: Run, dataset: str) -> pd.DataFrame:
    """One row per benchmark file of the train and evaluate jobs (the mean of its rows if it has several)."""
    rows = []
    for step, artifact in BENCHMARKS.items():
        for method, seed in each_run(run):
            frame = pd.read_csv(run.path(artifact, dataset=dataset, method=method, seed=seed), sep="\t")
            values = {c: pd.to_numeric(frame[c], errors="coerce").mean() if c in frame.columns else np.nan
                      for c in BENCHMARK_COLUMNS}
            rows.append({"dataset": dataset, "step": step, "method": method, "seed": seed, **values})
    return pd.DataFrame(rows, columns=["dataset", "step", "method", "seed", *BENCHMARK_COLUMNS])


def all_datasets(run: Run, read) -> pd.DataFrame:
    return pd.concat([read(run, d) for d in run.datasets], ignore_index=True)

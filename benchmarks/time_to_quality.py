"""Validation NDCG@10 of `generic` (or `--method`) against training time on real MovieLens, for one
or several training recipes side by side, and the time each takes to reach given thresholds.

    PYTHONPATH=src python benchmarks/time_to_quality.py --dataset movielens-100k --raw resources/raw/movielens-100k \
        --k-core 1 --set train.max_len=50 --thresholds 0.067 \
        --recipe "lr 0.001, batch 128=" --recipe "lr 0.01, batch 64=train.lr=0.01,train.batch_size=64" \
        --figure docs/figures/time_to_quality_ml-100k.png
    PYTHONPATH=src python benchmarks/time_to_quality.py --dataset movielens-1m --raw resources/raw/movielens-1m \
        --config config/paper.yaml --thresholds 0.15 0.18

`--raw` is the dataset's raw folder laid out as the workflow expects (e.g. `ml-100k/u.data` inside
it). The data is prepared (k-core, leave-one-out) once into a temporary folder, then the method trains
once per recipe with the given config (schema defaults without one), the `--set section.key=value`
overrides, then the recipe's own (`--recipe "LABEL=section.key=value,..."`; without any, one recipe
of the config as it is). Prints one line per epoch (training seconds so far, wall seconds so far,
validation NDCG@10 and Recall@10), then per recipe the training time at which each threshold is
first reached and the test metrics of the best epoch; `--figure` draws the curves.

Anchor (issue 10.4, measured on a 2-core CPU): RecBole 1.2.1's SASRec with full cross-entropy,
max_len 50, batch 256, on ML-100K unfiltered and leave-one-out, first reaches validation NDCG@10
0.067 after 7 epochs, about 930 s of training.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from seqrec.config import load_config, merge, validate_config
from seqrec.evaluate import EvalFiles, evaluate
from seqrec.prepare import prepare
from seqrec.train import RunFiles, train
from seqrec.weighting import SparsityFiles, sparsity_step


def parse_override(text: str) -> dict:
    """`train.lr=0.003` -> {"train": {"lr": 0.003}} (the value read as YAML)."""
    key, _, value = text.partition("=")
    override: dict = yaml.safe_load(value)
    for part in reversed(key.split(".")):
        override = {part: override}
    return override


def parse_recipe(text: str) -> tuple[str, list[dict]]:
    """`"lr 0.01=train.lr=0.01,train.batch_size=64"` -> ("lr 0.01", [{"train": {"lr": 0.01}}, ...])."""
    label, _, overrides = text.partition("=")
    return label, [parse_override(part) for part in overrides.split(",") if part]


def train_recipe(data: Path, sparsity: Path, work: Path, dataset: str, method: str, config: dict, seed: int,
                 threads: int) -> tuple[pd.DataFrame, pd.Series]:
    """Trains and evaluates `method`; returns its history and the test metrics (k = 10) of the best epoch."""
    run = RunFiles.in_folder(work / "run")
    train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet", run,
          dataset, method, seed, config, threads)
    history = pd.read_csv(run.history)
    evaluate(data / "interactions.parquet", data / "items.parquet", sparsity / "power_users.parquet",
             run.model, EvalFiles.in_folder(work), config, threads)
    test = pd.read_parquet(work / "metrics.parquet")
    history["train_s"] = history["train_seconds"].cumsum()
    history["wall_s"] = history["epoch_seconds"].cumsum()
    return history, test[(test["scope"] == "overall") & (test["k"] == 10)].set_index("metric")["value"]


def first_reached(history: pd.DataFrame, threshold: float) -> str:
    reached = history[history["valid_ndcg@10"] >= threshold]
    if not len(reached):
        return "not reached"
    first = reached.iloc[0]
    return f"epoch {int(first['epoch'])}, {first['train_s']:.1f} s ({first['wall_s']:.1f} s with validation)"


def draw(curves: dict[str, pd.DataFrame], thresholds: list[float], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for label, history in curves.items():
        axis.plot(history["train_s"], history["valid_ndcg@10"], marker=".", label=label)
    for threshold in thresholds:
        axis.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("training time (s, validation excluded)")
    axis.set_ylabel("validation NDCG@10")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="movielens-100k", choices=["movielens-100k", "movielens-1m"])
    parser.add_argument("--raw", type=Path, required=True, help="the dataset's raw folder (resources/raw/<dataset>)")
    parser.add_argument("--k-core", type=int, default=5)
    parser.add_argument("--config", type=Path, help="a config file (default: the schema's defaults)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="config override of every recipe")
    parser.add_argument("--recipe", action="append", default=[], metavar="LABEL=SECTION.KEY=VALUE,...",
                        help="a recipe: a label and its overrides (repeatable)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.067])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--method", default="generic", choices=["generic", "fixed", "dynamic"],
                        help="the method every recipe trains")
    parser.add_argument("--figure", type=Path, help="a PNG of the curves")
    args = parser.parse_args()

    config = load_config(args.config) if args.config else validate_config({})
    for text in args.set:
        config = merge(config, parse_override(text))
    config = merge(config, {"train": {"threads": args.threads}})
    recipes = [parse_recipe(text) for text in args.recipe] or [("config", [])]
    curves, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data, sparsity = tmp / "data", tmp / "sparsity"
        base = validate_config(config)
        info = prepare(args.dataset, args.raw, data, k_core=args.k_core, options=base["prepare"])
        sparsity_step(data / "interactions.parquet", data / "items.parquet", SparsityFiles.in_folder(sparsity),
                      args.dataset, base["sparsity"])
        print(f"{args.dataset}, {args.k_core}-core: {info['n_users']} users, {info['n_items']} items, "
              f"{info['n_interactions']} interactions", flush=True)
        for number, (label, overrides) in enumerate(recipes):
            recipe_config = config
            for override in overrides:
                recipe_config = merge(recipe_config, override)
            recipe_config = validate_config(recipe_config)
            print(f"\n== {label}: train settings {json.dumps(recipe_config['train'], sort_keys=True)}", flush=True)
            curves[label], results[label] = train_recipe(data, sparsity, tmp / f"recipe{number}", args.dataset,
                                                         args.method, recipe_config, args.seed, args.threads)
            print(curves[label][["epoch", "train_s", "wall_s", "valid_ndcg@10", "valid_recall@10"]]
                  .to_string(index=False), flush=True)
    print()
    for label, history in curves.items():
        print(f"== {label}")
        for threshold in args.thresholds:
            print(f"  validation NDCG@10 >= {threshold}: {first_reached(history, threshold)}")
        print(f"  best validation NDCG@10 {history['valid_ndcg@10'].max():.4f}; test (best validation epoch): "
              f"NDCG@10 {results[label]['ndcg']:.4f}, Recall@10 {results[label]['recall']:.4f}")
    if args.figure:
        draw(curves, args.thresholds, f"{args.method} on {args.dataset} ({args.k_core}-core filter), {args.threads} threads",
             args.figure)


if __name__ == "__main__":
    main()

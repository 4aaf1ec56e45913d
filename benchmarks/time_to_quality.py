"""Validation NDCG@10 of `generic` against training time on real MovieLens, and the time to reach given
thresholds.

    PYTHONPATH=src python benchmarks/time_to_quality.py --dataset movielens-100k --raw resources/raw/movielens-100k \
        --k-core 1 --set train.max_len=50 --thresholds 0.067
    PYTHONPATH=src python benchmarks/time_to_quality.py --dataset movielens-1m --raw resources/raw/movielens-1m \
        --config config/paper.yaml --thresholds 0.15 0.18

`--raw` is the dataset's raw folder laid out as the workflow expects (e.g. `ml-100k/u.data` inside
it). The data is prepared (k-core, leave-one-out) into a temporary folder, then `generic` trains
with the given config (schema defaults without one) and `--set section.key=value` overrides. Prints
one line per epoch (training seconds so far, wall seconds so far, validation NDCG@10 and Recall@10),
then the training time at which each threshold is first reached, and the test metrics of the best
epoch.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="movielens-100k", choices=["movielens-100k", "movielens-1m"])
    parser.add_argument("--raw", type=Path, required=True, help="the dataset's raw folder (resources/raw/<dataset>)")
    parser.add_argument("--k-core", type=int, default=5)
    parser.add_argument("--config", type=Path, help="a config file (default: the schema's defaults)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="config override")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.067])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    config = load_config(args.config) if args.config else validate_config({})
    for text in args.set:
        config = merge(config, parse_override(text))
    config = validate_config(merge(config, {"train": {"threads": args.threads}}))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        info = prepare(args.dataset, args.raw, tmp / "data", k_core=args.k_core, options=config["prepare"])
        sparsity_step(tmp / "data" / "interactions.parquet", tmp / "data" / "items.parquet",
                      SparsityFiles.in_folder(tmp / "sparsity"), args.dataset, config["sparsity"])
        print(f"{args.dataset}, {args.k_core}-core: {info['n_users']} users, {info['n_items']} items, "
              f"{info['n_interactions']} interactions; train settings {json.dumps(config['train'], sort_keys=True)}",
              flush=True)
        data, run = tmp / "data", RunFiles.in_folder(tmp / "run")
        train(data / "interactions.parquet", data / "items.parquet", tmp / "sparsity" / "domains.parquet", run,
              args.dataset, "generic", args.seed, config, args.threads)
        history = pd.read_csv(run.history)
        evaluate(data / "interactions.parquet", data / "items.parquet", tmp / "sparsity" / "power_users.parquet",
                 run.model, EvalFiles.in_folder(tmp), config, args.threads)
        test = pd.read_parquet(tmp / "metrics.parquet")
    history["train_s"] = history["train_seconds"].cumsum()
    history["wall_s"] = history["epoch_seconds"].cumsum()
    print(history[["epoch", "train_s", "wall_s", "valid_ndcg@10", "valid_recall@10"]].to_string(index=False))
    for threshold in args.thresholds:
        reached = history[history["valid_ndcg@10"] >= threshold]
        when = (f"epoch {int(reached['epoch'].iloc[0])}, {reached['train_s'].iloc[0]:.1f} s of training "
                f"({reached['wall_s'].iloc[0]:.1f} s with validation)") if len(reached) else "not reached"
        print(f"validation NDCG@10 >= {threshold}: {when}")
    overall = test[(test["scope"] == "overall") & (test["k"] == 10)].set_index("metric")["value"]
    print(f"test (best validation epoch): NDCG@10 {overall['ndcg']:.4f}, Recall@10 {overall['recall']:.4f}")


if __name__ == "__main__":
    main()

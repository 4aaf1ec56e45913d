"""What config/paper.yaml costs: measured epoch and evaluation times per dataset and method, and the
extrapolated wall time of the whole reproduction on a 2-core CPU (and, from measured rates, a GPU).

    PYTHONPATH=src python benchmarks/cost.py [--threads 1 2] [--steps 6] [--eval-batches 4]
        [--sample-users 12800] [--epochs 70 200] [--shape yelp=USERS,ITEMS,INTERACTIONS]

Data: for each dataset of paper.yaml, synthetic data (seqrec.datasets.synthetic, split leave-one-out,
no k-core filter) of its shape after the 5-core filter (SHAPES below says where each shape comes from). A dataset
with more than `--sample-users` users is generated with that many users and the same items and
interactions per user: a training batch's cost depends on the lengths in it and the catalogue,
not on how many users there are, so the mean step measured on the sample, times the full
dataset's number of batches, is its epoch.

Measured, per number of threads (each in its own process, the methods one after another, SIGMA
last): for every method of paper.yaml (a `<baseline>+dynamic` costs as its baseline, its weighting
being the dynamic one's few vector operations), the mean training step over `--steps` of an
epoch's length-grouped batches spread over their widths (benchmarks/sampled.py) and the mean
full-ranking evaluation batch (paper.yaml's evaluate section) over `--eval-batches` batches; the
epoch is batches x mean step, an evaluation of every user batches x mean batch (on a sample of
users, batches of 1,024 drawn from it with the lengths of the full dataset's batches at the same
place of the length order: a batch's cost depends on its rows, their lengths and the catalogue). CALRec gets random
unit vectors as item texts (the cost of its sentence encoder, run once per dataset, is not
included).

Extrapolated: one training = E epochs x (epoch + one validation over every user) + one test
evaluation; CALRec adds its target-domain stage (paper.yaml: 5 epochs), pop is fitted in one pass.
paper.yaml = every dataset x every method x its 3 seeds + the ablation variants with runs of their
own (13 of the schema's 15: log_inverse_frequency and fixed_2 repeat dynamic and fixed) x the ablation seeds
(default [1]). E is not known before training (early stopping,
patience 10): the table gives each of `--epochs`. On a 2-core CPU the jobs run either one at a time
with 2 threads (the 2-thread wall times) or two side by side with 1 thread each (half the sum of the
1-thread CPU times). Not included: download, prepare and sparsity (benchmarks/scale.py), CALRec's
text encoding, aggregation and notebooks.

GPU: no GPU is measured here. The GPU column extrapolates README's H200 rates for `generic`
(1.25 M training positions/s at batch 128 with every batch padded to 200, 290,000 evaluated
users/s at 3,700 items) to the generic, fixed, dynamic and ablation trainings only. That rate was
measured with the sampled softmax; with `loss: full_softmax` it holds for small catalogues only.

Memory: the full softmax holds about 3 x positions x items float32 (logits, their log-softmax and
gradient): a batch of 128 x 200 positions needs 18-19 GiB at 59-63 k items, more than a 24 GiB
machine leaves; this script's sampled batches stop short of the widest one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import sampled

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIG = ROOT / "config" / "paper.yaml"
# Users, items, interactions after the 5-core filter, and where the figures come from.
SHAPES = {
    "movielens-1m": (6_040, 3_416, 999_611, "docs/datasets.md (the real file, 5-core)"),
    "amazon-electronics-2014": (192_403, 63_001, 1_689_188, "the 5-core file's published counts"),
    "yelp": (280_000, 95_000, 4_300_000, "ASSUMED (no Yelp file here): replace with --shape"),
    "lastfm-hetrec": (1_900, 17_000, 91_200, "benchmarks/padding.py's LastFM shape (48 a user)"),
}
GPU_POSITIONS_PER_S = 1.25e6  # README, Benchmarks: H200, bf16, generic, batch 128
GPU_USERS_PER_S = 290_000.0  # README, Benchmarks: H200, full ranking over 3,700 items
TEXT_DIM = 384  # all-MiniLM-L6-v2, paper.yaml's text encoder


# ---------------------------------------------------------------- the parent

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=6, help="training steps timed per method and dataset")
    parser.add_argument("--eval-batches", type=int, default=4, help="evaluation batches timed per architecture")
    parser.add_argument("--eval-batch-size", type=int, default=None,
                        help="evaluation batch size (default: paper.yaml's evaluate.batch_size)")
    parser.add_argument("--sample-users", type=int, default=12_800)
    parser.add_argument("--epochs", type=int, nargs="+", default=[70, 200],
                        help="epochs per training to extrapolate with (paper.yaml: max_epochs 200, patience 10)")
    parser.add_argument("--shape", action="append", default=[], metavar="DATASET=USERS,ITEMS,INTERACTIONS",
                        help="another shape for a dataset (e.g. the counts of its dataset.json)")
    parser.add_argument("--datasets", nargs="+", default=None, help="a subset of paper.yaml's datasets")
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shapes = dict(SHAPES)
    for given in args.shape:
        name, _, counts = given.partition("=")
        if name not in shapes or len(counts.split(",")) != 3:
            parser.error(f"--shape {given}: expected DATASET=USERS,ITEMS,INTERACTIONS with DATASET one of "
                         f"{', '.join(shapes)}")
        shapes[name] = (*map(int, counts.split(",")), "given with --shape")
    config = paper_config()
    datasets = args.datasets or config["datasets"]
    if args.child_threads:
        print("RESULT " + json.dumps(measure(args, config, {d: shapes[d] for d in datasets})), flush=True)
        return

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; paper.yaml train settings, CPU", flush=True)
    measured = {threads: child(threads, args) for threads in args.threads}
    report(measured, config, datasets, shapes, args.epochs)


def child(threads: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child-threads", str(threads), *sys.argv[1:]]
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    line = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")][-1]
    print(f"threads {threads}: measured in {time.perf_counter() - start:.0f} s (load {os.getloadavg()[0]:.1f})",
          flush=True)
    return json.loads(line[len("RESULT "):])


def paper_config() -> dict:
    from seqrec.config import load_config

    config = load_config(PAPER_CONFIG)
    config["train"]["device"] = "cpu"
    return config


def baseline(method: str) -> str:
    """The method whose cost `method` has: a `<baseline>+<weighting>` costs as its baseline."""
    return method.split("+")[0]


# ---------------------------------------------------------------- the child: measurements

def measure(args: argparse.Namespace, config: dict, shapes: dict) -> dict:
    import torch

    from seqrec.device import configure_threads
    from seqrec.methods import get_method
    from seqrec.train import Trainer, seed_everything, trainer_class

    configure_threads(args.child_threads)
    methods = sorted(dict.fromkeys(baseline(m) for m in config["methods"]), key=lambda m: m == "sigma")  # SIGMA last
    out = {}
    for dataset, (users, items, interactions, _) in shapes.items():
        frames = sample_data(users, items, interactions, args.sample_users, config)
        row = out[dataset] = {"sample_users": frames[3], "methods": {}}
        evaluation = {}
        for method in methods:
            seed_everything(1)
            text = None
            if get_method(method).needs_item_text:
                text = torch.nn.functional.normalize(torch.randn(items + 1, TEXT_DIM), dim=-1)
            # "synthetic": the sampled data has the generator's domains, not the dataset's.
            trainer: Trainer = trainer_class(method, config)(*frames[:3], method, "synthetic", config,
                                                               torch.device("cpu"), text)
            row["training_sequences"] = len(trainer.inputs)
            row["positions"] = int(trainer.targets.ne(0).sum())
            result = {}
            if not trainer.fitted:
                steps = sampled.training_steps(trainer, args.steps)
                result.update(step_wall=steps.wall, step_cpu=steps.cpu, steps=steps.timed)
            architecture = get_method(method).architecture
            if architecture not in evaluation:  # the weightings share their architecture's evaluation
                batches = sampled.evaluation_batches(
                    trainer.model, trainer.valid, args.eval_batch_size or config["evaluate"]["batch_size"],
                    args.eval_batches, config["evaluate"]["mask_history"], n_cases=users)
                evaluation[architecture] = {f"evaluation_{kind}": batches.total(kind) for kind in ("wall", "cpu")}
            row["methods"][method] = {**result, **evaluation[architecture]}
            print(f"  {dataset} {method}: {row['methods'][method]}", file=sys.stderr, flush=True)
    return out


def sample_data(users: int, items: int, interactions: int, sample_users: int, config: dict):
    """(interactions, items, domain table, users generated): `min(users, sample_users)` users with the
    shape's interactions per user over the shape's whole catalogue, split leave-one-out. Not through
    `prepare`, which keeps only the items the sample's users met: the catalogue stays whole."""
    from seqrec.datasets import synthetic
    from seqrec.splits import leave_one_out
    from seqrec.weighting import domain_table, fixed_targets

    n_users = min(users, sample_users)
    raw, item_table = synthetic.generate(n_users=n_users, n_items=items,
                                         n_interactions=round(interactions * n_users / users))
    table = leave_one_out(raw.assign(item=raw["item"] + 1))  # item 0 is the padding id
    item_table = item_table.assign(item=item_table["item"] + 1)
    domains = domain_table(table, item_table, config["sparsity"]["sparse_share_threshold"])
    domains["fixed_target"] = domains["domain"].isin(fixed_targets(domains, None, "benchmark"))
    return table, item_table, domains, n_users


# ---------------------------------------------------------------- the parent: tables

def report(measured: dict, config: dict, datasets: list[str], shapes: dict, epoch_counts: list[int]) -> None:
    batch_size = config["train"]["batch_size"]
    one = measured[min(measured)]
    print("\n| dataset | users | items | interactions | training positions (max_len 200) | shape from |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for dataset in datasets:
        users, items, interactions, source = shapes[dataset]
        scale = users / one[dataset]["sample_users"]
        print(f"| {dataset} | {users:,} | {items:,} | {interactions:,} | "
              f"{one[dataset]['positions'] * scale:,.0f} | {source} |")

    def costs(dataset: str, method: str, threads: int, kind: str) -> tuple[float, float]:
        """(epoch seconds, seconds of one evaluation of every user) of `method` on the full dataset."""
        row = measured[threads][dataset]
        scale = shapes[dataset][0] / row["sample_users"]
        numbers = row["methods"][baseline(method)]
        epoch = numbers.get(f"step_{kind}", 0.0) * math.ceil(row["training_sequences"] * scale / batch_size)
        return epoch, numbers[f"evaluation_{kind}"]

    methods = list(dict.fromkeys(baseline(m) for m in config["methods"]))
    columns = [(t, "cpu" if t == 1 else "wall") for t in sorted(measured)]
    print("\nEpoch and one evaluation of every user (validation or test), seconds on this CPU "
          "(1 thread: CPU s of the process; 2 threads: wall s, under the load above):\n")
    print("| dataset | method | " + " | ".join(f"epoch, {t} thread{'s' * (t > 1)}" for t, _ in columns) + " | "
          + " | ".join(f"evaluation, {t} thread{'s' * (t > 1)}" for t, _ in columns) + " |")
    print("| --- | --- |" + " --- |" * (2 * len(columns)))
    for dataset in datasets:
        for method in methods:
            numbers = [costs(dataset, method, t, kind) for t, kind in columns]
            epochs = " | ".join("fitted" if method == "pop" else f"{e:,.1f}" for e, _ in numbers)
            print(f"| {dataset} | {method} | {epochs} | " + " | ".join(f"{v:,.1f}" for _, v in numbers) + " |")

    runs = training_runs(config)
    stage_epochs = config["train"]["target_domain_stage"]["epochs"]
    print(f"\npaper.yaml: {sum(runs.values())} trainings per dataset "
          f"({', '.join(f'{m} x{n}' for m, n in runs.items())}), each E epochs (+{stage_epochs} for CALRec's "
          "second stage) with a validation after each, and a test evaluation.\n")
    labels = {1: "two 1-thread jobs side by side", 2: "jobs of 2 threads one at a time"}
    print("| dataset | E | " + " | ".join(f"2-core CPU, {labels.get(t, f'{t} threads')}" for t, _ in columns)
          + " | GPU (extrapolated, generic/fixed/dynamic/ablations only) |")
    print("| --- | --- |" + " --- |" * (len(columns) + 1))
    for epochs in epoch_counts:
        totals = []
        for dataset in datasets:
            cells = []
            for t, kind in columns:
                seconds = 0.0
                for method, count in runs.items():
                    epoch, evaluation = costs(dataset, method, t, kind)
                    n = 1 if method == "pop" else epochs + stage_epochs * (method == "calrec")
                    seconds += count * (n * (epoch + evaluation) + evaluation)
                cells.append(seconds * t / 2)  # 2 / t jobs run side by side on the 2 cores
            cells.append(gpu_seconds(dataset, runs, epochs, measured, shapes))
            totals.append(cells)
            print(f"| {dataset} | {epochs} | " + " | ".join(duration(c) for c in cells) + " |")
        print(f"| **all** | {epochs} | " + " | ".join(duration(sum(c)) for c in zip(*totals)) + " |")


def training_runs(config: dict) -> dict:
    """Trainings per dataset by the method whose cost they have: every method on its seeds, and the
    ablation variants (each the fixed or dynamic method) on the ablation seeds, each distinct run
    once (a variant that repeats a method's config shares its runs, seqrec.config.run_of)."""
    from seqrec.config import run_of

    trained = {(baseline(run), run, seed) for run in config["methods"] for seed in config["seeds"]}
    ablations = config["ablations"]
    if ablations["enabled"]:
        trained |= {(variant["method"], run_of(config, name), seed) for name, variant in ablations["variants"].items()
                    for seed in ablations["seeds"]}
    runs: dict[str, int] = {}
    for method, _, _ in trained:
        runs[method] = runs.get(method, 0) + 1
    return runs


def gpu_seconds(dataset: str, runs: dict, epochs: int, measured: dict, shapes: dict) -> float:
    row = measured[min(measured)][dataset]
    users = shapes[dataset][0]
    positions = row["positions"] * users / row["sample_users"]
    evaluation = users / GPU_USERS_PER_S
    count = sum(n for method, n in runs.items() if method in ("generic", "fixed", "dynamic"))
    return count * (epochs * (positions / GPU_POSITIONS_PER_S + evaluation) + evaluation)


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:,.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


if __name__ == "__main__":
    main()

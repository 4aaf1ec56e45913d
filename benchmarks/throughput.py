"""Training and evaluation speed on an ML-1M-sized synthetic dataset, and the cost of dynamic weighting.

    PYTHONPATH=src python benchmarks/throughput.py [--users 6040 --items 3700 --interactions 1000000]
        [--max-len 200] [--steps 20] [--device auto] [--threads N] [--methods pop generic ...]

Prints: training positions per second (generic and dynamic), evaluation users per second, the time
of the weighting section (EMA update + weight gather) as a share of the dynamic step, and the ratio
of dynamic to generic step time (steps interleaved to cancel drift). Then, for every method, the
mean training step, the time of one epoch (batches per epoch x mean step, from `--steps` steps
after a warm-up) and the time of the full-ranking test evaluation. The steps are the first `--steps`
batches of a training epoch (batches of similar length, each cut to its longest sequence, in random
order: a random sample of the epoch's batches).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from seqrec.config import load_schema, validate_config
from seqrec.device import SectionTimer, configure_threads, pick_device
from seqrec.evaluate import rank_cases
from seqrec.methods import METHODS, get_method
from seqrec.sequences import evaluation_cases
from seqrec.text import encode_items
from seqrec.train import Trainer, seed_everything

from shaped import shaped_tables

# The methods a run of the default config trains; any method of the registry can be chosen.
MAIN_METHODS = load_schema()["properties"]["methods"]["default"]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=6040)
    parser.add_argument("--items", type=int, default=3700)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--methods", nargs="+", default=MAIN_METHODS, choices=list(METHODS),
                        help="methods whose epoch and evaluation times are measured")
    args = parser.parse_args()

    configure_threads(args.threads)
    device = pick_device(args.device)
    seed_everything(0)
    config = validate_config({"train": {"max_len": args.max_len, "batch_size": args.batch_size,
                                        "device": args.device}})
    t0 = time.perf_counter()
    interactions, items, domains = shaped_tables(args.users, args.items, args.interactions,
                                                 config["sparsity"]["sparse_share_threshold"])
    print(f"data: {interactions['user'].nunique()} users, {len(items)} items, {len(interactions)} interactions, "
          f"{len(domains)} domains ({time.perf_counter() - t0:.1f}s to generate and prepare)")
    print(f"device: {device}, threads: {torch.get_num_threads()}, max_len {args.max_len}, batch {args.batch_size}")

    trainers = {m: Trainer(interactions, items, domains, m, "synthetic", config, device) for m in ("generic", "dynamic")}
    epoch = trainers["generic"].epoch_batches()
    batches = epoch[: args.steps]
    positions = [int(trainers["generic"].targets[rows, :width].ne(0).sum()) for rows, width in batches]
    for trainer in trainers.values():  # warm-up
        for batch in batches[:3]:
            trainer.train_step(batch, SectionTimer(device))
    step_seconds = {m: [] for m in trainers}
    weighting_timer = SectionTimer(device)
    for batch in batches:
        for method, trainer in trainers.items():
            synchronize(device)
            start = time.perf_counter()
            trainer.train_step(batch, weighting_timer if method == "dynamic" else SectionTimer(device))
            synchronize(device)
            step_seconds[method].append(time.perf_counter() - start)
    for method, seconds in step_seconds.items():
        print(f"train {method}: {sum(positions) / sum(seconds):,.0f} positions/s "
              f"(mean step {1000 * np.mean(seconds):.1f} ms)")
    dynamic_total = sum(step_seconds["dynamic"])
    print(f"weighting section: {1000 * weighting_timer.total() / args.steps:.3f} ms/step = "
          f"{100 * weighting_timer.total() / dynamic_total:.3f}% of the dynamic step time")
    ratio = np.median(step_seconds["dynamic"]) / np.median(step_seconds["generic"])
    print(f"step time dynamic / generic (median): {ratio:.4f} ({100 * (ratio - 1):+.2f}%, includes noise)")

    cases = evaluation_cases(interactions, "test", args.max_len, device)
    seconds = evaluation_seconds(trainers["dynamic"].model, cases, config, device)
    print(f"evaluate: {len(cases.users) / seconds:,.0f} users/s (full ranking over {len(items)} items, "
          f"history masked; {seconds:.2f}s for {len(cases.users)} users)")

    item_text = None
    if any(get_method(m).needs_item_text for m in args.methods):
        start = time.perf_counter()
        item_text = torch.as_tensor(encode_items(items, config["text"]["encoder"], config["text"]["batch_size"], device))
        print(f"item texts encoded in {time.perf_counter() - start:.1f}s ({config['text']['encoder']})")
    print(f"\n{'method':<22}{'step (ms)':>10}{'epoch (s)':>11}{'evaluate (s)':>14}")
    for method in args.methods:
        seed_everything(0)
        trainer = Trainer(interactions, items, domains, method, "synthetic", config, device, item_text)
        per_epoch = len(epoch)
        if trainer.fitted:
            step = 0.0
        else:
            for batch in batches[:3]:  # warm-up
                trainer.train_step(batch, SectionTimer(device))
            seconds = []
            for batch in batches:
                synchronize(device)
                start = time.perf_counter()
                trainer.train_step(batch, SectionTimer(device))
                synchronize(device)
                seconds.append(time.perf_counter() - start)
            step = float(np.mean(seconds))
        evaluate = evaluation_seconds(trainer.model, cases, config, device)
        print(f"{method:<22}{1000 * step:>10.1f}{per_epoch * step:>11.1f}{evaluate:>14.2f}", flush=True)


def evaluation_seconds(model: torch.nn.Module, cases, config: dict, device: torch.device) -> float:
    """Wall time of the full-ranking evaluation of `cases`, after a warm-up."""
    rank_cases(model, cases, config["evaluate"]["batch_size"])
    synchronize(device)
    start = time.perf_counter()
    rank_cases(model, cases, config["evaluate"]["batch_size"]).cpu()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()

"""Throughput of several trainings sharing one device: the measurement behind the number of trainings
the default profile lets run on one GPU at a time (issue: "A GPU is used well").

    PYTHONPATH=src python benchmarks/concurrency.py --device cuda --trainings 1 4 8 [--seconds 60]

Prepares ML-1M-shaped synthetic data once, then for each count N starts N processes at once, each
training `generic` with the paper settings on it (its own seed) for `--seconds` of steps after a
warm-up; prints per N the summed training positions per second of the N processes and the ratio to
one training alone. On a CPU the processes share the cores (`--threads` each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from seqrec import io
from seqrec.config import validate_config
from seqrec.datasets import synthetic
from seqrec.device import SectionTimer, configure_threads, pick_device
from seqrec.prepare import prepare
from seqrec.train import Trainer, seed_everything
from seqrec.weighting import domain_table, fixed_targets

WARM_UP_STEPS = 5


def settings(args: argparse.Namespace) -> dict:
    return validate_config({"train": {"loss": args.loss, "max_len": args.max_len, "batch_size": args.batch_size,
                                      "device": args.device}})


def worker(args: argparse.Namespace) -> None:
    """One training for `--seconds`: prints {"positions": ..., "seconds": ...} as JSON."""
    configure_threads(args.threads)
    device = pick_device(args.device)
    seed_everything(args.seed)
    config = settings(args)
    interactions = io.read_parquet(args.data / "interactions.parquet")
    items = io.read_parquet(args.data / "items.parquet")
    domains = domain_table(interactions, items, config["sparsity"]["sparse_share_threshold"])
    domains["fixed_target"] = domains["domain"].isin(fixed_targets(domains, None, "benchmark"))
    trainer = Trainer(interactions, items, domains, "generic", "synthetic", config, device)
    batches = trainer.epoch_batches()
    for batch in batches[:WARM_UP_STEPS]:
        trainer.train_step(batch, SectionTimer(device))
    positions, steps = torch.zeros((), dtype=torch.long, device=device), 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:  # steps are queued without a sync
        rows, width = batches[(WARM_UP_STEPS + steps) % len(batches)]
        trainer.train_step((rows, width), SectionTimer(device))
        positions += trainer.targets[rows, :width].ne(0).sum()
        steps += 1
    total = int(positions)  # waits for the queued steps
    print(json.dumps({"positions": total, "seconds": time.perf_counter() - start, "steps": steps}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainings", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=60.0, help="training time of each process")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of each process")
    parser.add_argument("--loss", default="full_softmax", choices=["full_softmax", "sampled_softmax"])
    parser.add_argument("--users", type=int, default=6040)
    parser.add_argument("--items", type=int, default=3700)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synthetic.write_raw(Path(tmp) / "raw", n_users=args.users, n_items=args.items,
                            n_interactions=args.interactions)
        prepare("synthetic", Path(tmp) / "raw", data)
        print(f"device {pick_device(args.device)}, {args.loss}, max_len {args.max_len}, batch {args.batch_size}, "
              f"{args.seconds:.0f} s of training per process, {args.threads} thread(s) each", flush=True)
        alone = None
        for count in args.trainings:
            command = [sys.executable, __file__, "--worker", "--data", str(data), "--seconds", str(args.seconds),
                       "--device", args.device, "--threads", str(args.threads), "--loss", args.loss,
                       "--max-len", str(args.max_len), "--batch-size", str(args.batch_size)]
            processes = [subprocess.Popen(command + ["--seed", str(seed)], stdout=subprocess.PIPE, text=True)
                         for seed in range(count)]
            results = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in processes]
            if any(process.returncode for process in processes):
                sys.exit(f"a training of the {count} concurrent ones failed")
            rate = sum(r["positions"] / r["seconds"] for r in results)
            alone = alone or rate / count  # the per-training rate of the first count (1 by default)
            print(f"{count} concurrent: {rate:,.0f} positions/s in all, {rate / count:,.0f} each; "
                  f"{rate / alone:.2f}x the rate of {args.trainings[0]} training(s) alone", flush=True)


if __name__ == "__main__":
    main()

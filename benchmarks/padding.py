"""Training cost follows the real data: epoch times of `generic` on an ML-1M-shaped and a LastFM-shaped
dataset, in one run, against their numbers of real training positions.

    PYTHONPATH=src python benchmarks/padding.py [--device auto] [--threads N]

Generates two synthetic datasets (seqrec.datasets.synthetic, no k-core filter so the shapes stay as
given): ML-1M's shape (6,040 users, 3,700 items, 1,000,209 interactions) and real LastFM's (1,900
users, 17,000 items, 48 interactions a user). Trains `generic` with the paper settings (max_len 200,
batch 128, d_model 64, 2 layers, 256 uniform + 256 in-batch negatives) for one untimed warm-up epoch
on the LastFM-shaped data, then one timed epoch on each dataset, and prints per dataset the real
training positions (positions with a next item), the positions the model computed (batch rows x
width, counted at the model's input), the epoch's wall time and the CPU time of this process
during it (the better measure of cost on a machine shared with other jobs), real positions per
wall second and the wall time of one validation; then the ratios ML-1M / LastFM of real positions,
of computed positions and of epoch times.

On a CPU shared with other jobs, wall times swing with their load; `--threads 1` and the CPU time
give the steadiest comparison (with more threads than free cores, waiting threads spin and burn CPU).

It uses only the trainer's public interface (Trainer, train_epoch, validate), so the numbers before
a change come from the same script run on another checkout's package: PYTHONPATH=<checkout>/src.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from seqrec.config import validate_config
from seqrec.device import SectionTimer, configure_threads, pick_device
from seqrec.train import Trainer, seed_everything

from shaped import shaped_tables

SHAPES = {  # users, items, interactions
    "ML-1M-shaped": (6040, 3700, 1_000_209),
    "LastFM-shaped": (1900, 17000, 1900 * 48),
}
PAPER_TRAIN = {"max_len": 200, "batch_size": 128, "d_model": 64, "n_layers": 2, "n_heads": 2,
               "n_uniform_negatives": 256, "n_inbatch_negatives": 256, "loss": "sampled_softmax"}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_trainer(shape: tuple[int, int, int], config: dict, device: torch.device) -> Trainer:
    table, item_table, domains = shaped_tables(*shape, config["sparsity"]["sparse_share_threshold"], k_core=1)
    return Trainer(table, item_table, domains, "generic", "synthetic", config, device)


def timed_epoch(trainer: Trainer, device: torch.device) -> dict:
    """One training epoch and one validation, timed; the positions the model computed, counted."""
    computed = []
    hook = trainer.model.register_forward_pre_hook(lambda module, args: computed.append(args[0].numel()))
    synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    trainer.train_epoch(1, SectionTimer(device))
    synchronize(device)
    epoch, epoch_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    hook.remove()
    start = time.perf_counter()
    trainer.validate()
    return {"real": int(trainer.targets.ne(0).sum()), "computed": sum(computed), "epoch": epoch,
            "epoch_cpu": epoch_cpu, "validate": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    configure_threads(args.threads)
    device = pick_device(args.device)
    config = validate_config({"train": {**PAPER_TRAIN, "device": args.device}})
    print(f"device: {device}, threads: {torch.get_num_threads()}, generic with "
          + ", ".join(f"{key} {value}" for key, value in PAPER_TRAIN.items()))
    seed_everything(0)
    trainers = {name: make_trainer(shape, config, device) for name, shape in SHAPES.items()}
    trainers["LastFM-shaped"].train_epoch(0, SectionTimer(device))  # warm-up, untimed
    results = {name: timed_epoch(trainer, device) for name, trainer in trainers.items()}

    print(f"\n{'data':<15}{'users':>7}{'items':>7}{'real positions':>16}{'computed':>11}{'padding':>9}"
          f"{'epoch (s)':>11}{'CPU (s)':>9}{'positions/s':>13}{'validate (s)':>14}")
    for name, result in results.items():
        trainer = trainers[name]
        print(f"{name:<15}{len(trainer.inputs):>7}{trainer.n_items:>7}{result['real']:>16,}{result['computed']:>11,}"
              f"{1 - result['real'] / result['computed']:>9.0%}{result['epoch']:>11.2f}{result['epoch_cpu']:>9.2f}"
              f"{result['real'] / result['epoch']:>13,.0f}{result['validate']:>14.2f}")
    ml, lastfm = results["ML-1M-shaped"], results["LastFM-shaped"]
    print(f"\nML-1M / LastFM: real positions {ml['real'] / lastfm['real']:.1f}x, "
          f"computed positions {ml['computed'] / lastfm['computed']:.1f}x, "
          f"epoch time {ml['epoch'] / lastfm['epoch']:.1f}x (CPU time {ml['epoch_cpu'] / lastfm['epoch_cpu']:.1f}x)")


if __name__ == "__main__":
    main()

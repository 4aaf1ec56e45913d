"""SIGMA's selective scan: the parallel (chunked) form against the step-by-step loop, and a SIGMA training
step against a `generic` one, side by side in one run.

    PYTHONPATH=src python benchmarks/scan.py [--threads 2] [--repeats 3] [--steps 5] [--device auto]
        [--chunk-sizes 8 16 32] [--users 6040 --items 3700 --interactions 1000000] [--reference FILE]
        [--loss sampled_softmax|full_softmax]

Data: an ML-1M-shaped synthetic dataset (seqrec.datasets.synthetic), the settings of config/paper.yaml
(max_len 200, batch 128, d_model 64; SIGMA: d_state 32, expand 2, 4 random prefixes per sequence), its
loss unless `--loss` says otherwise (`generic` trains every position, SIGMA one per prefix: the loss
weighs more in `generic`'s step).

(a) The scan alone, forward + backward, at the shapes SIGMA gives it there: 128 x 4 prefixes in both
    directions (1,024 rows), 200 positions, d_inner 128, d_state 32. Rows at full length, and with the
    lengths of the random prefixes of the widest training batch below (the parallel form skips each
    row's padding on a CPU). Median and minimum wall ms over `--repeats` (variants interleaved; on a
    shared machine the minimum is the steadier), their ratios loop / parallel, and the peak memory of
    one forward + backward above its inputs (CPU: the peak RSS of a fresh process, Linux; GPU:
    max_memory_allocated).
(b) One training step (forward, loss, backward, optimiser) of `generic`, of `sigma` as it is (rows in
    groups of similar length, the parallel scan), of `sigma` with the loop scan and, with
    `--reference FILE`, of the SIGMA of another model file, e.g. an earlier commit's:
        git show COMMIT:src/seqrec/models/sigma.py > /tmp/sigma_before.py
        PYTHONPATH=src python benchmarks/scan.py --threads 1 --reference /tmp/sigma_before.py
    on the same batches of an epoch (Trainer.epoch_batches: users of similar length, cut to the
    longest; every SIGMA with the same prefixes), interleaved step by step: the total wall ms and
    process CPU s per step, their ratios to `generic` (an epoch's ratio) and the median of the
    per-step wall ratios. On a shared machine the CPU seconds are the steadier.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import importlib.util
import multiprocessing
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from seqrec.config import load_config
from seqrec.device import SectionTimer, configure_threads, pick_device
from seqrec.models import sigma
from seqrec import train as train_module
from seqrec.train import Trainer, seed_everything

from shaped import shaped_tables

PAPER_CONFIG = Path(__file__).resolve().parents[1] / "config" / "paper.yaml"
D_INNER, D_STATE = 128, 32  # SIGMA in config/paper.yaml: d_model 64 x expand 2, d_state 32


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def scan_inputs(rows: int, length: int, device: torch.device, seed: int = 0) -> dict:
    """The scan's inputs with the magnitudes of a freshly initialised SIGMA, requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    inputs = dict(u=torch.randn(rows, D_INNER, length, generator=g),
                  delta=0.1 * torch.randn(rows, D_INNER, length, generator=g),
                  A=-torch.arange(1, D_STATE + 1.0).repeat(D_INNER, 1),
                  B=0.1 * torch.randn(rows, D_STATE, length, generator=g),
                  C=0.1 * torch.randn(rows, D_STATE, length, generator=g),
                  D=torch.ones(D_INNER), z=torch.randn(rows, D_INNER, length, generator=g),
                  delta_bias=torch.zeros(D_INNER))
    return {k: v.to(device).requires_grad_() for k, v in inputs.items()}


def scan_step(inputs: dict, chunk_size: int | None, lengths: torch.Tensor | None) -> None:
    """One forward + backward of the scan."""
    y = sigma.selective_scan(**inputs, delta_softplus=True, lengths=lengths, chunk_size=chunk_size)
    y.backward(torch.ones_like(y))


def peak_memory_mib(rows: int, length: int, chunk_size: int | None, device_name: str, threads: int) -> float:
    """Peak memory of one forward + backward above its inputs (run in a fresh process on a CPU)."""
    configure_threads(threads)
    device = torch.device(device_name)
    inputs = scan_inputs(rows, length, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        scan_step(inputs, chunk_size, None)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20
    before = peak_rss_kib()
    scan_step(inputs, chunk_size, None)
    return (peak_rss_kib() - before) / 2 ** 10


def peak_rss_kib() -> int:
    """This process's peak resident memory (Linux; unlike ru_maxrss, not inherited from the parent)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def in_fresh_process(function, *args):
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def timed(device: torch.device, function) -> float:
    return timed_wall_and_cpu(device, function)[0]


def timed_wall_and_cpu(device: torch.device, function) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    function()
    synchronize(device)
    return time.perf_counter() - start, time.process_time() - start_cpu


def reference_model_class(path: Path) -> type:
    """The SIGMA class of another model file (e.g. an earlier version of seqrec/models/sigma.py). Asked for
    the last positions only, it runs its whole forward and picks them, as the trainer did before models
    took `last_only`."""
    spec = importlib.util.spec_from_file_location("sigma_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Reference(module.SIGMA):
        def forward(self, sequences: torch.Tensor, last_only: bool = False) -> torch.Tensor:
            hidden = super().forward(sequences)
            if not last_only:
                return hidden
            last = sequences.ne(0).sum(1).sub(1).clamp_min(0)
            return hidden[torch.arange(len(hidden), device=hidden.device), last]

    return Reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="(a): runs of each scan variant")
    parser.add_argument("--steps", type=int, default=5, help="(b): timed training steps of each method")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[8, sigma.CHUNK_SIZE, 32],
                        help="(a): chunk sizes of the parallel form to time")
    parser.add_argument("--users", type=int, default=6040)
    parser.add_argument("--items", type=int, default=3700)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--loss", choices=["sampled_softmax", "full_softmax"],
                        help="(b): the training loss (default: config/paper.yaml's)")
    parser.add_argument("--reference", type=Path,
                        help="(b): also time the SIGMA of this model file (e.g. the previous commit's sigma.py)")
    args = parser.parse_args()
    if args.reference is not None and not args.reference.is_file():
        parser.error(f"--reference {args.reference}: no such file")

    configure_threads(args.threads)
    device = pick_device(args.device)
    config = load_config(PAPER_CONFIG)
    config["train"]["device"] = args.device
    if args.loss is not None:
        config["train"]["loss"] = args.loss
    t0 = time.perf_counter()
    interactions, items, domains = shaped_tables(args.users, args.items, args.interactions,
                                                 config["sparsity"]["sparse_share_threshold"])
    train = config["train"]
    print(f"data: {interactions['user'].nunique()} users, {len(items)} items, {len(interactions)} interactions "
          f"({time.perf_counter() - t0:.1f}s to generate and prepare)")
    print(f"device: {device}, threads: {torch.get_num_threads()}, max_len {train['max_len']}, "
          f"batch {train['batch_size']} x {train['prefixes_per_sequence']} prefixes (SIGMA), "
          f"d_model {train['d_model']}, SIGMA d_state {train['sigma']['d_state']} expand {train['sigma']['expand']}, "
          f"loss {train['loss']}")

    trainers = {}
    for name, method in (("generic", "generic"), ("sigma", "sigma"), ("sigma, loop scan", "sigma")):
        seed_everything(0)
        trainers[name] = Trainer(interactions, items, domains, method, "synthetic", config, device)
    if args.reference is not None:
        reference = reference_model_class(args.reference)
        seed_everything(0)
        with mock.patch.object(train_module, "architecture_class", lambda architecture: reference):
            trainers[f"sigma, {args.reference.name}"] = Trainer(interactions, items, domains, "sigma", "synthetic",
                                                               config, device)
    batches = trainers["generic"].epoch_batches()[: args.steps + 1]  # users of similar length, cut to the longest
    rows_, width = max(batches, key=lambda batch: batch[1])
    sequences = trainers["sigma"].inputs[rows_, :width]
    prefixes, _, _ = trainers["sigma"].random_prefixes(sequences, trainers["sigma"].targets[rows_, :width])
    prefix_lengths = prefixes.ne(0).sum(1).repeat(2)  # both directions of the shared Mamba block
    rows, length = len(prefix_lengths), train["max_len"]

    print(f"\n(a) the scan alone, forward + backward: {rows} rows x {length} positions, d_inner {D_INNER}, "
          f"d_state {D_STATE}; random prefixes: mean length {prefix_lengths.float().mean():.1f}")
    inputs = scan_inputs(rows, length, device)
    variants = {"loop, full rows": (None, None)}
    variants.update({f"parallel (chunks of {c}), full rows": (c, None) for c in args.chunk_sizes})
    variants["loop, prefix rows"] = (None, prefix_lengths)
    variants[f"parallel (chunks of {sigma.CHUNK_SIZE}), prefix rows"] = (sigma.CHUNK_SIZE, prefix_lengths)
    seconds = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (chunk_size, lengths) in variants.items():
            seconds[name].append(timed(device, functools.partial(scan_step, inputs, chunk_size, lengths)))
    del inputs
    memory = {chunk_size: in_fresh_process(peak_memory_mib, rows, length, chunk_size, str(device), args.threads)
              for chunk_size in (sigma.CHUNK_SIZE, None)}
    print(f"{'variant':<42}{'median ms':>11}{'loop / it':>11}{'min ms':>9}{'loop / it':>11}   runs (ms)")
    for name, runs in seconds.items():
        reference = seconds["loop, prefix rows" if "prefix" in name else "loop, full rows"]
        print(f"{name:<42}{1000 * np.median(runs):>11.0f}{np.median(reference) / np.median(runs):>11.2f}"
              f"{1000 * min(runs):>9.0f}{min(reference) / min(runs):>11.2f}   "
              + " ".join(f"{1000 * s:.0f}" for s in runs))
    print(f"peak memory of one forward + backward above the inputs, full rows: loop {memory[None]:,.0f} MiB, "
          f"parallel (chunks of {sigma.CHUNK_SIZE}) {memory[sigma.CHUNK_SIZE]:,.0f} MiB")

    print(f"\n(b) one training step on each of the same {args.steps} batches of an epoch (after one warm-up), "
          f"interleaved; widths {[width for _, width in batches[1:]]}")
    loop_scan = functools.partial(sigma.selective_scan, chunk_size=None)
    step_seconds = {name: [] for name in trainers}
    for i, batch in enumerate(batches):
        for name, trainer in trainers.items():
            torch.manual_seed(i)  # the same prefixes for every SIGMA
            with mock.patch.object(sigma, "scan", loop_scan) if "loop" in name else contextlib.nullcontext():
                seconds_ = timed_wall_and_cpu(device, functools.partial(trainer.train_step, batch,
                                                                        SectionTimer(device)))
            if i > 0:
                step_seconds[name].append(seconds_)
    generic = np.array(step_seconds["generic"])
    name_width = max(20, *(len(name) + 2 for name in trainers))
    print(f"{'method':<{name_width}}{'total ms':>10}{'/ generic':>11}{'CPU s/step':>12}{'/ generic':>11}"
          f"{'median step ratio':>19}   steps (ms)")
    for name, runs in step_seconds.items():
        runs = np.array(runs)
        wall, cpu = runs[:, 0], runs[:, 1]
        print(f"{name:<{name_width}}{1000 * wall.sum():>10.0f}{wall.sum() / generic[:, 0].sum():>11.2f}"
              f"{cpu.mean():>12.2f}{cpu.sum() / generic[:, 1].sum():>11.2f}"
              f"{np.median(wall / generic[:, 0]):>19.2f}   " + " ".join(f"{1000 * s:.0f}" for s in wall))


if __name__ == "__main__":
    main()

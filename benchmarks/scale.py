"""Time and peak memory of each step at the scale of the large datasets (ML-25M, Amazon Electronics, Yelp).

    PYTHONPATH=src python benchmarks/scale.py [--shapes ml-25m amazon-electronics yelp] [--threads 1]
        [--train-batches 10] [--eval-batches 8] [--loss sampled_softmax] [--work-dir DIR]

Data of each dataset's shape comes from the synthetic generator (seqrec.datasets.synthetic): ML-25M
(162,541 users, 59,047 items, 25,000,095 interactions) and Amazon Electronics 2014 5-core (192,403
users, 63,001 items, 1,689,188 reviews), and Yelp's shape as benchmarks/cost.py assumes it (no Yelp
file here; 280,000 users, 95,000 items, 4.3 M interactions). Each step runs in its own process, so
its peak resident memory (the child's own ru_maxrss, from os.wait4) and its CPU seconds are its own:

- generate: synthetic.write_raw (measured apart: the generator is not a workflow step of these
  datasets, whose real parsers read the downloaded files);
- prepare: seqrec.prepare.prepare (leave-one-out) with `--k-core`, 1 by default: the generator's
  Zipf tail has items with fewer than 5 interactions, which paper.yaml's 5-core filter would drop,
  shrinking the catalogue that evaluation ranks (Amazon's shape: 63,001 items to 26,631), whereas
  the real 5-core files keep every item; the filter still makes its pass over all interactions;
- sparsity: seqrec.weighting.sparsity_step with paper.yaml's sparsity section;
- train: a `generic` Trainer with paper.yaml's train section on the CPU, its loss replaced by
  `--loss` where given; `--train-batches` of an epoch's length-grouped batches, spread over their
  widths (benchmarks/sampled.py), are timed and the epoch is extrapolated as batches x mean step;
- evaluate: the evaluate step's work on the model saved by train (an untrained model ranks at the
  same cost): the test cases of every user, and the full ranking over all items (history masked,
  paper.yaml's evaluate section) of `--eval-batches` of its batches spread over their widths,
  extrapolated to all its batches (or of every user with `--eval-batches 0`: its peak memory then
  also holds the length-sorted copy of every user's history that masking uses, e.g. 2.31 GiB
  instead of 1.65 GiB at Amazon's shape).

The peak memory of train and evaluate includes the whole dataset's tensors, as in a real run. On a
machine shared with other jobs wall time swings with their load: compare the CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cost
import sampled

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIG = ROOT / "config" / "paper.yaml"
SHAPES = {  # users, items, interactions
    "ml-25m": (162_541, 59_047, 25_000_095),
    "amazon-electronics": (192_403, 63_001, 1_689_188),
    "yelp": cost.SHAPES["yelp"][:3],
}
STAGES = ("generate", "prepare", "sparsity", "train", "evaluate")
GIB = 1024 ** 3


# ---------------------------------------------------------------- the parent: one child per stage

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-batches", type=int, default=10,
                        help="training batches timed, spread over the widths")
    parser.add_argument("--eval-batches", type=int, default=8,
                        help="evaluation batches timed, spread over the widths (0: rank every user)")
    parser.add_argument("--k-core", type=int, default=1, help="prepare's k-core filter (paper.yaml: 5)")
    parser.add_argument("--loss", choices=["sampled_softmax", "full_softmax"], default=None,
                        help="the training loss (default: paper.yaml's)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep each shape's files here (a generated dataset of the same shape is reused)")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # a child's own stage
    parser.add_argument("--shape", choices=list(SHAPES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = run_stage(args.stage, args.shape, args.work_dir, args)
        print("RESULT " + json.dumps(result), flush=True)
        return

    temporary = args.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="seqrec-scale-")) if temporary else args.work_dir
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, memory {_memory_gib():.1f} GiB, threads {args.threads}", flush=True)
    rows = []
    try:
        for shape in args.shapes:
            for stage in args.stages:
                rows.append((shape, stage, child(stage, shape, work_dir / shape, args)))
                print_row(*rows[-1])
    finally:
        if temporary:
            shutil.rmtree(work_dir, ignore_errors=True)
    print("\n| data | step | wall s | CPU s | peak RSS (GiB) | notes |\n| --- | --- | --- | --- | --- | --- |")
    for shape, stage, result in rows:
        print(f"| {shape} | {stage} | {_seconds(result, 'wall')} | {_seconds(result, 'cpu')} | "
              f"{result['peak_rss_gib']:.2f} | {result.get('note', '')} |")


def child(stage: str, shape: str, work_dir: Path, args: argparse.Namespace) -> dict:
    """Run `stage` in a fresh process; its own peak RSS and CPU time come from os.wait4."""
    command = [sys.executable, __file__, "--stage", stage, "--shape", shape, "--work-dir", str(work_dir),
               "--threads", str(args.threads), "--train-batches", str(args.train_batches),
               "--eval-batches", str(args.eval_batches), "--k-core", str(args.k_core)]
    if args.loss:
        command += ["--loss", args.loss]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT "):]) if lines else {"note": f"failed (exit {process.returncode})"}
    if process.returncode != 0:
        result["note"] = f"failed (exit {process.returncode}) " + result.get("note", "")
    result.update(process_wall=time.perf_counter() - start, process_cpu=usage.ru_utime + usage.ru_stime,
                  peak_rss_gib=usage.ru_maxrss * 1024 / GIB)  # ru_maxrss is in KiB on Linux
    return result


def print_row(shape: str, stage: str, result: dict) -> None:
    print(f"{shape:<20}{stage:<10} wall {_seconds(result, 'wall'):>22}  CPU {_seconds(result, 'cpu'):>22}  "
          f"peak RSS {result['peak_rss_gib']:6.2f} GiB  {result.get('note', '')}", flush=True)


def _seconds(result: dict, kind: str) -> str:
    """The stage's seconds: extrapolated from its sample, or of its timed section, else of its process."""
    if f"{kind}_extrapolated" in result:
        return f"{result[f'{kind}_extrapolated']:,.0f} (extrapolated)"
    return f"{result.get(kind, result[f'process_{kind}']):,.1f}"


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB


# ---------------------------------------------------------------- the children

def run_stage(stage: str, shape: str, work_dir: Path, args: argparse.Namespace) -> dict:
    from seqrec.device import configure_threads

    configure_threads(args.threads)
    raw, data, sparsity, run = (work_dir / name for name in ("raw", "data", "sparsity", "run"))
    return {"generate": generate, "prepare": prepare_stage, "sparsity": sparsity_stage,
            "train": train_stage, "evaluate": evaluate_stage}[stage](shape, raw, data, sparsity, run, args)


def paper_config() -> dict:
    from seqrec.config import load_config

    config = load_config(PAPER_CONFIG)
    config["train"]["device"] = "cpu"
    return config


def generate(shape, raw, data, sparsity, run, args) -> dict:
    from seqrec.datasets import synthetic

    users, items, interactions = SHAPES[shape]
    params = {"n_users": users, "n_items": items, "n_interactions": interactions}
    stamp = raw / "shape.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == params:
        return {"note": f"reused {raw} (same shape)"}
    shutil.rmtree(raw, ignore_errors=True)
    synthetic.write_raw(raw, **params)
    stamp.write_text(json.dumps(params))
    return {"note": f"{users:,} users, {items:,} items, {interactions:,} interactions"}


def prepare_stage(shape, raw, data, sparsity, run, args) -> dict:
    from seqrec.prepare import prepare

    info = prepare("synthetic", raw, data, k_core=args.k_core)
    return {"note": f"{info['n_users']:,} users, {info['n_items']:,} items, "
                    f"{info['n_interactions']:,} interactions after the {args.k_core}-core filter"}


def sparsity_stage(shape, raw, data, sparsity, run, args) -> dict:
    from seqrec.weighting import SparsityFiles, sparsity_step

    table = sparsity_step(data / "interactions.parquet", data / "items.parquet", SparsityFiles.in_folder(sparsity),
                          "synthetic", paper_config()["sparsity"])
    return {"note": f"{len(table)} domains"}


def train_stage(shape, raw, data, sparsity, run, args) -> dict:
    import torch

    from seqrec import io
    from seqrec.train import Trainer, seed_everything

    config = paper_config()
    if args.loss:
        config["train"]["loss"] = args.loss
    seed_everything(1)
    trainer = Trainer(io.read_parquet(data / "interactions.parquet"), io.read_parquet(data / "items.parquet"),
                      io.read_parquet(sparsity / "domains.parquet"), "generic", "synthetic", config,
                      torch.device("cpu"))
    steps = sampled.training_steps(trainer, args.train_batches)
    positions = int(trainer.targets.ne(0).sum())
    io.save_torch({"architecture": trainer.method.architecture, "model_args": trainer.model_args,
                   "state_dict": trainer.model.state_dict()}, run / "model.pt")
    return {"wall_extrapolated": steps.total("wall"), "cpu_extrapolated": steps.total("cpu"),
            "note": f"{config['train']['loss']}: epoch = {steps.batches:,} batches x mean of {steps.timed} timed "
                    f"steps spread over the widths ({1000 * steps.wall:,.0f} ms wall, {1000 * steps.cpu:,.0f} ms CPU); "
                    f"{len(trainer.inputs):,} sequences, {positions:,} training positions"}


def evaluate_stage(shape, raw, data, sparsity, run, args) -> dict:
    import torch

    from seqrec import io
    from seqrec.evaluate import rank_cases
    from seqrec.models import load_model
    from seqrec.sequences import evaluation_cases

    settings = paper_config()["evaluate"]
    model, saved = load_model(run / "model.pt", torch.device("cpu"))
    cases = evaluation_cases(io.read_parquet(data / "interactions.parquet"), "test", saved["model_args"]["max_len"])
    about = (f"full ranking of {len(cases.users):,} users over {saved['model_args']['n_items']:,} items, "
             f"history masked, batches of {settings['batch_size']}")
    if args.eval_batches == 0:
        start, start_cpu = time.perf_counter(), time.process_time()
        rank_cases(model, cases, settings["batch_size"], settings["mask_history"])
        return {"note": about, "wall": time.perf_counter() - start, "cpu": time.process_time() - start_cpu}
    batches = sampled.evaluation_batches(model, cases, settings["batch_size"], args.eval_batches,
                                         settings["mask_history"])
    return {"wall_extrapolated": batches.total("wall"), "cpu_extrapolated": batches.total("cpu"),
            "note": f"{about}: {batches.batches} batches x mean of {batches.timed} timed batches spread over "
                    f"the widths ({batches.wall:,.2f} s wall, {batches.cpu:,.2f} s CPU)"}


if __name__ == "__main__":
    main()

"""The dynamic weighting's update per training batch (seqrec.weighting.DynamicWeighting.observe), and
with `--reference FILE` that of another weighting module side by side, e.g. an earlier commit's:

    git show COMMIT:src/seqrec/weighting.py > /tmp/weighting_before.py
    PYTHONPATH=src python benchmarks/weighting.py --run results/synthetic --reference /tmp/weighting_before.py

Data: the prepared files of a workflow run of one dataset (`--run results/{dataset}`: its
data/items.parquet, data/interactions.parquet and sparsity/domains.parquet; the embedded default's
after `make run`), the schema's dynamic weighting, and batches of random training items of
`--targets` sizes (the embedded default's batches hold 128 users of up to 50 positions; ML-1M's at
config/paper.yaml's settings up to 25,600). Both modules first observe the same batches and must
give the same item weights; then they are timed in turns (`--repeats` rounds of 50 passes over the
batches) and the median of the rounds is printed, per batch, with the ratio reference / now.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqrec import weighting
from seqrec.config import validate_config
from seqrec.device import configure_threads


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location("weighting_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("results/synthetic"),
                        help="a workflow run's folder of one dataset (default: the embedded default's)")
    parser.add_argument("--reference", type=Path, help="another weighting.py to time beside this one")
    parser.add_argument("--targets", type=int, nargs="+", default=[1280, 3200, 6400])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    files = [args.run / "data" / "items.parquet", args.run / "data" / "interactions.parquet",
             args.run / "sparsity" / "domains.parquet"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        parser.error(f"--run {args.run}: no {', '.join(missing)} (run the workflow's prepare and sparsity steps)")
    if args.reference is not None and not args.reference.is_file():
        parser.error(f"--reference {args.reference}: no such file")
    configure_threads(args.threads)

    items, interactions, table = (pd.read_parquet(f) for f in files)
    n_items = int(items["item"].max())
    train = interactions.loc[interactions["split"] == "train", "item"].to_numpy()
    counts = np.bincount(train, minlength=n_items + 1).astype(np.float64)
    sparsity = validate_config({})["sparsity"]
    modules = {"now": weighting}
    if args.reference is not None:
        modules = {"reference": load_module(args.reference), **modules}
    rng = np.random.default_rng(0)
    batches = [torch.as_tensor(rng.choice(train, size)) for size in args.targets]
    mean_batch = float(np.mean(args.targets))
    updates = {name: module.build_weighting("dynamic", table, items, counts, sparsity, args.run.name,
                                            batch_positions=mean_batch)
               for name, module in modules.items()}
    for batch in batches:
        for update in updates.values():
            update.observe(batch)
        weights = [u.item_weights for u in updates.values()]
        if not all(torch.equal(weights[0], w) for w in weights[1:]):
            sys.exit("the two modules give different item weights: not the same weighting")
    seconds = {name: [] for name in updates}
    for _ in range(args.repeats):
        for name, update in updates.items():
            start = time.perf_counter()
            for _ in range(50):
                for batch in batches:
                    update.observe(batch)
            seconds[name].append((time.perf_counter() - start) / (50 * len(batches)))
    median = {name: 1e3 * float(np.median(s)) for name, s in seconds.items()}
    print(f"{args.run}: {n_items:,} items, {len(table)} domains; batches of "
          f"{', '.join(f'{n:,}' for n in args.targets)} targets; {args.threads} thread(s)")
    for name, ms in median.items():
        print(f"  {name:>9}: {ms:.3f} ms per batch (median of {args.repeats} rounds)")
    if "reference" in median:
        print(f"  reference / now: {median['reference'] / median['now']:.2f}x")


if __name__ == "__main__":
    main()

"""What the dynamic weighting's moving domain frequencies settle at under the training's own batch
order (length-grouped batches, seqrec.sequences.length_grouped_batches), and the weights they give.

    PYTHONPATH=src python benchmarks/batch_shares.py --results results --dataset movielens-1m \
        --config config/paper.yaml --epochs 10

`--results` is a results folder of the workflow with the dataset's data and sparsity steps done.
Per domain it prints the training share f_d (the sparsity step's), the share of the positions the
training sees (the last `max_len` of each history), the moving frequency after `--epochs` epochs
counted per position (what the weighting does) and as the mean of each batch's share (what it did
before 2026-12-06), and the weight each gives; no model is trained. Batches of short histories hold
few positions, so the mean of the batches' shares gives the tastes of short-history users as much
say as those of long ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqrec.config import load_config
from seqrec.io import read_parquet
from seqrec.layout import Layout
from seqrec.sequences import (batches_per_epoch, item_train_counts, length_grouped_batches, mean_batch_positions,
                              training_tensors)
from seqrec.weighting import ItemDomains, build_weighting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    config = load_config(args.config)
    layout = Layout(results=args.results)
    interactions = read_parquet(layout.path("interactions", dataset=args.dataset))
    items = read_parquet(layout.path("items", dataset=args.dataset))
    table = read_parquet(layout.path("domains", dataset=args.dataset))
    settings, sparsity = config["train"], config["sparsity"]
    n_items = int(items["item"].max())
    counts = item_train_counts(interactions, n_items)
    _, targets, lengths = training_tensors(interactions, settings["max_len"])
    steps = batches_per_epoch(len(lengths), settings["batch_size"])
    batch_positions = mean_batch_positions(targets, settings["batch_size"])
    per_position = build_weighting("dynamic", table, items, counts, sparsity, args.dataset,
                                   batch_positions=batch_positions)
    per_batch = build_weighting("dynamic", table, items, counts, sparsity, args.dataset)
    static = per_batch.domain_weights().numpy()
    domains = ItemDomains(items, table["domain"].tolist(), n_items, "cpu")
    decay = sparsity["dynamic"]["ema_decay"]
    share_of_batches = torch.tensor(table["share"].to_numpy(np.float32))
    torch.manual_seed(args.seed)
    for _ in range(args.epochs):
        for rows in length_grouped_batches(lengths, settings["batch_size"]):
            batch = targets[torch.as_tensor(rows)].flatten()
            per_position.observe(batch)
            share_of_batches = decay * share_of_batches + (1 - decay) * domains.domain_counts(batch) / batch.ne(0).sum()
    # a count of 1 position in all makes the weighting's frequency the average of the batches' shares
    per_batch.load_state_dict({"domain_positions": share_of_batches, "positions": torch.tensor(1.0)})
    seen = domains.domain_counts(targets.flatten()) / targets.ne(0).sum()
    frame = pd.DataFrame({
        "domain": table["domain"], "sparse": table["is_sparse"], "training share": table["share"],
        "share of trained positions": seen.numpy(),
        "frequency per position": per_position.frequency.numpy(),
        "frequency as mean of batch shares": share_of_batches.numpy(),
        "weight, static": static, "weight per position": per_position.domain_weights().numpy(),
        "weight as mean of batch shares": per_batch.domain_weights().numpy(),
    })
    print(f"{args.dataset}: {len(lengths):,} sequences, {steps} batches an epoch of {batch_positions:,.0f} "
          f"positions on average, {args.epochs} epochs, ema_decay {decay}, score {sparsity['dynamic']['score']}")
    pd.set_option("display.width", 250)
    print(frame.sort_values("training share").round(4).to_string(index=False))


if __name__ == "__main__":
    main()

"""Full-ranking evaluation: every item is a candidate, the user's history masked (configurable).

The evaluate step scores both held-out splits with the model loaded once: the test split (the last
item of each user, history = train + valid) and the validation split (the second-to-last item,
history = train only), on which choices such as the weighting's defaults are made.

The rank of a target is pessimistic: items scoring the same as the target rank above it, so a model
that scores everything alike gets the worst rank, not the best.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqrec import io
from seqrec.device import autocast, configure_threads, pick_device
from seqrec.layout import SPLITS, Layout, split_artifact
from seqrec.metrics import case_metrics, summarise
from seqrec.models import load_model
from seqrec.models.base import SequenceModel
from seqrec.sequences import EvalCases, evaluation_cases


@torch.no_grad()
def rank_cases(model: SequenceModel, cases: EvalCases, batch_size: int, mask_history: bool = True) -> torch.Tensor:
    """0-based rank of each case's target among all items, on the model's device, in the cases' order.

    Cases run in order of history length, in batches cut to their longest history (no arithmetic on
    padding); the ranks are put back in the cases' order.
    """
    model.eval()
    device = cases.inputs.device
    embeddings = model.item_embeddings().float()
    order = np.argsort(cases.lengths, kind="stable")
    order_on_device = torch.as_tensor(order, device=device)
    if mask_history:
        # The full histories in the same order: CSR offsets `pointer` into `history`.
        counts = np.diff(cases.history_ptr)[order]
        pointer = np.concatenate([[0], np.cumsum(counts)])
        source = np.repeat(cases.history_ptr[:-1][order] - pointer[:-1], counts) + np.arange(pointer[-1])
        history = cases.history_items[torch.as_tensor(source, device=device)]
    ranks = torch.empty(len(order), dtype=torch.long, device=device)
    for start in range(0, len(order), batch_size):
        end = min(start + batch_size, len(order))
        rows = order_on_device[start:end]
        width = max(1, int(cases.lengths[order[end - 1]]))  # the batch's longest history: the last one
        with autocast(device):
            hidden = model(cases.inputs[rows, :width])
        last = hidden[torch.arange(end - start, device=device), cases.last[rows]].float()
        scores = model.scores(last, embeddings)
        target = cases.targets[rows].unsqueeze(1)
        target_score = scores.gather(1, target)
        scores[:, 0] = float("-inf")
        if mask_history:
            batch_rows = np.repeat(np.arange(end - start), counts[start:end])
            scores[torch.as_tensor(batch_rows, device=device), history[pointer[start]:pointer[end]]] = float("-inf")
            scores.scatter_(1, target, target_score)  # a repeated item stays rankable as a target
        ranks[rows] = (scores >= target_score).sum(1) - 1
    return ranks


def per_case_table(cases: EvalCases, ranks: np.ndarray, items: pd.DataFrame, power: pd.DataFrame,
                   ks: list[int]) -> pd.DataFrame:
    """One row per evaluation case: user, target item, rank, the target's domains, the user's power domains, metrics."""
    frame = pd.DataFrame({"user": cases.users, "item": cases.targets.cpu().numpy(), "rank": ranks})
    frame["domains"] = frame["item"].map(items.set_index("item")["domains"])
    power_domains = power.groupby("user")["domain"].agg(list)
    frame["power_domains"] = [power_domains.get(u, []) for u in frame["user"]]
    for column, values in case_metrics(ranks, ks).items():
        frame[column] = values
    return frame


@dataclass(frozen=True)
class EvalFiles:
    """The files the evaluate step writes: per-case results and metrics of each split (the fields are
    named as the artifacts of the results layout)."""

    per_case: Path
    metrics: Path
    valid_per_case: Path
    valid_metrics: Path

    @classmethod
    def in_folder(cls, folder: str | Path) -> EvalFiles:
        """The files in `folder`, named as in the results layout."""
        layout = Layout()
        return cls(**{field: Path(folder) / layout.path(field).name for field in cls.__dataclass_fields__})

    def of_split(self, split: str) -> tuple[Path, Path]:
        """(per-case results, metrics) of `split`."""
        return getattr(self, split_artifact("per_case", split)), getattr(self, split_artifact("metrics", split))


def evaluate(interactions: Path, items: Path, power_users: Path, model: Path, outputs: EvalFiles, config: dict,
             threads: int) -> None:
    """The evaluate step of a trained model on the test and validation splits of the prepared
    interactions: per split, one row per case (user, target item, rank, domains, power domains,
    metrics) and the metrics overall, per domain and per power users."""
    configure_threads(threads)
    device = pick_device(config["train"]["device"])
    network, saved = load_model(model, device)
    table = io.read_parquet(interactions)
    item_table = io.read_parquet(items)
    power = io.read_parquet(power_users)
    settings = config["evaluate"]
    per_split = {}
    for split in SPLITS:
        cases = evaluation_cases(table, split, saved["model_args"]["max_len"], device)
        ranks = rank_cases(network, cases, settings["batch_size"], settings["mask_history"]).cpu().numpy()
        per_split[split] = per_case_table(cases, ranks, item_table, power, settings["ks"])
    # Written once every split is scored: a failure while scoring leaves none of the files.
    for split, cases_table in per_split.items():
        per_case, metrics = outputs.of_split(split)
        io.write_parquet(cases_table, per_case)
        io.write_parquet(summarise(cases_table, settings["ks"]), metrics)

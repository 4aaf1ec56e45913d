"""Full-ranking evaluation: every item is a candidate, the user's history masked (configurable).

The rank of a target is pessimistic: items scoring the same as the target rank above it, so a model
that scores everything alike gets the worst rank, not the best.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqrec import io
from seqrec.device import autocast, configure_threads, pick_device
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
    """One row per test case: user, target item, rank, the target's domains, the user's power domains, metrics."""
    frame = pd.DataFrame({"user": cases.users, "item": cases.targets.cpu().numpy(), "rank": ranks})
    frame["domains"] = frame["item"].map(items.set_index("item")["domains"])
    power_domains = power.groupby("user")["domain"].agg(list)
    frame["power_domains"] = [power_domains.get(u, []) for u in frame["user"]]
    for column, values in case_metrics(ranks, ks).items():
        frame[column] = values
    return frame


def evaluate(interactions: Path, items: Path, power_users: Path, model: Path, per_case: Path, metrics: Path,
             config: dict, threads: int) -> None:
    """The evaluate step of a trained model on the test split of the prepared interactions: one row
    per test case (`per_case`) and the metrics overall, per domain and per power users (`metrics`)."""
    configure_threads(threads)
    device = pick_device(config["train"]["device"])
    network, saved = load_model(model, device)
    table = io.read_parquet(interactions)
    item_table = io.read_parquet(items)
    power = io.read_parquet(power_users)
    settings = config["evaluate"]
    cases = evaluation_cases(table, "test", saved["model_args"]["max_len"], device)
    ranks = rank_cases(network, cases, settings["batch_size"], settings["mask_history"]).cpu().numpy()
    cases_table = per_case_table(cases, ranks, item_table, power, settings["ks"])
    io.write_parquet(cases_table, per_case)
    io.write_parquet(summarise(cases_table, settings["ks"]), metrics)

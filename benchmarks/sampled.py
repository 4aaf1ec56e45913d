"""Time an epoch or a full evaluation from a few of its batches (used by scale.py and cost.py).

The batches timed are spread evenly over the batch widths (the batch at the middle of each of `k`
equal slices of the batches sorted by width: a stratified sample), so a few of them stand for the whole: a batch's cost grows with its
width, and the widths of length-grouped batches span 2 to max_len. The epoch (or the evaluation)
is then batches x the mean of the timed ones. Both wall and CPU seconds of this process are given:
on a machine shared with other jobs, CPU seconds are the steadier measure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from seqrec.device import SectionTimer
from seqrec.evaluate import rank_cases
from seqrec.sequences import EvalCases


@dataclass
class Sampled:
    """Mean seconds of the timed batches and the number of batches of the whole pass."""

    wall: float
    cpu: float
    timed: int
    batches: int

    def total(self, kind: str = "cpu", batches: int | None = None) -> float:
        """Seconds of a whole pass: mean per batch x `batches` (default: this pass's)."""
        return getattr(self, kind) * (self.batches if batches is None else batches)


def spread(widths: np.ndarray, k: int) -> np.ndarray:
    """Indices of min(k, n) batches: the middle one of each of k equal slices of the batches sorted by width."""
    order = np.argsort(widths, kind="stable")
    k = min(k, len(order))
    return order[((np.arange(k) + 0.5) * len(order) / k).astype(int)]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def training_steps(trainer, k: int) -> Sampled:
    """Mean training step of `trainer` over k batches of one epoch spread over the widths (after one
    warm-up step); `batches` is the epoch's number of batches."""
    batches = trainer.epoch_batches()
    chosen = [batches[i] for i in spread(np.array([width for _, width in batches]), k)]
    trainer.model.train()
    trainer.train_step(chosen[len(chosen) // 2], SectionTimer(trainer.device))  # warm-up
    _synchronize(trainer.device)
    start, start_cpu = time.perf_counter(), time.process_time()
    for batch in chosen:
        trainer.train_step(batch, SectionTimer(trainer.device))
    _synchronize(trainer.device)
    return Sampled((time.perf_counter() - start) / len(chosen), (time.process_time() - start_cpu) / len(chosen),
                   len(chosen), len(batches))


def evaluation_batches(model, cases: EvalCases, batch_size: int, k: int, mask_history: bool = True,
                       n_cases: int | None = None) -> Sampled:
    """Mean seconds of a batch of rank_cases over `n_cases` cases (default: `cases`), from k of its
    batches: the batches rank_cases forms (cases sorted by history length, `batch_size` at a time).

    With n_cases > len(cases), `cases` is a sample of them: position p of the whole length order is
    taken as the sample's case at position p * len(cases) // n_cases (cases repeat), so a batch has
    the rows and the range of lengths of the whole evaluation's batch at that place.
    """
    n_cases = len(cases.users) if n_cases is None else n_cases
    order = np.argsort(cases.lengths, kind="stable")
    positions = np.arange(n_cases)
    groups = np.split(order[positions * len(order) // n_cases], np.arange(batch_size, n_cases, batch_size))
    chosen = np.sort(spread(np.array([cases.lengths[g].max() for g in groups]), k))
    rank_cases(model, cases.take(groups[chosen[len(chosen) // 2]]), batch_size, mask_history)  # warm-up
    # One call over the chosen batches, in length order: rank_cases forms exactly these batches again
    # (all but the last, the longest, are full), and its setup (e.g. the item embeddings) runs once.
    part = cases.take(np.concatenate([groups[i] for i in chosen]))
    device = cases.inputs.device
    _synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    rank_cases(model, part, batch_size, mask_history)
    _synchronize(device)
    return Sampled((time.perf_counter() - start) / len(chosen), (time.process_time() - start_cpu) / len(chosen),
                   len(chosen), len(groups))

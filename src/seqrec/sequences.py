"""From the canonical interaction table to the padded tensors that training and evaluation use.

Sequences are right-padded with item 0 and keep the most recent `max_len` items. Training uses every
position of a sequence at once: inputs s[:-1], targets s[1:]. Evaluation feeds the history before
the held-out item and ranks all items from the hidden state of the last real position.

No arithmetic on padding: training and evaluation run batches of sequences of similar length, each
cut to its longest sequence (`tensor[rows, :width]`). Right padding makes the cut exact: a real
position's hidden state never depends on the padding after it (causal attention and positions
counted from the left; SIGMA flips each row by its real length), so only trailing padding goes.
Every user is still trained on once an epoch with the same positions and losses, but a batch now
holds users of similar length instead of random ones, so a seed's exact metrics differ from those
of the random batches used before (generic on ML-100K, max_len 50, 25 epochs, seeds 1-4: test
NDCG@10 0.0524 on average against 0.0550, within the spread of the seeds, 0.0481-0.0582). Batches
of similar length hold very different numbers of positions, so the trainer divides each batch's
summed loss by the epoch's mean positions per batch (`train.loss_normalization: epoch`): every
position then weighs what it weighs in a random batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

SPLIT_ORDER = {"train": 0, "valid": 1, "test": 2}
# Training batches are formed inside chunks of this many batches sorted by length: within a chunk
# of 50 batches of random users, neighbours in length order differ little, while the chunks keep
# the epoch's order random (sorting the whole epoch would make every epoch's batches the same).
SORT_CHUNK_BATCHES = 50


@dataclass
class EvalCases:
    """One held-out item per user with the history before it (all tensors on one device)."""

    users: np.ndarray          # [U] user ids
    inputs: torch.Tensor       # [U, L] the last L history items, right-padded
    lengths: np.ndarray        # [U] real items in each row of `inputs` (on the host: batch widths)
    last: torch.Tensor         # [U] index of the last real position in `inputs`
    targets: torch.Tensor      # [U] the held-out item
    history_ptr: np.ndarray    # [U+1] CSR offsets into history_items (full history, not truncated)
    history_items: torch.Tensor

    def take(self, rows: np.ndarray) -> EvalCases:
        """The cases at positions `rows`, in that order (e.g. one evaluation batch, to time it alone)."""
        rows = np.asarray(rows, dtype=np.int64)
        counts = np.diff(self.history_ptr)[rows]
        pointer = np.concatenate([[0], np.cumsum(counts)])
        source = np.repeat(self.history_ptr[rows] - pointer[:-1], counts) + np.arange(pointer[-1])
        on_device = torch.as_tensor(rows, device=self.inputs.device)
        return EvalCases(users=self.users[rows], inputs=self.inputs[on_device], lengths=self.lengths[rows],
                         last=self.last[on_device], targets=self.targets[on_device], history_ptr=pointer,
                         history_items=self.history_items[torch.as_tensor(source, device=self.inputs.device)])


def _right_padded(flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, max_len: int) -> np.ndarray:
    """The last min(length, max_len) items of each variable-length row of `flat`, right-padded with 0."""
    keep = np.minimum(lengths, max_len)
    out = np.zeros((len(lengths), max_len), dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), keep)
    cols = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)
    starts = offsets[:-1] + lengths - keep
    out[rows, cols] = flat[np.repeat(starts, keep) + cols]
    return out


def _ordered(interactions: pd.DataFrame, splits: list[str]) -> pd.DataFrame:
    part = interactions.loc[interactions["split"].isin(splits), ["user", "item", "timestamp", "split"]]
    order = part["split"].map(SPLIT_ORDER)
    return part.assign(_order=order).sort_values(["user", "_order", "timestamp"], kind="stable")


def _csr(frame: pd.DataFrame, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = frame.groupby("user").size().reindex(users, fill_value=0).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return frame["item"].to_numpy(np.int64, copy=True), offsets, lengths


def training_tensors(interactions: pd.DataFrame, max_len: int, device: torch.device | str = "cpu"):
    """(inputs, targets) [U', max_len] of every user with at least two training items, and the number
    of real items in each row of inputs (a numpy array on the host)."""
    train = _ordered(interactions, ["train"])
    users = np.sort(train["user"].unique())
    items, offsets, lengths = _csr(train, users)
    keep = lengths >= 2
    seq = _right_padded(items, offsets, lengths, max_len + 1)[keep]
    # Windows of max_len+1 items: position j reads item j and predicts item j+1. The last real
    # item's position predicts padding (target 0), which the losses ignore.
    inputs, targets = np.ascontiguousarray(seq[:, :-1]), np.ascontiguousarray(seq[:, 1:])
    return (torch.as_tensor(inputs, device=device), torch.as_tensor(targets, device=device),
            np.minimum(lengths[keep], max_len))


def length_grouped_batches(lengths: np.ndarray, batch_size: int,
                           chunk_batches: int = SORT_CHUNK_BATCHES) -> list[np.ndarray]:
    """Every row index once, in batches of rows of similar length, in a random order (torch's RNG).

    Sorted-then-shuffled: a random permutation is cut into chunks of `chunk_batches` batches, each
    chunk is sorted by length (stable) and split into batches, and the order of the batches is
    shuffled. As before, all batches have `batch_size` rows except one, the remainder.
    """
    order = torch.randperm(len(lengths)).numpy()
    chunk = batch_size * chunk_batches
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(np.split(part, np.arange(batch_size, len(part), batch_size)))
    return [batches[i] for i in torch.randperm(len(batches)).tolist()]


def batches_per_epoch(n_sequences: int, batch_size: int) -> int:
    """How many batches length_grouped_batches makes of `n_sequences` rows: all full but one."""
    return -(-n_sequences // batch_size)


def mean_batch_positions(targets: torch.Tensor, batch_size: int, positions_per_sequence: int | None = None) -> float:
    """The mean number of training positions per batch of length_grouped_batches over an epoch: every
    real target of `targets` [U', max_len] (causal models), or `positions_per_sequence` of each row
    (models trained on prefixes, one position each).

    With train.loss_normalization `epoch` the trainer divides a batch's summed loss by it, so that
    every position weighs the same, as in random batches, whatever the lengths of the sequences
    batched with it; with `batch` by the batch's own positions, so that a position in a batch of
    short sequences weighs more: on ML-1M at max_len 200 and batch 128 the batches hold 2,209 to
    25,600 positions (13,488 on average), so a position weighs 6.1 to 0.53 times what it weighs in a
    random batch. It is also how much the training shares weigh at the start of the dynamic
    weighting's moving domain frequencies."""
    n_sequences = len(targets)
    if positions_per_sequence is None:
        positions = int(targets.ne(0).sum())
    else:
        positions = n_sequences * positions_per_sequence
    return positions / batches_per_epoch(n_sequences, batch_size)


def evaluation_cases(interactions: pd.DataFrame, split: str, max_len: int,
                     device: torch.device | str = "cpu") -> EvalCases:
    """The `split` ("valid" or "test") item of every user, with its history (train, plus valid for test)."""
    history_splits = {"valid": ["train"], "test": ["train", "valid"]}[split]
    held_out = interactions.loc[interactions["split"] == split, ["user", "item"]].sort_values("user")
    users = held_out["user"].to_numpy(np.int64)
    history = _ordered(interactions, history_splits)
    history = history[history["user"].isin(users)]
    items, offsets, lengths = _csr(history, users)
    inputs = _right_padded(items, offsets, lengths, max_len)
    kept = np.minimum(lengths, max_len)
    return EvalCases(
        users=users,
        inputs=torch.as_tensor(inputs, device=device),
        lengths=kept,
        last=torch.as_tensor(np.clip(kept - 1, 0, None), device=device),
        targets=torch.tensor(held_out["item"].to_numpy(np.int64), device=device),
        history_ptr=offsets,
        history_items=torch.as_tensor(items, device=device),
    )


def item_train_counts(interactions: pd.DataFrame, n_items: int) -> np.ndarray:
    """Training positives per item id (index 0 = padding)."""
    train_items = interactions.loc[interactions["split"] == "train", "item"].to_numpy(np.int64)
    return np.bincount(train_items, minlength=n_items + 1)

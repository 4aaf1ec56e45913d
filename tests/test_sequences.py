"""Batches of similar length cut to their longest sequence: the batching, the models' invariance to
trailing padding (what makes the cut exact) and the evaluation that runs on cut batches."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqrec.evaluate import rank_cases
from seqrec.models import build_model
from seqrec.sequences import batches_per_epoch, evaluation_cases, length_grouped_batches, mean_batch_positions

N_ITEMS, MAX_LEN = 30, 12
ARCHITECTURES = {
    "sasrec": {},
    "sigma": {"n_layers": 2, "d_state": 4},  # two layers: the residual path too
    "calrec": {"text_dim": 8},
    "sparseennet": {},
}


def model(architecture):
    torch.manual_seed(0)
    arguments = {"n_items": N_ITEMS, "max_len": MAX_LEN, "d_model": 16, "n_heads": 2, "dropout": 0.2,
                 "n_layers": 1, **ARCHITECTURES[architecture]}
    built = build_model(architecture, **arguments)
    if architecture == "calrec":
        built.set_item_text(torch.nn.functional.normalize(torch.randn(N_ITEMS + 1, 8), dim=-1))
    return built.eval()


def right_padded(lengths, width=MAX_LEN, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in zip(rows, lengths):
        row[:n] = torch.randint(1, N_ITEMS + 1, (n,), generator=g)
    return rows


def test_batches_hold_every_row_once_in_groups_of_similar_length():
    lengths = np.random.default_rng(0).integers(1, 201, 1000)
    torch.manual_seed(0)
    batches = length_grouped_batches(lengths, batch_size=16, chunk_batches=10)
    rows = np.concatenate(batches)
    assert sorted(rows) == list(range(1000))
    assert sorted(len(b) for b in batches) == [8] + [16] * 62  # as many batches as before, one remainder
    assert batches_per_epoch(1000, 16) == len(batches)
    # Each batch spans a small part of the length range; batches of random rows span nearly all of it.
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[b]) for b in np.array_split(np.random.default_rng(1).permutation(1000), 63)])
    assert spread < 0.15 * random_spread


def test_mean_batch_positions_is_the_mean_over_an_epochs_batches():
    lengths = np.random.default_rng(2).integers(1, MAX_LEN + 1, 300)
    targets = right_padded(lengths)
    torch.manual_seed(0)
    batches = length_grouped_batches(lengths, batch_size=32)
    real_positions = [int(targets[torch.as_tensor(rows)].ne(0).sum()) for rows in batches]
    assert mean_batch_positions(targets, 32) == pytest.approx(np.mean(real_positions))
    # Models trained on prefixes train a fixed number of positions per sequence, whatever its length.
    assert mean_batch_positions(targets, 32, positions_per_sequence=4) == pytest.approx(
        np.mean([4 * len(rows) for rows in batches]))


def test_batches_are_fixed_by_the_seed_and_change_between_epochs():
    lengths = np.random.default_rng(0).integers(1, 50, 300)

    def epoch_batches(seed):
        torch.manual_seed(seed)
        return [length_grouped_batches(lengths, 8, chunk_batches=4) for _ in range(2)]

    (first, second), (again, _) = epoch_batches(1), epoch_batches(1)
    assert batches_per_epoch(300, 8) == len(first)  # 37 full batches and one of 4 rows
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))
    # The batch order is shuffled: long and short batches are mixed, not in sorted order.
    maxima = [lengths[b].max() for b in first]
    assert maxima != sorted(maxima) and maxima != sorted(maxima, reverse=True)


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_hidden_states_at_real_positions_ignore_trailing_padding(architecture):
    lengths = [9, 7, 4, 1]
    padded = right_padded(lengths)
    net = model(architecture)
    with torch.no_grad():
        full = net(padded)
        cut = net(padded[:, : max(lengths)])
    real = padded[:, : max(lengths)].ne(0)
    assert real[:, -1].any()  # the cut batch has no column of padding only
    torch.testing.assert_close(cut[real], full[:, : max(lengths)][real], rtol=1e-5, atol=1e-5)


def reference_ranks(net, cases):
    """The ranking of rank_cases computed case by case on the uncut, max_len-wide inputs."""
    embeddings = net.item_embeddings().float()
    with torch.no_grad():
        hidden = net(cases.inputs)
    ranks = []
    for case in range(len(cases.users)):
        scores = hidden[case, cases.last[case]] @ embeddings.T
        target = cases.targets[case]
        target_score = scores[target].clone()
        scores[0] = float("-inf")
        scores[cases.history_items[cases.history_ptr[case]:cases.history_ptr[case + 1]]] = float("-inf")
        scores[target] = target_score
        ranks.append(int((scores >= target_score).sum()) - 1)
    return torch.tensor(ranks)


def random_test_cases(seed: int, n_users: int):
    """Test cases of random histories of 3 to 24 items (some longer than MAX_LEN: truncated),
    leave-one-out split."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 25, n_users)
    interactions = pd.DataFrame({
        "user": np.repeat(np.arange(n_users), lengths),
        "item": rng.integers(1, N_ITEMS + 1, lengths.sum()),
        "timestamp": np.concatenate([np.arange(n) for n in lengths]),
    })
    position = interactions.groupby("user").cumcount(ascending=False)
    interactions["split"] = np.where(position == 0, "test", np.where(position == 1, "valid", "train"))
    return evaluation_cases(interactions, "test", MAX_LEN)


@pytest.mark.parametrize("architecture", ["sasrec", "sigma"])
def test_evaluation_on_cut_batches_ranks_as_on_padded_ones(architecture):
    cases = random_test_cases(seed=0, n_users=40)
    net = model(architecture)
    widths = []

    def record(module, args):
        batch = args[0]
        assert batch[:, -1].ne(0).any(), "a batch was not cut to its longest sequence"
        widths.append(batch.shape[1])

    handle = net.register_forward_pre_hook(record)
    ranks = rank_cases(net, cases, batch_size=7)
    handle.remove()
    assert torch.equal(ranks, reference_ranks(net, cases))
    assert len(widths) == 6 and min(widths) < MAX_LEN == max(widths)


def test_cases_taken_by_rows_rank_as_in_the_whole_evaluation():
    cases = random_test_cases(seed=1, n_users=30)
    net = model("sasrec")
    rows = np.array([17, 3, 29, 4, 11])
    part = cases.take(rows)
    assert part.users.tolist() == cases.users[rows].tolist()
    for i, row in enumerate(rows):  # each taken case keeps its whole history (masked in the ranking)
        whole = cases.history_items[cases.history_ptr[row]:cases.history_ptr[row + 1]]
        assert torch.equal(part.history_items[part.history_ptr[i]:part.history_ptr[i + 1]], whole)
    assert torch.equal(rank_cases(net, part, batch_size=2), rank_cases(net, cases, batch_size=4)[rows])

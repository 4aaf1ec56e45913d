"""Both losses against a brute-force reference with per-position weights."""

import math

import pytest
import torch

from seqrec.losses import candidate_log_q, full_softmax_loss, sample_candidates, sampled_softmax_loss


def setup(seed=0, n=12, d=8, n_items=30):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, d, generator=g)
    embeddings = torch.randn(n_items + 1, d, generator=g)
    targets = torch.randint(1, n_items + 1, (n,), generator=g)
    targets[[3, 7]] = 0  # padding positions
    weights = torch.rand(n, generator=g) * 3
    return hidden, embeddings, targets, weights


def test_full_softmax_matches_brute_force():
    hidden, embeddings, targets, weights = setup()
    expected, valid = 0.0, 0
    for h, t, w in zip(hidden, targets, weights):
        if t == 0:
            continue
        logits = [float(h @ embeddings[j]) for j in range(1, len(embeddings))]
        expected += float(w) * (math.log(sum(math.exp(x) for x in logits)) - logits[int(t) - 1])
        valid += 1
    loss = full_softmax_loss(hidden, targets, embeddings, weights)
    assert loss.item() == pytest.approx(expected / valid, rel=1e-5)


@pytest.mark.parametrize("max_logits", [31, 100, 31 * 12])  # chunks of 1, 3 and all 12 positions
def test_full_softmax_in_chunks_gives_the_loss_and_gradients_of_one_chunk(max_logits):
    hidden, embeddings, targets, weights = (x.double() if x.is_floating_point() else x for x in setup())
    gradients = []
    for limit in [10**9, max_logits]:
        h, e = hidden.clone().requires_grad_(), embeddings.clone().requires_grad_()
        loss = full_softmax_loss(h, targets, e, weights, max_logits=limit)
        loss.backward()
        gradients.append((loss.detach(), h.grad, e.grad))
    for whole, chunked in zip(*gradients):
        torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)


def test_unweighted_is_weight_one():
    hidden, embeddings, targets, _ = setup(1)
    ones = torch.ones(len(targets))
    assert full_softmax_loss(hidden, targets, embeddings).item() == pytest.approx(
        full_softmax_loss(hidden, targets, embeddings, ones).item())


def test_sampled_softmax_matches_brute_force():
    hidden, embeddings, targets, weights = setup(2)
    candidates = torch.tensor([5, 9, 0, 14, int(targets[0]), 22, 9])  # padding, a hit, a duplicate
    log_q_candidates = torch.linspace(-2.0, -0.5, len(candidates))
    log_q_targets = torch.linspace(-1.0, -3.0, len(targets))
    expected, valid = 0.0, 0
    for p, (h, t, w) in enumerate(zip(hidden, targets, weights)):
        if t == 0:
            continue
        pos = float(h @ embeddings[t]) - float(log_q_targets[p])
        negs = [float(h @ embeddings[c]) - float(q) for c, q in zip(candidates, log_q_candidates)
                if c != 0 and c != t]
        expected += float(w) * (math.log(math.exp(pos) + sum(math.exp(x) for x in negs)) - pos)
        valid += 1
    loss = sampled_softmax_loss(hidden, targets, embeddings, candidates, log_q_candidates, log_q_targets, weights)
    assert loss.item() == pytest.approx(expected / valid, rel=1e-5)


def test_log_q_mixes_uniform_and_popularity():
    frequency = torch.tensor([0.0, 0.5, 0.3, 0.2])  # three items
    targets = torch.tensor([1, 2, 0, 0])  # half of the positions are real
    log_q = candidate_log_q(torch.tensor([1, 3]), frequency, targets, n_uniform=6, n_inbatch=4)
    assert log_q.tolist() == pytest.approx([math.log(6 / 3 + 4 * 0.5 * 0.5), math.log(6 / 3 + 4 * 0.5 * 0.2)])


def test_candidates_are_items_or_batch_targets():
    torch.manual_seed(0)
    targets = torch.tensor([0, 4, 7, 0, 9])
    candidates = sample_candidates(targets, n_uniform=50, n_inbatch=20, n_items=10)
    assert candidates.shape == (70,)
    assert ((candidates[:50] >= 1) & (candidates[:50] <= 10)).all()
    assert set(candidates[50:].tolist()) <= {0, 4, 7, 9}


def test_sampled_softmax_gradient_is_finite_with_all_negatives_masked():
    hidden, embeddings, targets, weights = setup(3)
    hidden.requires_grad_(True)
    loss = sampled_softmax_loss(hidden, targets, embeddings, torch.tensor([0, 0]), torch.zeros(2),
                                torch.zeros(len(targets)), weights)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and torch.isfinite(hidden.grad).all()


def test_a_given_number_of_positions_replaces_the_batch_s_own():
    hidden, embeddings, targets, weights = setup(3)
    own = full_softmax_loss(hidden, targets, embeddings, weights)
    valid = int(targets.ne(0).sum())
    assert full_softmax_loss(hidden, targets, embeddings, weights, positions=2.5 * valid).item() == \
        pytest.approx(own.item() / 2.5)

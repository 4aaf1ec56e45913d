"""SparseEnNet: interface, augmentation operators, adversarial training through gradient reversal."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqrec.losses import full_softmax_loss
from seqrec.models.sparseennet import (OPERATORS, SparseEnNet, crop, draw_operators, mask, pool, reorder,
                                       reverse_gradient)

N_ITEMS, MAX_LEN = 40, 12
MASK, POOL = N_ITEMS + 1, N_ITEMS + 2
LENGTHS = [12, 9, 5, 3, 2, 1, 0]


def batch(lengths=LENGTHS, max_len=MAX_LEN, seed=0):
    """Right-padded rows of distinct items (so a view's items can be traced back to their positions)."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.zeros(len(lengths), max_len, dtype=torch.long)
    for row, n in zip(rows, lengths):
        row[:n] = torch.randperm(N_ITEMS, generator=g)[:n] + 1
    return rows


def model(**kwargs):
    torch.manual_seed(0)
    return SparseEnNet(N_ITEMS, MAX_LEN, d_model=16, n_layers=1, n_heads=2, **kwargs)


def length(row):
    return int(row.ne(0).sum())


def assert_right_padded(views):
    real = views.ne(0)
    assert not (real[:, 1:] & ~real[:, :-1]).any(), "padding inside the real part"


def test_shapes():
    m = model()
    hidden = m(batch())
    assert hidden.shape == (len(LENGTHS), MAX_LEN, 16)
    assert m.item_embeddings().shape == (N_ITEMS + 1, 16)
    assert m.encoder.item_embedding.num_embeddings == N_ITEMS + 3  # items, padding, mask and pool tokens


def test_causal():
    m = model().eval()
    sequences = batch([MAX_LEN] * 3)
    j = 5
    changed = sequences.clone()
    changed[:, j + 1:] = torch.randint(1, N_ITEMS + 1, changed[:, j + 1:].shape)
    with torch.no_grad():
        assert torch.allclose(m(sequences)[:, : j + 1], m(changed)[:, : j + 1], atol=1e-6)
        assert not torch.allclose(m(sequences)[:, j + 1:], m(changed)[:, j + 1:])


@pytest.mark.parametrize("seed", range(10))
def test_crop(seed):
    torch.manual_seed(seed)
    sequences = batch(seed=seed)
    views = crop(sequences, 0.5)
    assert_right_padded(views)
    for original, view in zip(sequences, views):
        n, m = length(original), length(view)
        assert m == (max(1, int(0.5 * n)) if n else 0)
        assert m < n or n <= 1
        slices = [original[s:s + m].tolist() for s in range(n - m + 1)]
        assert view[:m].tolist() in slices


@pytest.mark.parametrize("seed", range(10))
def test_mask(seed):
    torch.manual_seed(seed)
    sequences = batch(seed=seed)
    views = mask(sequences, 0.5, MASK)
    assert_right_padded(views)
    for original, view in zip(sequences, views):
        n = length(original)
        changed = view.ne(original)
        assert length(view) == n
        assert view[changed].eq(MASK).all()
        assert int(changed.sum()) == int(0.5 * n)


@pytest.mark.parametrize("seed", range(10))
def test_reorder(seed):
    torch.manual_seed(seed)
    sequences = batch(seed=seed)
    views = reorder(sequences, 0.5)
    assert_right_padded(views)
    for original, view in zip(sequences, views):
        n = length(original)
        assert length(view) == n
        changed = view.ne(original).nonzero().flatten()
        if len(changed):
            lo, hi = int(changed.min()), int(changed.max()) + 1
            assert hi - lo <= int(0.5 * n)
            assert sorted(view[lo:hi].tolist()) == sorted(original[lo:hi].tolist())
    assert views[0].ne(sequences[0]).any()  # a window of 6 distinct items is almost never left in order


@pytest.mark.parametrize("seed", range(10))
def test_pool(seed):
    torch.manual_seed(seed)
    sequences = batch(seed=seed)
    views, window = pool(sequences, 0.5, POOL)
    assert_right_padded(views)
    for original, view, row_window in zip(sequences, views, window):
        n = length(original)
        if n == 0:
            assert not view.any() and not row_window.any()
            continue
        w = max(1, int(0.5 * n))
        assert length(view) == n - w + 1
        (slot,) = view.eq(POOL).nonzero().flatten().tolist()
        assert row_window.nonzero().flatten().tolist() == list(range(slot, slot + w))
        assert view[:slot].tolist() == original[:slot].tolist()
        assert view[slot + 1: n - w + 1].tolist() == original[slot + w: n].tolist()


def test_draw_operators_balances_same_and_different():
    torch.manual_seed(0)
    first, second = draw_operators(20000, "cpu")
    assert first.min() >= 0 and max(first.max(), second.max()) < len(OPERATORS)
    assert first.eq(second).float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert torch.bincount(second, minlength=4).div(20000).sub(0.25).abs().max() < 0.02


def test_augment_applies_each_rows_operator():
    m = model()
    sequences = batch([10, 10, 10, 10])
    torch.manual_seed(0)
    views, window = m.augment(sequences, torch.arange(4))  # crop, mask, reorder, pool
    assert [length(v) for v in views] == [2, 10, 10, 6]  # crop_rate 0.2, pool_rate 0.5
    assert views[1].eq(MASK).sum() == 7 and not views[[0, 2, 3]].eq(MASK).any()  # mask_rate 0.7
    assert sorted(views[2].tolist()) == sorted(sequences[2].tolist())
    assert views[3].eq(POOL).sum() == 1 and window[3].sum() == 5 and not window[:3].any()


def test_auxiliary_loss_is_finite_and_reaches_every_part():
    m = model().train()
    sequences = batch(seed=1)
    loss = m.auxiliary_loss(sequences, m(sequences))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for part in (m.encoder, m.generator, m.augmentation_discriminator, m.stability_discriminator):
        for name, parameter in part.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_gradient_reversal_layer():
    x = torch.randn(5, 3, requires_grad=True)
    upstream = torch.randn(5, 3)
    y = reverse_gradient(x)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()
    assert torch.equal(x.grad, -upstream)


def test_reversal_flips_the_generators_gradient_but_not_the_discriminators():
    torch.manual_seed(0)
    generator, discriminator = nn.Linear(4, 4), nn.Linear(4, 2)
    noise, labels = torch.randn(8, 4), torch.randint(0, 2, (8,))

    def gradients(reverse):
        generator.zero_grad(), discriminator.zero_grad()
        generated = generator(noise)
        F.cross_entropy(discriminator(reverse_gradient(generated) if reverse else generated), labels).backward()
        return generator.weight.grad.clone(), discriminator.weight.grad.clone()

    (g_plain, d_plain), (g_reversed, d_reversed) = gradients(False), gradients(True)
    assert g_plain.abs().sum() > 0
    assert torch.allclose(g_reversed, -g_plain)
    assert torch.allclose(d_reversed, d_plain)


def next_item_loss(m, inputs, targets):
    return full_softmax_loss(m(inputs).flatten(0, 1), targets.flatten(), m.item_embeddings())


def test_training_steps_reduce_next_item_loss():
    m = model(dropout=0.0)
    full = batch([MAX_LEN + 1, 10, 8, 6, 4, 3, 2, 12], max_len=MAX_LEN + 1, seed=2)
    inputs, targets = full[:, :-1], full[:, 1:]
    optimizer = torch.optim.AdamW(m.parameters(), lr=1e-2)
    with torch.no_grad():
        before = next_item_loss(m.eval(), inputs, targets).item()
    m.train()
    torch.manual_seed(0)
    for _ in range(20):
        hidden = m(inputs)
        loss = full_softmax_loss(hidden.flatten(0, 1), targets.flatten(), m.item_embeddings())
        loss = loss + m.auxiliary_loss(inputs, hidden)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = next_item_loss(m.eval(), inputs, targets).item()
    assert after < 0.5 * before


def test_same_seed_same_auxiliary_loss():
    m = model()
    sequences = batch(seed=3)

    def auxiliary(seed):
        torch.manual_seed(seed)
        return m.auxiliary_loss(sequences, m(sequences)).item()

    assert auxiliary(1) == auxiliary(1)
    assert auxiliary(1) != auxiliary(2)


def test_losses_in_float32_under_autocast():
    m = model()
    sequences = batch(seed=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = m.auxiliary_loss(sequences, m(sequences))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)

"""SIGMA: the PyTorch selective scan (parallel form and loop) against a step-by-step reference, the partial
flip, padding, training and determinism."""

import functools
import importlib.util

import pandas as pd
import pytest
import torch

from seqrec.device import SectionTimer
from seqrec.losses import full_softmax_loss
from seqrec.models import sigma
from seqrec.models.sigma import SIGMA, partial_flip_index, selective_scan, selective_scan_reference
from seqrec.train import Trainer

N_ITEMS = 40


def right_padded(lengths, seq_len, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.as_tensor(lengths)
    items = torch.randint(1, N_ITEMS + 1, (len(lengths), seq_len), generator=g)
    return items * (torch.arange(seq_len) < lengths.unsqueeze(1)), lengths


def scan_inputs(dtype=torch.float64, batch=2, dim=3, n=4, length=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, dim, length, generator=g, dtype=dtype)
    delta = torch.rand(batch, dim, length, generator=g, dtype=dtype) - 0.3  # some negative: softplus matters
    A = -torch.rand(dim, n, generator=g, dtype=dtype) * 2
    B = torch.randn(batch, n, length, generator=g, dtype=dtype)
    C = torch.randn(batch, n, length, generator=g, dtype=dtype)
    D = torch.randn(dim, generator=g, dtype=dtype)
    z = torch.randn(batch, dim, length, generator=g, dtype=dtype)
    delta_bias = torch.rand(dim, generator=g, dtype=dtype)
    return u, delta, A, B, C, D, z, delta_bias


def make_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return SIGMA(N_ITEMS, max_len=12, d_model=16, d_state=8, **kwargs)


OPTIONS = [dict(), dict(z=True), dict(delta_bias=True), dict(delta_softplus=True),
           dict(z=True, delta_bias=True, delta_softplus=True)]


def with_options(inputs, options):
    u, delta, A, B, C, D, z, delta_bias = inputs
    return dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z if options.get("z") else None,
                delta_bias=delta_bias if options.get("delta_bias") else None,
                delta_softplus=options.get("delta_softplus", False))


# Ways to run the scan: the step-by-step loop (the reference of the parallel form) and the chunked
# parallel form, each with its default blocks of rows and with one row per block.
SCANS = {
    "loop": dict(chunk_size=None),
    "loop, a row per call": dict(chunk_size=None, loop_rows=1),
    "chunked": dict(),
    "chunked, a row per block": dict(block_elements=1),
    "chunks of 1, a row per block": dict(chunk_size=1, block_elements=1),
    "chunks of 4": dict(chunk_size=4),
    "one chunk": dict(chunk_size=1000),
}


def scan_with(monkeypatch, variant):
    """selective_scan run the way SCANS[variant] says."""
    settings = dict(SCANS[variant])
    monkeypatch.setattr(sigma, "_LOOP_ROW_ELEMENTS", settings.pop("loop_rows", sigma._LOOP_ROW_ELEMENTS))
    if "block_elements" in settings:
        monkeypatch.setattr(sigma, "_block_elements", lambda device, elements=settings.pop("block_elements"): elements)
    return functools.partial(selective_scan, **settings)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("variant", SCANS)
def test_selective_scan_matches_reference(options, variant, monkeypatch):
    scan = scan_with(monkeypatch, variant)
    args = with_options(scan_inputs(batch=3, length=11), options)
    expected = selective_scan_reference(**args)
    torch.testing.assert_close(scan(**args), expected, rtol=1e-10, atol=1e-10)
    # float32 inputs: float32 out, within float32 precision
    args32 = {k: v.float() if torch.is_tensor(v) else v for k, v in args.items()}
    out32 = scan(**args32)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", SCANS)
def test_selective_scan_gradients(variant, monkeypatch):
    """Each way's backward (the loop's and the parallel form's are hand-written) against finite differences,
    every input, with and without row lengths."""
    scan = scan_with(monkeypatch, variant)
    inputs = [t.requires_grad_() for t in scan_inputs(batch=3, dim=2, n=3, length=7)]
    for lengths in (None, torch.tensor([7, 0, 3])):
        def run(u, delta, A, B, C, D, z, delta_bias):
            return scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True, lengths=lengths)

        assert torch.autograd.gradcheck(run, inputs)


def realistic_scan_inputs(dtype, batch=4, dim=16, n=32, length=100, seed=0):
    """Magnitudes of SIGMA at initialisation (A = -[1..N], softplus(delta) near 0.69), some decays far below
    the smallest float32 (A * delta < -88), and rows of every length, some empty."""
    u, delta, A, B, C, D, z, delta_bias = scan_inputs(dtype, batch, dim, n, length, seed)
    A = -torch.arange(1, n + 1, dtype=dtype).repeat(dim, 1)
    A[0] *= 8
    lengths = torch.tensor([length, length - 1, 17, 0][:batch])
    return dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias, delta_softplus=True,
                lengths=lengths)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parallel_scan_matches_the_loop_with_gradients(dtype, tolerance):
    """Outputs and every input's gradient; the parallel form skips the positions after each row's length,
    the loop computes them and the output is masked: the same result."""
    args = realistic_scan_inputs(dtype)
    results = []
    for chunk_size in (None, sigma.CHUNK_SIZE):
        inputs = {k: v.clone().requires_grad_() if torch.is_floating_point(v) else v
                  for k, v in args.items() if torch.is_tensor(v)}
        y = selective_scan(**inputs, delta_softplus=True, chunk_size=chunk_size)
        y.backward(torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=dtype))
        results.append([y] + [v.grad for v in inputs.values() if torch.is_floating_point(v)])
    for loop, chunked in zip(*results):
        scale = loop.abs().max()
        torch.testing.assert_close(chunked / scale, loop / scale, rtol=tolerance, atol=tolerance)
    assert torch.all(results[1][0][3] == 0)  # the empty row


def test_row_blocks_go_by_length_and_stay_within_budget(monkeypatch):
    monkeypatch.setattr(sigma, "_block_elements", lambda device: 12 * 6)  # 12 positions x rows of 6 states
    delta, A = torch.zeros(6, 2, 10), torch.zeros(2, 3)
    blocks = list(sigma._row_blocks(delta, A, [3, 10, 0, 5, 4, 1], chunk_size=4, n_work=2))
    # longest first, each block cut to its longest row in whole chunks of at most 4, as even as can be
    # (10 -> 3 chunks of 4: one row; 5 -> 2 chunks of 3: two rows; 3 -> 1 chunk of 3: the last two rows);
    # the empty row is skipped
    assert [(rows.tolist(), length, chunk) for rows, length, chunk, _ in blocks] == [
        ([1], 10, 4), ([3, 4], 5, 3), ([0, 5], 3, 3)]
    assert [work.shape for *_, work in blocks] == [(2, 12 * 6), (2, 2 * 6 * 6), (2, 2 * 3 * 6)]


def test_selective_scan_in_float32_under_bf16_inputs():
    args = with_options(scan_inputs(), dict(z=True, delta_bias=True, delta_softplus=True))
    low = {k: v.bfloat16() if torch.is_tensor(v) else v for k, v in args.items()}
    out = selective_scan(**low)
    assert out.dtype == torch.bfloat16
    expected = selective_scan_reference(**{k: v.double() if torch.is_tensor(v) else v for k, v in low.items()})
    torch.testing.assert_close(out.double(), expected, rtol=2e-2, atol=2e-2)  # only the output is rounded


def test_partial_flip_index_reverses_only_the_older_real_items():
    lengths, seq_len, r = torch.tensor([8, 7, 3, 2, 0, 5]), 8, 2
    index = partial_flip_index(lengths, seq_len, r)
    for row, n in zip(index.tolist(), lengths.tolist()):
        n_flipped = max(n - r, 0)
        assert row == list(range(n_flipped))[::-1] + list(range(n_flipped, seq_len))
    sequences, _ = right_padded(lengths, seq_len)
    flipped = sequences.gather(1, index)
    assert flipped[1].tolist() == sequences[1, :5].flip(0).tolist() + sequences[1, 5:].tolist()
    assert torch.equal(flipped.ne(0), sequences.ne(0))  # padding stays where it is
    assert torch.equal(flipped.gather(1, index), sequences)  # its own inverse
    assert torch.equal(partial_flip_index(lengths, seq_len, 0)[0], torch.arange(8).flip(0))


def test_flipped_branch_runs_on_the_flipped_sequence_and_comes_back_in_place():
    model = make_model(n_unflipped=2).eval()
    block = model.layers[0].block
    lengths, seq_len = [6, 4, 2], 7
    real = torch.arange(seq_len) < torch.tensor(lengths).unsqueeze(1)
    x = torch.randn(3, seq_len, 16) * real.unsqueeze(-1)
    forward, backward = block.pf_mamba(x, partial_flip_index(torch.tensor(lengths), seq_len, 2), torch.tensor(lengths))
    for row, n in enumerate(lengths):
        order = list(range(n - 2))[::-1] + list(range(n - 2, seq_len))  # flipped position s holds order[s]
        flipped_output = block.mamba(x[row, order].unsqueeze(0))[0]
        for s, t in enumerate(order[:n]):
            torch.testing.assert_close(backward[row, t], flipped_output[s], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(forward[real], block.mamba(x)[real])
    assert torch.all(forward[~real] == 0) and torch.all(backward[~real] == 0)  # after each row's length


def test_mamba_block_is_causal():
    block = make_model().layers[0].block.mamba
    x = torch.randn(2, 9, 16)
    later_changed = x.clone()
    later_changed[:, 5:] = torch.randn(2, 4, 16)
    torch.testing.assert_close(block(later_changed)[:, :5], block(x)[:, :5])
    assert not torch.allclose(block(later_changed)[:, 5:], block(x)[:, 5:])


def test_shapes_item_embeddings_and_zero_padding():
    model = make_model(n_layers=2)
    sequences, lengths = right_padded([12, 5, 1], 12)
    hidden = model(sequences)
    assert hidden.shape == (3, 12, 16)
    assert model.item_embeddings().shape == (N_ITEMS + 1, 16)
    assert torch.all(model.item_embeddings()[0] == 0)
    real = sequences.ne(0)
    assert torch.all(hidden[~real] == 0) and torch.all(hidden[real].abs().sum(-1) > 0)


@pytest.mark.parametrize("share_mamba", [True, False])
def test_gradients_reach_every_parameter(share_mamba):
    model = make_model(n_layers=2, share_mamba=share_mamba)
    sequences, lengths = right_padded([12, 9, 5, 2], 12)
    hidden = model(sequences)[torch.arange(4), lengths - 1]
    full_softmax_loss(hidden, torch.tensor([3, 7, 11, 20]), model.item_embeddings()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("chunk_size", [sigma.CHUNK_SIZE, 5])  # 5: several chunks in a row of 12
def test_model_forward_and_backward_are_the_same_with_the_loop_and_the_parallel_scan(dtype, tolerance, chunk_size,
                                                                                   monkeypatch):
    """The whole model, training mode (dropout drawn from the same seed), rows of every length."""
    sequences, lengths = right_padded([12, 11, 7, 5, 1], 12)
    targets = torch.tensor([3, 7, 11, 20, 5])
    results = []
    for chunk_size in (None, chunk_size):
        monkeypatch.setattr(sigma, "scan", functools.partial(sigma.selective_scan, chunk_size=chunk_size))
        model = perturb(make_model(n_layers=2)).to(dtype)
        torch.manual_seed(3)
        hidden = model(sequences)
        full_softmax_loss(hidden[torch.arange(5), lengths - 1], targets, model.item_embeddings()).backward()
        results.append([hidden] + [p.grad for p in model.parameters()])
    for loop, chunked in zip(*results):
        scale = loop.abs().max()
        torch.testing.assert_close(chunked / scale, loop / scale, rtol=tolerance, atol=tolerance)


def perturb(model):
    """Non-zero biases everywhere, so that a zero padding embedding does not stay zero by accident."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, torch.nn.Linear, torch.nn.Conv1d)) and module.bias is not None:
                module.bias.normal_()
    return model


def test_extra_padding_columns_do_not_change_real_positions():
    model = perturb(make_model(n_layers=2)).eval()
    sequences, lengths = right_padded([10, 10, 6, 3, 1], 10)
    padded = torch.cat([sequences, torch.zeros(5, 5, dtype=sequences.dtype)], dim=1)
    real = sequences.ne(0)
    with torch.no_grad():
        torch.testing.assert_close(model(padded)[:, :10][real], model(sequences)[real], rtol=1e-5, atol=1e-5)


def test_length_groups_go_by_length_and_leave_out_empty_rows():
    groups = sigma.length_groups([3, 10, 0, 5, 4, 1, 10], rows_per_group=2)
    assert [(rows.tolist(), width) for rows, width in groups] == [([1, 6], 10), ([3, 4], 5), ([0, 5], 3)]


def test_rows_run_in_groups_of_similar_length_cut_to_their_longest(monkeypatch):
    """Training's random prefixes differ widely in length: no layer sees the padding after a group's
    longest row."""
    monkeypatch.setattr(sigma, "_GROUP_ROWS", 2)
    model = make_model(n_layers=2)
    widths = []
    model.layers[0].register_forward_hook(lambda module, inputs, output: widths.append(tuple(inputs[0].shape[:2])))
    sequences, _ = right_padded([2, 12, 3, 11, 0], 12)
    model(sequences)
    assert widths == [(2, 12), (2, 3)]


@pytest.mark.parametrize("rows_per_group", [1, 2, 3])
def test_grouped_rows_give_the_loss_and_gradients_of_the_whole_batch(rows_per_group, monkeypatch):
    """forward (rows in groups cut to their longest) against encode (the whole batch at full width):
    the same hidden states, loss and gradients of every parameter, rows of every length (eval mode:
    no dropout)."""
    monkeypatch.setattr(sigma, "_GROUP_ROWS", rows_per_group)
    model = perturb(make_model(n_layers=2)).double().eval()
    sequences, lengths = right_padded([12, 1, 7, 12, 3, 0, 9], 12)
    targets = torch.tensor([3, 7, 11, 20, 5, 9, 1])
    results = []
    for forward in (model.forward, model.encode):
        model.zero_grad()
        hidden = forward(sequences)
        last = (lengths - 1).clamp_min(0)
        full_softmax_loss(hidden[torch.arange(7), last], targets, model.item_embeddings()).backward()
        results.append([hidden] + [p.grad.clone() for p in model.parameters()])
    for grouped, whole in zip(*results):
        torch.testing.assert_close(grouped, whole, rtol=1e-10, atol=1e-12)


def test_training_mode_is_the_same_for_the_same_seed():
    """Dropout is drawn group by group: the same seed still gives the same hidden states."""
    sequences, _ = right_padded([12, 2, 7, 5, 9, 1], 12)
    outputs = []
    for _ in range(2):
        model = make_model(seed=5)
        torch.manual_seed(8)
        outputs.append(model(sequences))
    assert torch.equal(*outputs)


def test_a_few_adam_steps_decrease_the_loss():
    model = make_model(n_layers=2, dropout=0.0)
    sequences, lengths = right_padded([12, 10, 8, 6, 4, 3, 2, 1], 12, seed=1)
    targets = torch.randint(1, N_ITEMS + 1, (8,), generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        hidden = model(sequences)[torch.arange(8), lengths - 1]
        loss = full_softmax_loss(hidden, targets, model.item_embeddings())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_model_and_outputs():
    sequences, _ = right_padded([12, 7, 3], 12)
    first, second, other = make_model(seed=5).eval(), make_model(seed=5).eval(), make_model(seed=6).eval()
    with torch.no_grad():
        assert torch.equal(first(sequences), second(sequences))
        assert not torch.allclose(first(sequences), other(sequences))


def test_forward_under_bf16_autocast_on_cpu():
    model = make_model(n_layers=2).eval()
    sequences, _ = right_padded([12, 4], 12)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = model(sequences)
    assert torch.isfinite(hidden).all()
    with torch.no_grad():
        torch.testing.assert_close(hidden.float(), model(sequences), rtol=0.1, atol=0.1)


def test_sigma_is_not_causal():
    assert SIGMA.causal is False  # the trainer must train it on prefixes, from the last position


@pytest.mark.skipif(not torch.cuda.is_available() or importlib.util.find_spec("mamba_ssm") is None,
                    reason="needs CUDA and mamba-ssm")
def test_mamba_ssm_kernel_agrees_with_the_pytorch_scan():
    u, delta, A, B, C, D, z, delta_bias = (t.float().cuda() for t in scan_inputs(batch=4, dim=32, n=16, length=50))
    kernel = sigma._mamba_kernel()
    assert kernel is not None
    expected = selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True)
    got = sigma.scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(kernel(u, delta, A, B, C, D, z, delta_bias, True), expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n_layers, share_mamba, n_unflipped", [(1, True, 5), (2, True, 2), (2, False, 0)])
def test_last_only_gives_the_last_real_positions_with_their_gradients(n_layers, share_mamba, n_unflipped,
                                                                      monkeypatch):
    """forward(last_only=True), what the trainer asks of a non-causal model, against the full forward at
    each row's last real position: the same states, loss and gradients (eval mode: no dropout), in
    groups and as a whole batch; a row without items gives zeros."""
    monkeypatch.setattr(sigma, "_GROUP_ROWS", 2)
    model = perturb(make_model(n_layers=n_layers, share_mamba=share_mamba, n_unflipped=n_unflipped)).double().eval()
    sequences, lengths = right_padded([12, 1, 7, 12, 3, 0, 9], 12)
    targets = torch.tensor([3, 7, 11, 20, 5, 9, 1])
    results = []
    for last_states in (lambda: model(sequences)[torch.arange(7), (lengths - 1).clamp_min(0)],
                        lambda: model(sequences, last_only=True),
                        lambda: model.encode(sequences, last_only=True)):
        model.zero_grad()
        hidden = last_states()
        full_softmax_loss(hidden, targets, model.item_embeddings()).backward()
        results.append([hidden] + [p.grad.clone() for p in model.parameters()])
    assert results[1][0].shape == (7, 16) and torch.all(results[1][0][5] == 0)
    for other in results[1:]:
        for expected, got in zip(results[0], other):
            torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_a_training_step_has_the_loss_of_the_whole_prefix_batch(tiny_dataset):
    """Trainer.train_step (random prefixes; the model in groups of similar length, last positions only)
    against the same prefixes through the whole batch at full width (eval mode: no dropout)."""
    config, data, sparsity = tiny_dataset
    config = {**config, "train": {**config["train"], "loss": "full_softmax"}}
    trainer = Trainer(pd.read_parquet(data / "interactions.parquet"), pd.read_parquet(data / "items.parquet"),
                      pd.read_parquet(sparsity / "domains.parquet"), "sigma", "synthetic", config, torch.device("cpu"))
    trainer.model.eval()
    torch.manual_seed(0)
    rows, width = max(trainer.epoch_batches(), key=lambda batch: batch[1])
    torch.manual_seed(1)
    prefixes, targets, last = trainer.random_prefixes(trainer.inputs[rows, :width], trainer.targets[rows, :width])
    assert len(set(prefixes.ne(0).sum(1).tolist())) > 2  # prefixes of several lengths: several groups
    with torch.no_grad():
        hidden = trainer.model.encode(prefixes)[torch.arange(len(prefixes)), last]
        expected = trainer.loss(hidden, targets, trainer.position_weights(targets))
    torch.manual_seed(1)
    torch.testing.assert_close(trainer.train_step((rows, width), SectionTimer(trainer.device)), expected)

"""SIGMA (Liu et al., "SIGMA: Selective Gated Mamba for Sequential Recommendation", AAAI 2025,
arXiv 2408.11451), in plain PyTorch so that it runs on the CPU.

Faithful to the paper and to the authors' released code (github.com/ziwliu8/SIGMA,
model/gated_mamba.py and model/config.yaml):
- embedding layer: item embedding, dropout, layer norm, no position embedding (Mamba is ordered);
- G-Mamba block = PF-Mamba + DS Gate + FE-GRU, mixed by learnable weights (initialised 0.8 forward,
  0.1 flipped, 0.1 GRU, used as they are, without normalisation, as in the released code) and a
  linear projection;
- PF-Mamba: the sequence goes through a Mamba block as it is and with its first n - r items flipped
  (the most recent r kept in place); one Mamba block serves both directions, as in the released
  code (`share_mamba=False` gives the flipped direction a block of its own);
- DS Gate: G = W_si SiLU(H) + W_sig sigmoid(H) with H = Dense(E) + E, one Dense per direction, W_si
  and W_sig shared; each direction's output M becomes M * dropout(G) + M;
- FE-GRU: a width-3 convolution over the sequence followed by a GRU without bias;
- each layer: layer norm of the block's output (plus its input when there are several layers),
  then a position-wise feed-forward net (GELU, inner size 4d) with residual and layer norm;
- the Mamba block of mamba-ssm 1.1 (in_proj, causal depthwise conv1d, SiLU, x_proj to (dt, B, C),
  dt_proj with softplus, A = -exp(A_log), D skip, SiLU(z) gate, out_proj; A_log and D initialised as
  there);
- initialisation: every Linear N(0, 0.02) with zero bias, layer norms 1 and 0, as the released code
  does after building the model (which overrides mamba-ssm's own dt_proj initialisation, so dt
  starts at softplus(0) = 0.69 in every channel).

Adapted, and why:
- The flip is computed per row from its real length (the released code flips a fixed 45 leading
  positions, which with right padding moves padding to the front of short sequences), and the
  flipped branch's output is put back into the original positions before mixing (the released code
  mixes flipped-order outputs position by position; at the last real position, the one that is
  scored, both agree because the last r items do not move).
- Padding positions are zeroed after the embedding layer and after every layer, so the
  non-causal FE-GRU convolution sees the same zeros after the last item whether or not a row is
  padded: extra padding columns never change a real position.
- Training: the flipped branch lets every position see later items, so training all positions at
  once would leak their targets; the trainer (seqrec.train) therefore trains on random prefixes,
  from the last real position only (`causal = False`). The released code trains the last position
  of every prefix of every sequence (RecBole's augmentation), so random prefixes sample the same
  objective; the loss is this project's (full or log-Q sampled softmax).
- The selective scan is written in PyTorch, in chunked parallel form with a hand-written backward
  (float32, autocast off; the step-by-step loop stays as its reference); on a CPU it skips each
  row's padding, and the model runs a batch's rows in groups of similar length, each cut to its
  longest row (the random training prefixes of one batch differ widely in length). On CUDA with
  mamba-ssm installed the fused kernel `selective_scan_fn` of the released code's dependency is
  used instead (same arguments).
- The item embeddings follow the project's convention (normal, std d^-0.5, padding row zero)
  instead of the released code's N(0, 0.02); scores are tied to them.
- Two details of the released code that look like slips are not copied: there the flipped gate's
  sigmoid branch reads the forward gate's output instead of H, and the gate dropout is fixed at 0.2
  instead of following the model's dropout.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from seqrec.models.base import SequenceModel


CHUNK_SIZE = 16  # positions per chunk of the parallel scan (benchmarks/scan.py, CPU, max_len 200: 8 and 16 within
# 3%, 32 5-20% slower; fewer chunks to carry the state across than 8)
# State elements in one block of rows of the parallel scan ([positions, rows, N, D] per work tensor, four in
# the backward): on a CPU 2 ** 20 per thread, one row at max_len 200 per thread, whose work tensors stay
# within the caches (on two threads two rows: four rows ~1.3x slower, one row twice the operations to wait
# for; on one thread, with other jobs on the machine, 2 ** 21 12-20% slower, 2 ** 19 as fast); on a GPU a
# few large blocks, memory bounded at 4 x 512 MiB in float32.
_CPU_BLOCK_ELEMENTS_PER_THREAD = 2 ** 20
_DEVICE_BLOCK_ELEMENTS = 2 ** 27
# Rows per group of similar length in SIGMA.forward on a CPU: 512 random prefixes (batch 128 x 4) make 16 groups
# with 6% padding (16 rows: 3%, 64: 12%); 16, 32 and 64 measured within noise (benchmarks/scan.py, max_len 200).
_GROUP_ROWS = 32
_LOOP_ROW_ELEMENTS = 2 ** 16  # the loop: batch rows per call, rows * D * N <= this (a [rows, D, N] state fits L2)


class _LoopRecurrence(torch.autograd.Function):
    """The scan's recurrence step by step with a hand-written backward, time-major: delta, du [L, b, D],
    A [D, N], B, C [L, b, N] -> y [L, b, D], where h_t = exp(delta_t A) h_{t-1} + du_t B_t and
    y_t = C_t h_t. The reference of the parallel form (tests, benchmarks/scan.py); it keeps every state.
    """

    @staticmethod
    def forward(ctx, delta, du, A, B, C):
        length, batch, dim = delta.shape
        states = delta.new_empty(length, batch, dim, A.shape[1])
        state = delta.new_zeros(batch, dim, A.shape[1])
        for t in range(length):
            decayed = torch.exp(delta[t].unsqueeze(-1) * A).mul_(state)
            state = torch.addcmul(decayed, du[t].unsqueeze(-1), B[t].unsqueeze(1), out=states[t])
        ctx.save_for_backward(delta, du, A, B, C, states)
        return torch.bmm(states.flatten(0, 1), C.flatten(0, 1).unsqueeze(-1)).view(length, batch, dim)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        delta, du, A, B, C, states = ctx.saved_tensors
        length, batch, dim = delta.shape
        grad_y = grad_y.contiguous()
        grad_C = torch.bmm(grad_y.flatten(0, 1).unsqueeze(1), states.flatten(0, 1)).view_as(C)
        grad_delta, grad_du, grad_B = torch.zeros_like(delta), torch.empty_like(du), torch.empty_like(B)
        grad_A = torch.zeros_like(A)
        grad_state = torch.zeros_like(states[0])  # d loss / d h_t, carried backwards in time
        for t in range(length - 1, -1, -1):
            grad_state.addcmul_(grad_y[t].unsqueeze(-1), C[t].unsqueeze(1))
            torch.bmm(grad_state, B[t].unsqueeze(-1), out=grad_du[t].unsqueeze(-1))
            torch.bmm(du[t].unsqueeze(1), grad_state, out=grad_B[t].unsqueeze(1))
            if t == 0:  # h_{-1} = 0: the first decay has no gradient
                break
            grad_state.mul_(torch.exp(delta[t].unsqueeze(-1) * A))  # now d loss / d h_{t-1} from h_t
            grad_exponent = grad_state * states[t - 1]  # d loss / d (delta_t A)
            torch.sum(grad_exponent * A, -1, out=grad_delta[t])
            grad_A.add_((grad_exponent * delta[t].unsqueeze(-1)).sum(0))
        return grad_delta, grad_du, grad_A, grad_B, grad_C


def _loop_recurrence(delta, du, A, B, C):
    """[b, D, L] / [b, N, L] -> y [b, D, L] with the loop, in blocks of rows whose state fits the L2 cache."""
    rows = max(1, _LOOP_ROW_ELEMENTS // A.numel()) if delta.device.type == "cpu" else len(delta)
    return torch.cat([_LoopRecurrence.apply(_time_major(d_), _time_major(du_), A, _time_major(b_), _time_major(c_))
                      for d_, du_, b_, c_ in zip(*(x.split(rows) for x in (delta, du, B, C)))],
                     dim=1).permute(1, 2, 0)


def _time_major(x: torch.Tensor) -> torch.Tensor:
    return x.permute(2, 0, 1).contiguous()


class _ChunkedRecurrence(torch.autograd.Function):
    """The same recurrence in parallel form: delta, du [b, D, L], A [D, N], B, C [b, N, L] -> y [b, D, L].

    The positions are cut into chunks of T. Every chunk runs the recurrence from a zero state, all chunks
    of a block of rows at once (T steps), and keeps the running product of its decays; the state entering
    each chunk then follows from a recurrence over the chunks' last states (L / T steps) and is added to
    every state of the chunk times that product. Only products of decays and sums occur (no division by
    a cumulative decay, which underflows), so this is as exact as the loop. States are [T, chunks, rows,
    N, D] (D innermost: the contractions with B and C are vector-matrix products). No state is kept for
    the backward: it recomputes them block by block and runs the same two-level scan backwards in time
    for d loss / d h, so memory stays at four work tensors of one block.

    Why not the masked decay matrix of Mamba-2 (ssd_minimal, L[t, s] = exp(S_t - S_s)): it becomes
    matrix products only with one scalar decay per head; Mamba-1's decay differs per channel and state,
    so it would cost T / 2 exponentials per state instead of one, the dominant cost here.

    Rows are processed in blocks of at most `_block_elements` states. Given `lengths` (a list: CPU only),
    rows are sorted by length and each block is cut to its longest row: positions after it are not
    computed and come out as zero.
    """

    @staticmethod
    def forward(ctx, delta, du, A, B, C, lengths, chunk_size):
        ctx.save_for_backward(delta, du, A, B, C)
        ctx.lengths, ctx.chunk_size = lengths, chunk_size
        y = torch.zeros_like(delta)
        A_t = A.T.contiguous()
        for rows, length, chunk, work in _row_blocks(delta, A, lengths, chunk_size, n_work=2):
            d, x, b, c = (_chunk_positions(t[rows, :, :length], chunk) for t in (delta, du, B, C))
            decay, states = (w.view(*d.shape[:-1], *A_t.shape) for w in work)
            _chunk_states(d, x, A_t, b, decay, states, decay)
            y[rows, :, :length] = _unchunk_positions(_contract_state(c, states), length)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        delta, du, A, B, C = ctx.saved_tensors
        grad_delta, grad_du, grad_B, grad_C = (torch.zeros_like(t) for t in (delta, du, B, C))
        A_t = A.T.contiguous()
        grad_A_t = torch.zeros_like(A_t)
        for rows, length, chunk, work in _row_blocks(delta, A, ctx.lengths, ctx.chunk_size, n_work=4):
            d, x, b, c, g = (_chunk_positions(t[rows, :, :length], chunk) for t in (delta, du, B, C, grad_y))
            decay, states, grad_h, scratch = (w.view(*d.shape[:-1], *A_t.shape) for w in work)
            entering = _chunk_states(d, x, A_t, b, decay, states, scratch)
            grad_C[rows, :, :length] = _unchunk_positions(
                torch.mul(states, g.unsqueeze(-2), out=scratch).sum(-1), length)
            # d loss / d h_t = C_t grad_y_t + decay_{t+1} d loss / d h_{t+1}: the two-level scan, backwards.
            torch.mul(c.unsqueeze(-1), g.unsqueeze(-2), out=grad_h)
            after = scratch  # product of the decays after each position to its chunk's end
            after[-1].fill_(1)
            for j in range(len(d) - 2, -1, -1):
                grad_h[j].addcmul_(decay[j + 1], grad_h[j + 1])
                torch.mul(after[j + 1], decay[j + 1], out=after[j])
            # d loss / d h at each chunk's end from the chunks after it: leaving[k - 1] = decay[0, k] *
            # (grad_h[0, k] + after[0, k] leaving[k]), with decay[0] * after[0] the decay over the chunk.
            leaving = torch.zeros_like(grad_h[0])
            passed_back, chunk_decay = decay[0] * grad_h[0], decay[0] * after[0]
            for k in range(grad_h.shape[1] - 1, 0, -1):
                torch.addcmul(passed_back[k], chunk_decay[k], leaving[k], out=leaving[k - 1])
            grad_h.addcmul_(after, leaving)
            grad_du[rows, :, :length] = _unchunk_positions(_contract_state(b, grad_h), length)
            grad_B[rows, :, :length] = _unchunk_positions(
                torch.mul(grad_h, x.unsqueeze(-2), out=scratch).sum(-1), length)
            # d loss / d (delta_t A) = d loss / d h_t * decay_t * h_{t-1}
            grad_exponent = scratch
            torch.mul(decay[1:], states[:-1], out=grad_exponent[1:])
            torch.mul(decay[0], entering, out=grad_exponent[0])
            grad_exponent.mul_(grad_h)
            grad_delta[rows, :, :length] = _unchunk_positions(
                torch.mul(grad_exponent, A_t, out=states).sum(-2), length)
            grad_A_t += torch.mul(grad_exponent, d.unsqueeze(-2), out=states).sum((0, 1, 2))
        return grad_delta, grad_du, grad_A_t.T, grad_B, grad_C, None, None


def _block_elements(device: torch.device) -> int:
    if device.type == "cpu":
        return _CPU_BLOCK_ELEMENTS_PER_THREAD * torch.get_num_threads()
    return _DEVICE_BLOCK_ELEMENTS


def _row_blocks(delta: torch.Tensor, A: torch.Tensor, lengths: list[int] | None, chunk_size: int, n_work: int):
    """(row index, length, chunk size, work tensors) per block of rows; one work allocation serves all blocks.

    A block holds at most `_block_elements` states (at least one row); with `lengths`, rows go by
    decreasing length and each block is cut to its longest row (rows of length 0 are skipped)."""
    batch, _, full = delta.shape
    budget = _block_elements(delta.device) // A.numel()  # positions x rows
    if lengths is None:
        order, lengths = torch.arange(batch, device=delta.device), [full] * batch
    else:
        order = torch.tensor(lengths).argsort(descending=True, stable=True)
        lengths = [lengths[i] for i in order.tolist()]
        order = order.to(delta.device)
    blocks, start, n_real = [], 0, sum(length > 0 for length in lengths)
    while start < n_real:
        length = lengths[start]
        chunks = -(-length // chunk_size)
        chunk = -(-length // chunks)  # at most chunk_size, and whole chunks pad fewer than `chunks` positions
        padded = chunks * chunk
        stop = min(n_real, start + max(1, budget // padded))
        blocks.append((start, stop, length, chunk, (stop - start) * padded * A.numel()))
        start = stop
    work = delta.new_empty(n_work, max((size for *_, size in blocks), default=0))
    for start, stop, length, chunk, size in blocks:
        yield order[start:stop], length, chunk, work[:, :size]


def _chunk_positions(x: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """[rows, K, L] -> [T, L / T, rows, K], zero-padded to whole chunks: a zero delta and input keep the state."""
    rows, k, length = x.shape
    chunks = -(-length // chunk_size)
    x = F.pad(x, (0, chunks * chunk_size - length))
    return x.view(rows, k, chunks, chunk_size).permute(3, 2, 0, 1).contiguous()


def _unchunk_positions(x: torch.Tensor, length: int) -> torch.Tensor:
    chunk_size, chunks, rows, k = x.shape
    return x.permute(2, 3, 1, 0).reshape(rows, k, chunks * chunk_size)[..., :length]


def _contract_state(vector: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """[..., N] and [..., N, D] -> [..., D]: sum over the state dimension."""
    *batch, n, d = states.shape
    return torch.bmm(vector.reshape(-1, 1, n), states.view(-1, n, d)).view(*batch, d)


def _chunk_states(d, x, A_t, b, decay, states, since_start):
    """Every state of every chunk, in place: decay = exp(delta A), states = h, since_start = product of the
    decays from the chunk's start (may be `decay` itself). d, x [T, chunks, rows, D]; b [T, chunks, rows, N];
    A_t [N, D]. Returns the state entering each chunk [chunks, rows, N, D]."""
    # exp(delta A) as 2 ** (delta A log2 e): torch's exp2 is ~3x faster than its exp on a CPU (AVX-512).
    torch.mul(d.unsqueeze(-2), A_t * math.log2(math.e), out=decay)
    # exp2 is ~30x slower for results below the smallest normal float; such decays are zero to float precision.
    decay.clamp_min_(math.log2(torch.finfo(decay.dtype).tiny)).exp2_()
    torch.mul(b.unsqueeze(-1), x.unsqueeze(-2), out=states)
    if since_start is not decay:
        since_start[0] = decay[0]
    for j in range(1, len(d)):
        states[j].addcmul_(decay[j], states[j - 1])
        torch.mul(since_start[j - 1], decay[j], out=since_start[j])
    entering = torch.zeros_like(states[0])
    for k in range(1, states.shape[1]):
        torch.addcmul(states[-1, k - 1], since_start[-1, k - 1], entering[k - 1], out=entering[k])
    states.addcmul_(since_start, entering)
    return entering


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                   delta_bias: torch.Tensor | None = None, delta_softplus: bool = False,
                   lengths: torch.Tensor | None = None, chunk_size: int | None = CHUNK_SIZE) -> torch.Tensor:
    """The selective scan of Mamba with mamba_ssm's `selective_scan_fn` layout, in PyTorch.

    u, delta, z [batch, D, L]; A [D, N]; B, C [batch, N, L]; D, delta_bias [D] -> [batch, D, L].
    h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t, y_t = C_t h_t + D u_t, times SiLU(z_t).
    lengths [batch]: each right-padded row's real positions; the output after them is zero (on a CPU
    not even computed). chunk_size: positions per chunk of the parallel form; None runs the step-by-step
    loop instead (the reference). Computed in float32 at least (float64 stays float64), autocast off;
    returned in u's dtype.
    """
    dtype = u.dtype
    compute = torch.promote_types(dtype, torch.float32)
    with torch.autocast(u.device.type, enabled=False):
        u, delta, A, B, C = (t.to(compute) for t in (u, delta, A, B, C))
        if delta_bias is not None:
            delta = delta + delta_bias.to(compute).unsqueeze(-1)
        if delta_softplus:
            delta = F.softplus(delta)
        if chunk_size is None:
            y = _loop_recurrence(delta, delta * u, A, B, C)
        else:
            # Reading the lengths on a GPU would wait for it: there rows stay whole and are masked below.
            row_lengths = lengths.tolist() if lengths is not None and u.device.type == "cpu" else None
            y = _ChunkedRecurrence.apply(delta, delta * u, A, B.contiguous(), C.contiguous(), row_lengths,
                                         chunk_size)
        if D is not None:
            y = y + u * D.to(compute).unsqueeze(-1)
        if z is not None:
            y = y * F.silu(z.to(compute))
        if lengths is not None:
            y = _zero_after(y, lengths)
    return y.to(dtype)


def _zero_after(y: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[batch, D, L] with the positions at or after each row's length set to zero."""
    return y * (torch.arange(y.shape[-1], device=y.device) < lengths.unsqueeze(1)).unsqueeze(1)


def selective_scan_reference(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """The same scan, one batch row, channel and time step at a time in float64 (tests only)."""
    out = torch.empty(u.shape, dtype=torch.float64)
    u, delta, A, B, C = (t.detach().double().cpu() for t in (u, delta, A, B, C))
    for b in range(u.shape[0]):
        for d in range(u.shape[1]):
            h = torch.zeros(A.shape[1], dtype=torch.float64)
            for t in range(u.shape[2]):
                dt = delta[b, d, t] + (float(delta_bias[d]) if delta_bias is not None else 0.0)
                if delta_softplus:
                    dt = torch.log1p(torch.exp(dt))
                h = torch.exp(dt * A[d]) * h + dt * B[b, :, t] * u[b, d, t]
                y = (C[b, :, t] * h).sum() + (float(D[d]) * u[b, d, t] if D is not None else 0.0)
                if z is not None:
                    zt = float(z[b, d, t])
                    y = y * zt / (1.0 + math.exp(-zt))
                out[b, d, t] = y
    return out


@functools.cache
def _mamba_kernel():
    """mamba_ssm's fused CUDA scan, or None when mamba-ssm is not installed."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


def scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, lengths=None) -> torch.Tensor:
    """The fused mamba-ssm kernel for CUDA tensors when it is installed, else `selective_scan`."""
    kernel = _mamba_kernel() if u.is_cuda else None
    if kernel is None:
        return selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, lengths)
    # The kernel wants u, delta, B, C, z in one dtype (autocast may leave them mixed) and B, C contiguous.
    delta, B, C = delta.to(u.dtype), B.to(u.dtype).contiguous(), C.to(u.dtype).contiguous()
    z = None if z is None else z.to(u.dtype)
    y = kernel(u, delta, A.float(), B, C, None if D is None else D.float(), z,
               None if delta_bias is None else delta_bias.float(), delta_softplus)
    return y if lengths is None else _zero_after(y, lengths)


class Mamba(nn.Module):
    """The Mamba block of mamba-ssm 1.1 (Gu & Dao 2023); SIGMA re-initialises its Linear layers."""

    def __init__(self, d_model: int, d_state: int, d_conv: int, expand: int):
        super().__init__()
        d_inner = expand * d_model
        self.d_state, self.dt_rank = d_state, math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner)
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        # S4D-real initialisation of A (A = -[1..N] in every channel) and D = 1, as in mamba-ssm.
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor | None = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        """[batch, L, d_model] -> [batch, L, d_model]; position t depends only on positions <= t.

        lengths [batch]: real positions of each right-padded row; the output after them is zero.
        positions [batch]: only the output at this position of each row, [batch, d_model]."""
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)  # [batch, d_inner, L] each
        x = F.silu(self.conv1d(F.pad(x, (self.conv1d.kernel_size[0] - 1, 0))))  # left padding: causal
        dt, B, C = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (dt @ self.dt_proj.weight.T).transpose(1, 2)  # the bias is added inside the scan
        y = scan(x, delta, -torch.exp(self.A_log.float()), B.transpose(1, 2), C.transpose(1, 2), self.D,
                 z=z, delta_bias=self.dt_proj.bias, delta_softplus=True, lengths=lengths)
        if positions is not None:
            return self.out_proj(y[torch.arange(len(y), device=y.device), :, positions])
        return self.out_proj(y.transpose(1, 2))


def partial_flip_index(lengths: torch.Tensor, seq_len: int, n_unflipped: int) -> torch.Tensor:
    """[B, seq_len] positions such that x.gather(1, index) flips each row's first n - r real items.

    lengths [B]: real items per right-padded row; the last r = n_unflipped real items and the padding
    stay in place. Flipping a prefix is its own inverse, so the same index maps outputs back.
    """
    positions = torch.arange(seq_len, device=lengths.device)
    n_flipped = (lengths - n_unflipped).clamp_min(0).unsqueeze(1)
    return torch.where(positions < n_flipped, n_flipped - 1 - positions, positions)


def _gather_positions(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def _at_positions(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """[B, L, d] -> [B, d]: position positions[b] of each row b."""
    return x[torch.arange(len(x), device=x.device), positions]


class GMambaBlock(nn.Module):
    """PF-Mamba with the DS Gate, and FE-GRU, mixed by learnable weights and projected."""

    def __init__(self, d_model: int, d_state: int, d_conv: int, expand: int, dropout: float,
                 fe_kernel: int, share_mamba: bool):
        super().__init__()
        self.mamba = Mamba(d_model, d_state, d_conv, expand)
        self.mamba_flipped = None if share_mamba else Mamba(d_model, d_state, d_conv, expand)
        self.dense = nn.Linear(d_model, d_model)
        self.dense_flipped = nn.Linear(d_model, d_model)
        self.gate_silu = nn.Linear(d_model, d_model)
        self.gate_sigmoid = nn.Linear(d_model, d_model)
        self.gate_dropout = nn.Dropout(dropout)
        self.fe_conv = nn.Conv1d(d_model, d_model, fe_kernel, padding=fe_kernel // 2)
        self.gru = nn.GRU(d_model, d_model, bias=False, batch_first=True)
        self.mix = nn.Parameter(torch.tensor([0.8, 0.1, 0.1]))  # forward, flipped, GRU
        self.projection = nn.Linear(d_model, d_model)

    def ds_gate(self, x: torch.Tensor, dense: nn.Linear) -> torch.Tensor:
        h = dense(x) + x
        return self.gate_dropout(self.gate_silu(F.silu(h)) + self.gate_sigmoid(torch.sigmoid(h)))

    def pf_mamba(self, x: torch.Tensor, flip_index: torch.Tensor, lengths: torch.Tensor,
                 last: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Both directions' outputs (zero after each row's length), the flipped one back in the original
        positions; with `last` [B], only at that position of each row ([B, d] each)."""
        flipped = _gather_positions(x, flip_index)
        if last is None:
            positions = flipped_positions = None
        else:  # the flipped order holds original position t at flip_index[t]
            positions, flipped_positions = last, flip_index[torch.arange(len(x), device=x.device), last]
        if self.mamba_flipped is None:  # one call on both directions: half the scan calls
            forward, backward = self.mamba(torch.cat([x, flipped]), lengths.repeat(2),
                                           None if last is None else torch.cat([positions, flipped_positions])
                                           ).chunk(2)
        else:
            forward = self.mamba(x, lengths, positions)
            backward = self.mamba_flipped(flipped, lengths, flipped_positions)
        if last is None:
            backward = _gather_positions(backward, flip_index)
        return forward, backward

    def forward(self, x: torch.Tensor, flip_index: torch.Tensor, lengths: torch.Tensor,
                last: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L, d] -> [B, L, d]; with `last` [B], only the output at that position of each row, [B, d]."""
        forward, backward = self.pf_mamba(x, flip_index, lengths, last)
        short_term, _ = self.gru(self.fe_conv(x.transpose(1, 2)).transpose(1, 2))
        if last is not None:
            x, short_term = (_at_positions(t, last) for t in (x, short_term))
        # The gate is position-wise, so gating the flipped branch after putting it back in the
        # original order equals gating it in flipped order from the flipped input.
        forward = forward * self.ds_gate(x, self.dense) + forward
        backward = backward * self.ds_gate(x, self.dense_flipped) + backward
        mixed = self.mix[0] * forward + self.mix[1] * backward + self.mix[2] * short_term
        return self.projection(mixed)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, dropout: float):
        super().__init__()
        self.w_1 = nn.Linear(d_model, 4 * d_model)
        self.w_2 = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(self.w_2(self.dropout(F.gelu(self.w_1(x))))))


class SIGMALayer(nn.Module):
    def __init__(self, d_model: int, dropout: float, residual: bool, **block_args):
        super().__init__()
        self.block = GMambaBlock(d_model, dropout=dropout, **block_args)
        self.residual = residual  # the released code has no residual around a single layer
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)
        self.ffn = FeedForward(d_model, dropout)

    def forward(self, x: torch.Tensor, flip_index: torch.Tensor, lengths: torch.Tensor,
                last: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L, d] -> [B, L, d]; with `last` [B], only the output at that position of each row, [B, d]."""
        h = self.dropout(self.block(x, flip_index, lengths, last))
        if last is not None:
            x = _at_positions(x, last)
        return self.ffn(self.norm(h + x if self.residual else h))


class SIGMA(SequenceModel):
    causal = False  # the flipped branch sees later items: trained on prefixes, last position only

    def __init__(self, n_items: int, max_len: int, d_model: int = 64, n_layers: int = 1, n_heads: int = 2,
                 dropout: float = 0.2, d_state: int = 32, d_conv: int = 4, expand: int = 2,
                 n_unflipped: int = 5, fe_kernel: int = 3, share_mamba: bool = True):
        """Defaults: n_layers, dropout, d_state, d_conv, expand from the released model/config.yaml
        (num_layers 1, dropout_prob 0.2, d_state 32, d_conv 4, expand 2; d_model 64 = hidden_size);
        n_unflipped r = 5: the released code flips 45 of MAX_ITEM_LIST_LENGTH 50 positions;
        fe_kernel 3 and a shared Mamba block: the released GMambaBlock. max_len and n_heads are
        accepted as shared model arguments of seqrec.train and unused (no position table, no
        attention)."""
        super().__init__()
        self.n_unflipped = n_unflipped
        self.item_embedding = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)
        self.layers = nn.ModuleList(
            SIGMALayer(d_model, dropout, residual=n_layers > 1, d_state=d_state, d_conv=d_conv, expand=expand,
                       fe_kernel=fe_kernel, share_mamba=share_mamba)
            for _ in range(n_layers))
        self.apply(_released_init)
        nn.init.normal_(self.item_embedding.weight, std=d_model ** -0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def forward(self, sequences: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """sequences [B, L] of item ids (0 = padding, right-padded) -> hidden states [B, L, d].

        last_only: only the hidden state at each row's last real position, [B, d] (the trainer's, see
        seqrec.models.base): the last layer computes nothing else after the scan.
        On a CPU the rows run in groups of similar length (`length_groups`), each cut to its longest row:
        the random prefixes of a training batch differ widely in length, and a real position never
        depends on the padding after it, so the result is that of the whole batch at once (`encode`).
        On a GPU, where reading the lengths would wait for it, the batch runs whole."""
        if sequences.device.type != "cpu":
            return self.encode(sequences, last_only)
        groups = length_groups(sequences.ne(0).sum(1).tolist(), _GROUP_ROWS)
        if not groups:  # not a single item
            return self.encode(sequences, last_only)
        outputs = [self.encode(sequences[rows, :width], last_only) for rows, width in groups]
        # Padding, and rows without any item (none in training), stay zero, as in `encode`.
        positions = () if last_only else (sequences.shape[1],)
        hidden = outputs[0].new_zeros(len(sequences), *positions, outputs[0].shape[-1])
        for (rows, width), output in zip(groups, outputs):
            if last_only:
                hidden[rows] = output
            else:
                hidden[rows, :width] = output
        return hidden

    def encode(self, sequences: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """forward on the whole batch at its full width."""
        real = sequences.ne(0).unsqueeze(-1)
        lengths = sequences.ne(0).sum(1)
        flip_index = partial_flip_index(lengths, sequences.shape[1], self.n_unflipped)
        x = self.norm(self.dropout(self.item_embedding(sequences))) * real
        *inner, final = self.layers
        for layer in inner:
            x = layer(x, flip_index, lengths) * real
        if not last_only:
            return final(x, flip_index, lengths) * real
        return final(x, flip_index, lengths, (lengths - 1).clamp_min(0)) * lengths.gt(0).unsqueeze(-1)

    def item_embeddings(self) -> torch.Tensor:
        return self.item_embedding.weight


def length_groups(lengths: list[int], rows_per_group: int) -> list[tuple[torch.Tensor, int]]:
    """(row index, width) per group of at most `rows_per_group` rows of similar length: rows by decreasing
    length, each group's width its longest row; rows of length 0 are left out."""
    order = torch.tensor(lengths).argsort(descending=True, stable=True)
    n_real = sum(length > 0 for length in lengths)
    return [(rows, lengths[rows[0]]) for rows in order[:n_real].split(rows_per_group)]


def _released_init(module: nn.Module) -> None:
    """The released code's initialisation (RecBole's): Linear N(0, 0.02) with zero bias, LayerNorm 1, 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)

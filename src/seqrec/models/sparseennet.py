"""SparseEnNet on a SASRec encoder.

Paper: Junyang Chen, Guoxuan Zou, Pan Zhou, Yirui Wu, Zhenghan Chen, Houcheng Su, Huan Wang, Zhiguo Gong,
"Sparse Enhanced Network: An Adversarial Generation Method for Robust Augmentation in Sequential
Recommendation", AAAI 2024 (Proceedings of the AAAI Conference on Artificial Intelligence 38(8),
8283-8291); no arXiv version was found. The paper's full text was not available to us, so no section
is cited: the method follows its abstract, its Figure 2 caption and the authors' released code
(github.com/junyachen/SparseEnNet: main.py, trainers.py, data_augmentation.py, datasets.py), whose
main.py gives every paper-specific default except `generator_scale`, which is ours.

Faithful:
- Two augmentation operators per sequence from A = {Crop, Mask, Reorder, Pooling}; the second one equals
  the first with probability 1/2, as in the released `Random` operator (its weights balance the
  same/different labels). Pooling, the paper's fourth operator, replaces a random window of
  int(omega * length) items by one new "enhanced" item whose embedding is built from the window.
  Rates as released: crop tao 0.2 (the crop keeps 20% of the items), mask gamma 0.7, reorder beta 0.2,
  pooling omega 0.5.
- An augmentation discriminator (which operator made a view) and a stability discriminator (whether the
  two views of a sequence share their operator, fed with the product of the two representations), both
  the released MLP (512 and 64 hidden units) behind a gradient reversal layer (Ganin & Lempitsky, ICML
  2015), all trained with the encoder by ONE optimiser, as the released trainer does (GRL coefficient 1).
- InfoNCE between the two views with in-batch negatives (NT-Xent, 2B - 2 negatives per view) on
  dot-product similarity, temperature 1.0; weights 0.1 for the contrastive and 0.1 for the adversarial
  loss (the released nsl_weight and discriminator_weight).

Adapted, and why:
- Mask writes a dedicated mask token (id n_items + 1) instead of the released padding id 0, so padding
  never appears inside the real part of a right-padded view. Pooling writes a pool token (id
  n_items + 2) whose input embedding is its own learned row plus the mean embedding of the window it
  replaced (the released model receives the window too; its exact use was not visible). The embedding
  table has n_items + 3 rows; `item_embeddings()` returns rows 0..n_items, so scores cover real items only.
- The generator: a small MLP that perturbs the input embeddings of every augmented view (including the
  pooled item) from the embedding and Gaussian noise, bounded to `generator_scale` times each
  embedding's RMS. The released trainer optimises only the encoder and the two discriminators (its
  model file, which builds the pooled item from its window, was not available); our generator makes
  the "generated enhanced items" an explicit module in embedding space. The augmentation discriminator gets a fifth class,
  "original sequence", and sees the original representation and both views (the released one sees
  the second view only), so it also tells real sequences from generated views. Through the reversed
  gradient, encoder and generator learn to make generated views indistinguishable from real ones and
  from each other; the contrastive loss makes the encoder robust to them. One optimiser with a gradient
  reversal layer stands in for alternating generator/discriminator updates, so the project's
  single-optimiser trainer runs unchanged.
- Sequence representation = hidden state at the last real position (the released code flattens all
  positions of left-padded sequences; right padding does not align positions across rows).
- Left out: the released trainer also runs ICLRec's intent contrastive loss over per-epoch K-means
  clusters of all training sequences; the project's trainer has no per-epoch hook for it.
- Operators run vectorised on the batch: all four are computed for every row and each row keeps its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqrec.models.base import SequenceModel
from seqrec.models.sasrec import SASRec

OPERATORS = ("crop", "mask", "reorder", "pool")


class GradientReversal(torch.autograd.Function):
    """Identity forward; backward flips the sign of the gradient (Ganin & Lempitsky, ICML 2015)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.neg()


def reverse_gradient(x: torch.Tensor) -> torch.Tensor:
    return GradientReversal.apply(x)


def _lengths(sequences: torch.Tensor) -> torch.Tensor:
    return sequences.ne(0).sum(1)


def _positions(sequences: torch.Tensor) -> torch.Tensor:
    return torch.arange(sequences.shape[1], device=sequences.device).expand_as(sequences)


def _random_window(lengths: torch.Tensor, rate: float, min_width: int = 0):
    """Start and width of a contiguous window of int(rate * length) items (>= min_width, <= length)."""
    width = torch.minimum((lengths.double() * rate).long().clamp(min=min_width), lengths)
    # float64 so that rand * span never rounds up to span
    start = (torch.rand(lengths.shape, dtype=torch.float64, device=lengths.device) * (lengths - width + 1)).long()
    return start[:, None], width[:, None]


def crop(sequences: torch.Tensor, rate: float) -> torch.Tensor:
    """A random contiguous sub-sequence of int(rate * length) items (at least one), moved to the front."""
    start, width = _random_window(_lengths(sequences), rate, min_width=1)
    positions = _positions(sequences)
    kept = sequences.gather(1, (start + positions).clamp(max=sequences.shape[1] - 1))
    return kept.masked_fill(positions >= width, 0)


def mask(sequences: torch.Tensor, rate: float, mask_token: int) -> torch.Tensor:
    """int(rate * length) random real positions replaced by the mask token."""
    n_masked = (_lengths(sequences).double() * rate).long()
    scores = torch.rand(sequences.shape, device=sequences.device).masked_fill(sequences.eq(0), 2.0)
    rank = scores.argsort(1).argsort(1)  # real positions rank first
    return sequences.masked_fill(rank < n_masked[:, None], mask_token)


def reorder(sequences: torch.Tensor, rate: float) -> torch.Tensor:
    """The items of a random window of int(rate * length) positions shuffled in place."""
    start, width = _random_window(_lengths(sequences), rate)
    positions = _positions(sequences)
    inside = (positions >= start) & (positions < start + width)
    # window positions get random sort keys in [start, start + width - 1], a range no outside position has
    noise = torch.rand(sequences.shape, dtype=torch.float64, device=sequences.device)
    keys = torch.where(inside, start + noise * (width - 1).clamp(min=0), positions.double())
    return sequences.gather(1, keys.argsort(1))


def pool(sequences: torch.Tensor, rate: float, pool_token: int):
    """A random window of int(rate * length) items (at least one) replaced by one pool token.

    Returns the pooled sequences and the window as a mask over the input positions.
    """
    lengths = _lengths(sequences)
    start, width = _random_window(lengths, rate, min_width=1)
    positions = _positions(sequences)
    source = torch.where(positions > start, positions + width - 1, positions).clamp(max=sequences.shape[1] - 1)
    pooled = torch.where(positions == start, pool_token, sequences.gather(1, source))
    new_length = lengths[:, None] - width + width.gt(0).long()  # an empty row stays empty
    window = (positions >= start) & (positions < start + width)
    return pooled.masked_fill(positions >= new_length, 0), window


def draw_operators(batch_size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Two operator indices per sequence: the first uniform, the second the same with probability 1/2,
    else uniform over the other three (the released `Random` operator's weights)."""
    first = torch.randint(0, len(OPERATORS), (batch_size,), device=device)
    other = (first + torch.randint(1, len(OPERATORS), (batch_size,), device=device)) % len(OPERATORS)
    return first, torch.where(torch.rand(batch_size, device=device) < 0.5, first, other)


def last_hidden(hidden: torch.Tensor, sequences: torch.Tensor) -> torch.Tensor:
    """The hidden state at each row's last real position."""
    last = (_lengths(sequences) - 1).clamp(min=0)
    return hidden[torch.arange(len(hidden), device=hidden.device), last]


def info_nce(view1: torch.Tensor, view2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent on dot products: a view's positive is the other view of its sequence, the 2B - 2 other
    views of the batch are its negatives."""
    views = torch.cat([view1, view2])
    n = len(view1)
    logits = (views @ views.T / temperature).masked_fill(
        torch.eye(2 * n, dtype=torch.bool, device=views.device), float("-inf"))
    targets = torch.arange(2 * n, device=views.device).roll(n)
    return F.cross_entropy(logits, targets)


def _discriminator(d_model: int, n_classes: int, dropout: float) -> nn.Sequential:
    """The released discriminator MLP, on a d_model sequence representation."""
    return nn.Sequential(nn.Linear(d_model, 512, bias=False), nn.Dropout(dropout), nn.ReLU(),
                         nn.Linear(512, 64), nn.Dropout(dropout), nn.ReLU(), nn.Linear(64, n_classes))


class Generator(nn.Module):
    """Perturbs the input embeddings of augmented views: e + scale * rms(e) * tanh(MLP([e, noise]))."""

    def __init__(self, d_model: int, scale: float):
        super().__init__()
        self.scale = scale
        self.net = nn.Sequential(nn.Linear(2 * d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, embeddings: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """embeddings [B, L, d], real [B, L, 1] (False at padding, which stays untouched)."""
        step = torch.tanh(self.net(torch.cat([embeddings, torch.randn_like(embeddings)], dim=-1)))
        size = embeddings.detach().pow(2).mean(-1, keepdim=True).sqrt()
        return embeddings + real * self.scale * size * step


class SparseEnNet(SequenceModel):

    # d_model .. dropout: the project's shared encoder settings. The next seven defaults are the released
    # main.py's nsl_weight, discriminator_weight, temperature, tao, gamma, beta, omega; generator_scale is ours.
    def __init__(self, n_items: int, max_len: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 2,
                 dropout: float = 0.2, contrastive_weight: float = 0.1, adversarial_weight: float = 0.1,
                 temperature: float = 1.0, crop_rate: float = 0.2, mask_rate: float = 0.7,
                 reorder_rate: float = 0.2, pool_rate: float = 0.5, generator_scale: float = 0.2):
        super().__init__()
        self.n_items = n_items
        self.mask_token, self.pool_token = n_items + 1, n_items + 2
        self.contrastive_weight, self.adversarial_weight = contrastive_weight, adversarial_weight
        self.temperature = temperature
        self.crop_rate, self.mask_rate = crop_rate, mask_rate
        self.reorder_rate, self.pool_rate = reorder_rate, pool_rate
        self.encoder = SASRec(n_items + 2, max_len, d_model, n_layers, n_heads, dropout)  # + mask and pool rows
        self.generator = Generator(d_model, generator_scale)
        self.augmentation_discriminator = _discriminator(d_model, 1 + len(OPERATORS), dropout)  # 0 = original
        self.stability_discriminator = _discriminator(d_model, 2, dropout)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """sequences [B, L] of item ids (0 = padding, right-padded) -> hidden states [B, L, d]."""
        return self.encoder(sequences)

    def item_embeddings(self) -> torch.Tensor:
        return self.encoder.item_embedding.weight[: self.n_items + 1]

    def augment(self, sequences: torch.Tensor, operators: torch.Tensor):
        """Row i augmented by operator operators[i] (an index into OPERATORS); also returns the pooled
        window of each row (empty unless the row was pooled)."""
        pooled, window = pool(sequences, self.pool_rate, self.pool_token)
        candidates = torch.stack([crop(sequences, self.crop_rate),
                                  mask(sequences, self.mask_rate, self.mask_token),
                                  reorder(sequences, self.reorder_rate), pooled])
        views = candidates.gather(0, operators[None, :, None].expand(1, *sequences.shape)).squeeze(0)
        return views, window & operators.eq(OPERATORS.index("pool"))[:, None]

    def encode_views(self, views: torch.Tensor, sources: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """Hidden states of augmented views, their input embeddings edited in embedding space: a pool
        token gets the mean embedding of its window in `sources` added, then the generator perturbs them.
        The edit hooks the encoder's embedding lookup, so SASRec's forward is reused as it is."""
        table = self.encoder.item_embedding.weight
        window_sum = torch.einsum("bl,bld->bd", window.to(table.dtype), table[sources])
        window_mean = window_sum / window.sum(1, keepdim=True).clamp(min=1)
        slot = views.eq(self.pool_token).unsqueeze(-1)
        real = views.ne(0).unsqueeze(-1)

        def edit(module, args, embeddings):
            return self.generator(embeddings + slot * window_mean.unsqueeze(1), real)

        handle = self.encoder.item_embedding.register_forward_hook(edit)
        try:
            return self.encoder(views)
        finally:
            handle.remove()

    def auxiliary_loss(self, sequences: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Weighted contrastive + adversarial loss of a training batch; `hidden` = forward(sequences)."""
        first, second = draw_operators(len(sequences), sequences.device)
        doubled = sequences.repeat(2, 1)
        views, window = self.augment(doubled, torch.cat([first, second]))
        view_hidden = self.encode_views(views, doubled, window)
        with torch.autocast(sequences.device.type, enabled=False):
            original = last_hidden(hidden, sequences).float()
            view1, view2 = last_hidden(view_hidden, views).float().chunk(2)
            contrastive = info_nce(view1, view2, self.temperature)
            adversarial = self.adversarial_loss(original, view1, view2, first, second)
        return self.contrastive_weight * contrastive + self.adversarial_weight * adversarial

    def adversarial_loss(self, original, view1, view2, first, second) -> torch.Tensor:
        """The discriminators learn which operator made a view (class 0: the original sequence) and whether
        two views share their operator; the reversed gradient trains encoder and generator to fool them."""
        representations = reverse_gradient(torch.cat([original, view1, view2]))
        labels = torch.cat([torch.zeros_like(first), first + 1, second + 1])
        kind = F.cross_entropy(self.augmentation_discriminator(representations), labels)
        same_logits = self.stability_discriminator(reverse_gradient(view1 * view2))
        same = F.cross_entropy(same_logits, first.eq(second).long())
        return kind + same

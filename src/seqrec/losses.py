"""Next-item losses over all positions of a batch, each taking a weight per position.

Both return sum_p w_p * loss_p / positions, so weights of mean 1 keep the loss scale of the
unweighted model and a weight of 2 counts a positive twice (PinnerFormerLite). `positions` is the
batch's own number of non-padding positions unless the caller gives another (the trainer gives the
mean over its epoch's batches, so that a position weighs the same in a batch of short sequences as
in one of long sequences). Padding positions have target 0 and contribute nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def _weighted_mean(per_position: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None,
                   positions: float | None) -> torch.Tensor:
    valid = targets.ne(0)
    w = valid.to(per_position.dtype) if weights is None else weights.to(per_position.dtype) * valid
    return (per_position * w).sum() / (valid.sum().clamp_min(1) if positions is None else positions)


# Logits of one chunk of the full softmax: 2**27 floats (512 MiB in float32, about three times that
# with the softmax's gradient). A batch of 128 x 200 positions over ML-1M's 3,416 items is one chunk;
# over Amazon's 63 k items it is 12, each recomputed in the backward instead of kept (19 GB at once).
MAX_LOGITS = 2**27


def _cross_entropy(hidden: torch.Tensor, targets: torch.Tensor, item_embeddings: torch.Tensor) -> torch.Tensor:
    logits = (hidden @ item_embeddings.T).float()
    logits[:, 0] = float("-inf")  # the padding item is never a candidate
    return F.cross_entropy(logits, targets, reduction="none", ignore_index=0)


def full_softmax_loss(hidden: torch.Tensor, targets: torch.Tensor, item_embeddings: torch.Tensor,
                      weights: torch.Tensor | None = None, max_logits: int = MAX_LOGITS,
                      positions: float | None = None) -> torch.Tensor:
    """Cross-entropy over every item. hidden [N, d], targets [N] (0 = padding), item_embeddings [V+1, d].

    Positions run in chunks of at most `max_logits` logits; beyond one chunk, each chunk's logits are
    recomputed in the backward pass (activation checkpointing), so memory stays bounded whatever the
    catalogue, at the cost of one more matrix product per chunk.
    """
    rows = max(1, max_logits // item_embeddings.shape[0])
    if len(hidden) <= rows:
        per_position = _cross_entropy(hidden, targets, item_embeddings)
    else:
        per_position = torch.cat([
            checkpoint(_cross_entropy, chunk, chunk_targets, item_embeddings, use_reentrant=False)
            for chunk, chunk_targets in zip(hidden.split(rows), targets.split(rows))])
    return _weighted_mean(per_position, targets, weights, positions)


def sample_candidates(targets: torch.Tensor, n_uniform: int, n_inbatch: int, n_items: int) -> torch.Tensor:
    """Negatives shared by all positions: uniform items, then targets of random positions of the batch.

    In-batch picks may land on padding (item 0); the loss masks those.
    """
    uniform = torch.randint(1, n_items + 1, (n_uniform,), device=targets.device)
    inbatch = targets[torch.randint(0, targets.numel(), (n_inbatch,), device=targets.device)]
    return torch.cat([uniform, inbatch])


def candidate_log_q(items: torch.Tensor, item_frequency: torch.Tensor, targets: torch.Tensor,
                    n_uniform: int, n_inbatch: int) -> torch.Tensor:
    """log of the expected number of times each item appears among the sampled candidates.

    q_j = n_uniform / V + n_inbatch * (share of non-padding positions) * p_j, with p_j the item's
    share of training positives: the uniform part plus the popularity-proportional in-batch part.
    """
    n_items = item_frequency.numel() - 1
    valid_share = targets.ne(0).float().mean()
    return torch.log(n_uniform / n_items + n_inbatch * valid_share * item_frequency[items])


def sampled_softmax_loss(hidden: torch.Tensor, targets: torch.Tensor, item_embeddings: torch.Tensor,
                         candidates: torch.Tensor, log_q_candidates: torch.Tensor,
                         log_q_targets: torch.Tensor, weights: torch.Tensor | None = None,
                         positions: float | None = None) -> torch.Tensor:
    """Softmax over the positive and shared sampled negatives, every logit corrected by -log q.

    hidden [N, d], targets [N], candidates [M] with their log q [M], log q of the targets [N].
    A candidate equal to the position's positive (an accidental hit) or to padding is masked.
    """
    positive = (hidden * item_embeddings[targets]).sum(-1).float() - log_q_targets
    negative = (hidden @ item_embeddings[candidates].T).float() - log_q_candidates
    hit = candidates.unsqueeze(0).eq(targets.unsqueeze(1)) | candidates.eq(0).unsqueeze(0)
    negative = negative.masked_fill(hit, float("-inf"))
    per_position = torch.logaddexp(positive, torch.logsumexp(negative, dim=1)) - positive
    return _weighted_mean(per_position, targets, weights, positions)

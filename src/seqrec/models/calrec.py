"""CALRec, adapted: Li et al., "CALRec: Contrastive Alignment of Generative LLMs for Sequential
Recommendation", RecSys 2024, arXiv 2405.02429.

The original renders every item as text ("attribute: value" fields) and a user's history as a text
prompt, fine-tunes a PaLM-2 LLM in a two-tower fashion (one shared backbone encodes the history and,
separately, the target item's text) on a mixture of three objectives: next-item generation L_NIG
(the target item's text as a language-modelling target) and two InfoNCE contrastive alignment losses
with in-batch negatives, one at the user level (L_UT: the history's representation against the
target item's) and one at the item level (L_TT; as we read it, the target's representation inside
the user tower, read after the history, against the same target encoded alone by the item tower).
Training has two stages: all categories (domains) jointly, then the target category alone. At
inference the generated text is mapped to catalogue items by a "quasi-round-robin" BM25 retrieval.

Faithful here:
- items are text (title and domain names, seqrec.text, in the paper's "attribute: value" style) and
  the item tower reads that text; both towers share one sequence backbone (items in the user tower
  are the item tower's vectors);
- the two alignment losses, InfoNCE over in-batch negatives with a temperature, added to the
  next-item objective with their own weights (`auxiliary_loss`);
- the two-stage schedule, run by seqrec.train (`train.target_domain_stage`): stage 1 trains on all
  domains until early stopping; stage 2 continues from the best stage-1 model at a lower learning
  rate with the positives outside the target domains down-weighted, and the best stage-2 epoch on
  validation is the final model.

Adapted, because a multi-billion-parameter LLM cannot be fine-tuned offline on a CPU:
- the text is encoded ONCE by a frozen pretrained sentence encoder (all-MiniLM-L6-v2 by default,
  seqrec.text), not by the fine-tuned LLM; a trainable MLP projects it into the model space;
- the fine-tuned LLM is replaced by a small causal transformer over the item vectors (SASRec's
  backbone, seqrec.models.sasrec.CausalTransformer);
- next-item *generation* + BM25 retrieval become next-item *scoring*: hidden @ item_embeddings().T
  over all items (the trainer's loss), i.e. retrieval by embedding similarity;
- an item-id embedding is added to the text projection (`item_id_embedding`, on by default): the
  synthetic dataset's titles ("Drama #3") say little beyond the domain, so without it items of one
  domain are nearly indistinguishable. Turn it off for a text-only item tower (cold-start items);
- the towers' representations: the user tower's is the hidden state at a position, the item
  tower's is the item vector. L_UT pairs the hidden state *before*
  the last input item with that item; L_TT pairs the hidden state *at* the last input item (the
  history including the target) with the same item. The trainer's true next item is not passed to
  `auxiliary_loss`, so the last input item of each sequence serves as the target; sequences with one
  item have no pair and are skipped;
- the temperature and the loss weights are defaults of ours, not the paper's: our sources (the
  abstract and summaries of the paper) give no values, and values tuned for an LLM fine-tune would
  not carry over to a 2-layer model trained from scratch. They are config settings (train.calrec).
  The same sources name L_UT and L_TT the user- and item-level alignments; the pairings above
  are our reading of them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqrec.io import InputError
from seqrec.models.base import SequenceModel
from seqrec.models.sasrec import CausalTransformer


class CALRec(SequenceModel):
    needs_item_text = True

    def __init__(self, n_items: int, max_len: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 2,
                 dropout: float = 0.2, text_dim: int = 384, item_id_embedding: bool = True,
                 temperature: float = 0.1, user_target_weight: float = 0.1, target_target_weight: float = 0.1):
        super().__init__()
        self.temperature = temperature
        self.user_target_weight = user_target_weight
        self.target_target_weight = target_target_weight
        # Frozen text vectors (seqrec.text), set by set_item_text; saved with the model.
        self.register_buffer("item_text", torch.zeros(n_items + 1, text_dim))
        self.text_projection = nn.Sequential(nn.Linear(text_dim, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.id_embedding = nn.Embedding(n_items + 1, d_model, padding_idx=0) if item_id_embedding else None
        if self.id_embedding is not None:
            nn.init.normal_(self.id_embedding.weight, std=d_model ** -0.5)
            with torch.no_grad():
                self.id_embedding.weight[0].zero_()
        self.backbone = CausalTransformer(max_len, d_model, n_layers, n_heads, dropout)  # SASRec's

    def set_item_text(self, vectors: torch.Tensor) -> None:
        if vectors.shape != self.item_text.shape:
            raise InputError(f"item text embeddings of shape {list(vectors.shape)} do not fit this item table "
                             f"({list(self.item_text.shape)} expected): they were computed for another version "
                             "of the dataset; delete them and rerun the text step")
        self.item_text.copy_(vectors)

    def _item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """The item tower: projected text (+ id embedding) of the ids `items`; padding (0) gives zeros."""
        # Unit-norm text vectors scaled to coordinates of about unit variance, the input scale that
        # nn.Linear's initialisation assumes (otherwise the text starts far weaker than the id part).
        text = self.item_text[items] * math.sqrt(self.item_text.shape[1])
        vectors = self.text_projection(text)
        if self.id_embedding is not None:
            vectors = vectors + self.id_embedding(items)
        return vectors * items.ne(0).unsqueeze(-1)

    def item_embeddings(self) -> torch.Tensor:
        """[n_items + 1, d_model], row 0 (padding) zero."""
        return self._item_vectors(torch.arange(len(self.item_text), device=self.item_text.device))

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """sequences [B, L] of item ids (0 = padding, right-padded) -> hidden states [B, L, d_model]."""
        # The whole (small) item tower once, then a gather: no data-dependent shapes, so no host sync.
        vectors = self.item_embeddings()
        return self.backbone(vectors[sequences] * math.sqrt(vectors.shape[1]))

    def auxiliary_loss(self, sequences: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """CALRec's two contrastive alignment losses for a training batch, already weighted; a scalar.

        `sequences` [B, L] is the training input batch (right-padded), `hidden` = forward(sequences).
        In each sequence with at least two items, the last item is the target: L_UT aligns the hidden
        state before it (the history), L_TT the hidden state at it (history and target), with the
        target's item vector; the other pairs' targets are the negatives. Computed in float32.
        """
        lengths = sequences.ne(0).sum(1)
        # Sequences with fewer than two items have no pair: masked out as anchors and as negatives
        # (masks rather than indexing by them, so the step never waits on the device).
        paired = lengths >= 2
        last = (lengths - 1).clamp_min(1)
        rows = torch.arange(len(sequences), device=sequences.device)
        targets = sequences[rows, last]
        # A target equal to this pair's own (another user, same item) is not a negative.
        masked = targets.unsqueeze(0).eq(targets.unsqueeze(1)) | ~paired.unsqueeze(0)
        masked.fill_diagonal_(False)
        with torch.autocast(hidden.device.type, enabled=False):
            items = F.normalize(self._item_vectors(targets).float(), dim=-1)
            user_target = self._info_nce(hidden[rows, last - 1].float(), items, masked, paired)
            target_target = self._info_nce(hidden[rows, last].float(), items, masked, paired)
        return self.user_target_weight * user_target + self.target_target_weight * target_target

    def _info_nce(self, anchors: torch.Tensor, positives: torch.Tensor, masked: torch.Tensor,
                  used: torch.Tensor) -> torch.Tensor:
        """Mean over the `used` anchors of the cross-entropy of picking their own positive among all
        (cosine / temperature)."""
        logits = F.normalize(anchors, dim=-1) @ positives.T / self.temperature
        logits = logits.masked_fill(masked, float("-inf"))
        per_anchor = F.cross_entropy(logits, torch.arange(len(anchors), device=anchors.device), reduction="none")
        return (per_anchor * used).sum() / used.sum().clamp_min(1)

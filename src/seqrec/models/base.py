"""The contract of every architecture: what the trainer and the evaluation may rely on.

A model maps item sequences [B, L] (0 = padding, right-padded) to a hidden state per position
[B, L, d]; scores over all items are `hidden @ item_embeddings().T` ([V+1, d], row 0 = padding),
so the losses of seqrec.losses apply unchanged. Three class attributes say how it is trained:

- `causal`: the hidden state of position j depends only on the items at positions <= j, so the
  trainer trains every position at once; a non-causal model (SIGMA's flipped branch sees later
  items) is trained on random prefixes, from their last position only: its forward also takes
  `last_only=True` and then returns only the hidden state at each row's last real position, [B, d].
- `fitted`: the model has no parameters to train (pop); the trainer calls `fit` once instead.
- `needs_item_text`: the model reads the item text embeddings of the text step (seqrec.text): its
  constructor takes `text_dim` and the trainer calls `set_item_text` before training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn


class SequenceModel(nn.Module, ABC):
    causal: bool = True
    fitted: bool = False
    needs_item_text: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A model that declares itself fitted, or reading text, must say how.
        for flag, method in (("fitted", "fit"), ("needs_item_text", "set_item_text")):
            if getattr(cls, flag) and getattr(cls, method) is getattr(SequenceModel, method):
                raise TypeError(f"{cls.__name__} sets {flag} = True, so it must define {method}")

    @abstractmethod
    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """sequences [B, L] of item ids -> hidden states [B, L, d]."""

    @abstractmethod
    def item_embeddings(self) -> torch.Tensor:
        """[V+1, d]: the vectors the hidden states are scored against, row 0 (padding) included."""

    def scores(self, hidden: torch.Tensor, item_embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """hidden [..., d] -> scores over every item [..., V+1]; pass `item_embeddings` computed once
        to score many batches."""
        embeddings = self.item_embeddings() if item_embeddings is None else item_embeddings
        return hidden @ embeddings.T

    def auxiliary_loss(self, sequences: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor | float:
        """The architecture's own extra objectives of a training batch (contrastive, adversarial),
        already weighted, added to the next-item loss; `hidden` = forward(sequences) (for a non-causal
        model, forward(sequences, last_only=True)). None: 0."""
        return 0.0

    def fit(self, item_train_counts: np.ndarray) -> None:
        """A fitted model's one pass over the training counts ([V+1] per item)."""
        raise NotImplementedError(f"{type(self).__name__} is trained, not fitted")

    def set_item_text(self, vectors: torch.Tensor) -> None:
        """Install the frozen item text vectors [V+1, text_dim] (row 0 = padding)."""
        raise NotImplementedError(f"{type(self).__name__} reads no item text")


def normal_init(model: nn.Module, std: float) -> None:
    """Draw every linear and embedding weight of `model` from N(0, std²) and zero the biases and the
    padding rows: the initialisation of BERT and of SASRec's released PyTorch code (std 0.02),
    `train.init_std`. Other parameters (layer norms, SIGMA's state matrices) keep their own."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.zero_()
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()

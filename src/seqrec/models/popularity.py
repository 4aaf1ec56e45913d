"""The popularity floor: every user gets the most popular training items (history masked by the
evaluation). It has no parameters and is fitted in one pass; every other model must beat it.

It fits the shared interface: every position's hidden state is the constant 1 and an item's
"embedding" is its training count, so scores = hidden @ item_embeddings().T are the counts.
"""

from __future__ import annotations

import numpy as np
import torch

from seqrec.models.base import SequenceModel


class Popularity(SequenceModel):
    fitted = True

    def __init__(self, n_items: int, max_len: int, **_shared_model_args):
        # The shared model arguments (d_model, n_layers, ...) do not apply to a count.
        super().__init__()
        self.max_len = max_len
        self.register_buffer("counts", torch.zeros(n_items + 1, 1))

    def fit(self, item_train_counts: np.ndarray) -> None:
        counts = torch.as_tensor(item_train_counts, dtype=torch.float32, device=self.counts.device)
        self.counts.copy_(counts.unsqueeze(1))

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        return torch.ones(*sequences.shape, 1, device=sequences.device)

    def item_embeddings(self) -> torch.Tensor:
        return self.counts

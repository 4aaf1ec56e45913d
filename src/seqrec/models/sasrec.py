"""SASRec-style causal transformer (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018).

Item and learned position embeddings, pre-norm transformer blocks with a causal mask (feed-forward
width d_model, as in SASRec), a final layer norm and output scores tied to the item embeddings. Sequences are right-padded: a real position
only attends to earlier positions, which are real too, so no padding mask is needed (a padding mask
on left-padded sequences leaves fully masked rows that turn into NaN in attention).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqrec.models.base import SequenceModel


class CausalTransformer(nn.Module):
    """Learned positions, pre-norm causal transformer blocks and a final layer norm: input vectors
    [B, L, d] (already embedded) -> hidden states [B, L, d]. SASRec's backbone, shared by CALRec."""

    def __init__(self, max_len: int, d_model: int, n_layers: int, n_heads: int, dropout: float):
        super().__init__()
        self.position_embedding = nn.Embedding(max_len, d_model)
        block = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=d_model, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(block, n_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("causal_mask", nn.Transformer.generate_square_subsequent_mask(max_len),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        positions = torch.arange(length, device=x.device)
        x = self.dropout(x + self.position_embedding(positions))
        x = self.encoder(x, mask=self.causal_mask[:length, :length], is_causal=True)
        return self.final_norm(x)


class SASRec(SequenceModel):
    def __init__(self, n_items: int, max_len: int, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 2, dropout: float = 0.2):
        super().__init__()
        self.max_len = max_len
        self.item_embedding = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        self.backbone = CausalTransformer(max_len, d_model, n_layers, n_heads, dropout)
        nn.init.normal_(self.item_embedding.weight, std=d_model ** -0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """sequences [B, L] of item ids (0 = padding, right-padded) -> hidden states [B, L, d]."""
        return self.backbone(self.item_embedding(sequences) * math.sqrt(self.item_embedding.embedding_dim))

    def item_embeddings(self) -> torch.Tensor:
        return self.item_embedding.weight

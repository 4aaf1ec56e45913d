"""SASRec-style causal transformer (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018).

Item and learned position embeddings, causal transformer blocks (feed-forward width d_model, as in
SASRec), a final layer norm and output scores tied to the item embeddings. Two blocks
(`train.sasrec.block`):

- `pre_norm`: the standard pre-norm block (PyTorch's TransformerEncoderLayer, GELU): each sublayer
  reads the layer-normed stream and adds its output to the stream.
- `sasrec`: the block of SASRec's released code (the authors' TensorFlow code and its PyTorch port,
  github.com/pmixer/SASRec.pytorch): the attention reads layer-normed queries but the raw stream as
  keys and values, each residual adds to the layer-normed input instead of the stream, and the
  feed-forward uses ReLU.

Sequences are right-padded: a real position only attends to earlier positions, which are real too,
so no padding mask is needed (a padding mask on left-padded sequences leaves fully masked rows that
turn into NaN in attention).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqrec.models.base import SequenceModel

BLOCKS = ("pre_norm", "sasrec")


class SASRecBlock(nn.Module):
    """One block of SASRec's released code: x -> q = LN1(x); y = LN2(q + attention(q, x, x));
    y + FFN(y), FFN = Linear, ReLU, Linear with dropout after each."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.feed_forward_norm = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_model, d_model), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, is_causal: bool) -> torch.Tensor:
        """is_causal: mask is the causal mask (a hint that lets attention take its fast path)."""
        queries = self.attention_norm(x)
        attended, _ = self.attention(queries, x, x, attn_mask=mask, need_weights=False, is_causal=is_causal)
        x = self.feed_forward_norm(queries + attended)
        return x + self.feed_forward(x)


class SASRecEncoder(nn.Module):
    """n_layers SASRecBlocks, with the call of nn.TransformerEncoder."""

    def __init__(self, d_model: int, n_layers: int, n_heads: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(SASRecBlock(d_model, n_heads, dropout) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, is_causal: bool = False) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask, is_causal)
        return x


class CausalTransformer(nn.Module):
    """Learned positions, causal transformer blocks (`block`, one of BLOCKS) and a final layer norm:
    input vectors [B, L, d] (already embedded) -> hidden states [B, L, d]. SASRec's backbone, shared
    by CALRec."""

    def __init__(self, max_len: int, d_model: int, n_layers: int, n_heads: int, dropout: float,
                 block: str = "pre_norm"):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"unknown transformer block {block!r}; valid ones are: {', '.join(BLOCKS)}")
        self.position_embedding = nn.Embedding(max_len, d_model)
        if block == "sasrec":
            self.encoder = SASRecEncoder(d_model, n_layers, n_heads, dropout)
        else:
            layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=d_model, dropout=dropout,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
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
                 n_heads: int = 2, dropout: float = 0.2, block: str = "pre_norm"):
        super().__init__()
        self.max_len = max_len
        self.item_embedding = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        self.backbone = CausalTransformer(max_len, d_model, n_layers, n_heads, dropout, block)
        nn.init.normal_(self.item_embedding.weight, std=d_model ** -0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """sequences [B, L] of item ids (0 = padding, right-padded) -> hidden states [B, L, d]."""
        return self.backbone(self.item_embedding(sequences) * math.sqrt(self.item_embedding.embedding_dim))

    def item_embeddings(self) -> torch.Tensor:
        return self.item_embedding.weight

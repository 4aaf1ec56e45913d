"""The SASRec architecture's two transformer blocks (train.sasrec.block)."""

import pytest
import torch
import yaml

from seqrec.config import SCHEMA_PATH
from seqrec.models.sasrec import BLOCKS, SASRec, SASRecBlock


@pytest.mark.parametrize("block", BLOCKS)
def test_a_position_sees_only_earlier_items(block):
    torch.manual_seed(0)
    model = SASRec(n_items=30, max_len=8, d_model=16, n_heads=2, dropout=0.0, block=block).eval()
    sequences = torch.randint(1, 31, (3, 8))
    changed = sequences.clone()
    changed[:, 5:] = torch.randint(1, 31, (3, 3))
    with torch.no_grad():
        before, after = model(sequences), model(changed)
    torch.testing.assert_close(before[:, :5], after[:, :5])
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_the_sasrec_block_adds_its_residuals_to_the_normed_input():
    torch.manual_seed(0)
    block = SASRecBlock(d_model=8, n_heads=1, dropout=0.0).eval()
    x = torch.randn(2, 5, 8) * 3
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    queries = block.attention_norm(x)
    # keys and values from the raw stream, queries normed, as in SASRec's released code
    attended = torch.nn.functional.multi_head_attention_forward(
        queries.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), 8, 1,
        block.attention.in_proj_weight, block.attention.in_proj_bias, None, None, False, 0.0,
        block.attention.out_proj.weight, block.attention.out_proj.bias, training=False,
        need_weights=False, attn_mask=mask)[0].transpose(0, 1)
    normed = block.feed_forward_norm(queries + attended)
    first, _, _, second, _ = block.feed_forward
    expected = normed + second(torch.relu(first(normed)))
    with torch.no_grad():
        torch.testing.assert_close(block(x, mask, is_causal=True), expected)


def test_an_unknown_block_is_refused():
    with pytest.raises(ValueError, match="unknown transformer block 'post_norm'.*pre_norm, sasrec"):
        SASRec(n_items=10, max_len=4, block="post_norm")


def test_the_schema_offers_exactly_the_blocks_of_the_model():
    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    block = schema["properties"]["train"]["properties"]["sasrec"]["properties"]["block"]
    assert block["enum"] == list(BLOCKS)
    assert block["default"] in BLOCKS

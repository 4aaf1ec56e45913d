"""CALRec: item texts and their frozen embeddings (seqrec.text), and the model (seqrec.models.calrec)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from seqrec import io
from seqrec.losses import full_softmax_loss
from seqrec.models.calrec import CALRec
from seqrec.text import DEFAULT_ENCODER, encode_items, item_texts, load_encoder, read_item_embeddings, \
    write_item_embeddings

ITEMS = pd.DataFrame({
    "item": [1, 2, 3, 4, 5],
    "title": ["Alien (1979)", "The Thing (1982)", "Toy Story (1995)", "Aladdin (1992)", "Heat (1995)"],
    "domains": [["Horror", "Sci-Fi"], ["Horror"], ["Animation", "Children's", "Comedy"],
                ["Animation", "Children's", "Musical"], ["Crime", "Thriller"]],
})


@pytest.fixture(scope="module")
def encoded():
    return encode_items(ITEMS, DEFAULT_ENCODER, batch_size=4, device="cpu")


def test_item_texts_in_item_order():
    items = pd.DataFrame({"item": [2, 1], "title": ["Heat", "Alien"],
                          "domains": [np.array(["Crime", "Thriller"]), np.array(["Horror"])]})  # as read from parquet
    assert item_texts(items) == ["Title: Alien. Categories: Horror.", "Title: Heat. Categories: Crime, Thriller."]


def test_item_texts_rejects_non_contiguous_ids():
    with pytest.raises(io.InputError, match="1..V"):
        item_texts(ITEMS.assign(item=[1, 2, 3, 4, 6]))


def test_encode_items_default_encoder(encoded):
    assert encoded.shape == (6, 384) and encoded.dtype == np.float32
    assert not encoded[0].any()
    np.testing.assert_allclose(np.linalg.norm(encoded[1:], axis=1), 1.0, atol=1e-5)
    cosine = encoded @ encoded.T
    # Two horror films are closer to each other than to a children's animation, and the two
    # animations closer to each other than to a crime thriller: the vectors carry meaning.
    assert cosine[1, 2] > cosine[1, 3]
    assert cosine[3, 4] > cosine[3, 5]


def test_unknown_encoder_is_an_input_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once at import
    with pytest.raises(io.InputError, match="no-such-encoder-xyz.*HF_HOME"):
        load_encoder("no-such-encoder-xyz", "cpu")


def test_embeddings_file_round_trip(tmp_path, encoded):
    io.write_parquet(ITEMS, tmp_path / "data" / "items.parquet")
    out = tmp_path / "text" / "item_embeddings.parquet"
    write_item_embeddings(tmp_path / "data" / "items.parquet", out, DEFAULT_ENCODER, batch_size=2, device="cpu")
    table = read_item_embeddings(out)
    assert table.dtype == torch.float32
    torch.testing.assert_close(table, torch.from_numpy(encoded), atol=1e-5, rtol=0)
    metadata = pq.read_schema(out).metadata
    assert metadata[b"seqrec.encoder"] == DEFAULT_ENCODER.encode() and metadata[b"seqrec.dim"] == b"384"
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind


def test_missing_or_corrupt_embeddings_file(tmp_path):
    with pytest.raises(io.InputError, match="not found"):
        read_item_embeddings(tmp_path / "absent.parquet")
    corrupt = tmp_path / "item_embeddings.parquet"
    corrupt.write_bytes(b"PAR1 truncated")
    with pytest.raises(io.InputError, match="delete it and rerun"):
        read_item_embeddings(corrupt)
    io.write_parquet(pd.DataFrame({"item": [1, 3], "embedding": [[0.0], [1.0]]}), corrupt)
    with pytest.raises(io.InputError, match="1..V"):
        read_item_embeddings(corrupt)


# The model, on random unit text vectors.

N_ITEMS, MAX_LEN, D_MODEL, TEXT_DIM = 40, 8, 16, 24


def make_model(seed=0, **kwargs) -> CALRec:
    torch.manual_seed(seed)
    model = CALRec(N_ITEMS, MAX_LEN, d_model=D_MODEL, n_layers=2, n_heads=2, text_dim=TEXT_DIM, **kwargs)
    model.set_item_text(text_vectors())
    return model


def text_vectors() -> torch.Tensor:
    vectors = F.normalize(torch.randn(N_ITEMS + 1, TEXT_DIM, generator=torch.Generator().manual_seed(7)), dim=-1)
    vectors[0] = 0
    return vectors


def batch(n=16, seed=1) -> torch.Tensor:
    """Right-padded random sequences of lengths 1..MAX_LEN (length 1 has no alignment pair)."""
    generator = torch.Generator().manual_seed(seed)
    sequences = torch.randint(1, N_ITEMS + 1, (n, MAX_LEN), generator=generator)
    lengths = torch.randint(1, MAX_LEN + 1, (n,), generator=generator)
    lengths[0] = 1
    return sequences * (torch.arange(MAX_LEN) < lengths.unsqueeze(1))


def next_item_loss(model: CALRec, sequences: torch.Tensor) -> torch.Tensor:
    hidden = model(sequences)
    targets = torch.cat([sequences[:, 1:], torch.zeros_like(sequences[:, :1])], 1)
    return full_softmax_loss(hidden.flatten(0, 1), targets.flatten(), model.item_embeddings()) + \
        model.auxiliary_loss(sequences, hidden)


def test_shapes_and_item_text_buffer():
    model = make_model()
    sequences = batch()
    assert model(sequences).shape == (16, MAX_LEN, D_MODEL)
    embeddings = model.item_embeddings()
    assert embeddings.shape == (N_ITEMS + 1, D_MODEL)
    assert not embeddings[0].any() and embeddings[1:].norm(dim=1).min() > 0
    assert "item_text" in model.state_dict()
    assert all(parameter is not model.item_text for parameter in model.parameters())
    with pytest.raises(io.InputError, match="rerun the text step"):
        model.set_item_text(torch.zeros(N_ITEMS, TEXT_DIM))


def test_gradients_reach_every_parameter():
    model = make_model()
    next_item_loss(model, batch()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert model.item_text.grad is None


def test_causal():
    model = make_model().eval()
    sequences = torch.randint(1, N_ITEMS + 1, (4, MAX_LEN))
    changed = sequences.clone()
    changed[:, 5:] = torch.randint(1, N_ITEMS + 1, (4, MAX_LEN - 5))
    with torch.no_grad():
        before, after = model(sequences), model(changed)
    torch.testing.assert_close(before[:, :5], after[:, :5])
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_auxiliary_loss():
    model = make_model().train()
    sequences = batch()
    loss = model.auxiliary_loss(sequences, model(sequences))
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    # Each loss carries its own weight; with both weights at zero nothing is added.
    silent = make_model(user_target_weight=0.0, target_target_weight=0.0)
    assert silent.auxiliary_loss(sequences, silent(sequences)) == 0
    # Fewer than two sequences with a pair: no negatives, no loss.
    single = sequences.clone()
    single[1:, 1:] = 0
    assert model.auxiliary_loss(single, model(single)) == 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.auxiliary_loss(sequences, model(sequences)).dtype == torch.float32


def test_item_id_embedding_flag():
    model = make_model(item_id_embedding=False)
    text = text_vectors()
    text[2] = text[1]
    model.set_item_text(text)
    embeddings = model.item_embeddings()
    torch.testing.assert_close(embeddings[1], embeddings[2])  # the same text, the same item vector
    assert not torch.allclose(make_model().item_embeddings()[1], make_model(seed=1).item_embeddings()[1])


def test_training_decreases_the_loss():
    model = make_model(dropout=0.0).train()
    sequences = batch(n=32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = next_item_loss(model, sequences)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_state_dict_round_trip_restores_item_text():
    model = make_model().eval()
    restored = CALRec(N_ITEMS, MAX_LEN, d_model=D_MODEL, text_dim=TEXT_DIM).eval()
    assert not restored.item_text.any()
    restored.load_state_dict(model.state_dict())
    torch.testing.assert_close(restored.item_text, text_vectors())
    sequences = batch()
    torch.testing.assert_close(restored(sequences), model(sequences))


def test_same_seed_same_outputs():
    sequences = batch()
    first, second, other = make_model(seed=3).train(), make_model(seed=3).train(), make_model(seed=4).train()
    torch.manual_seed(11)
    a = next_item_loss(first, sequences)
    torch.manual_seed(11)
    b = next_item_loss(second, sequences)
    torch.manual_seed(11)
    c = next_item_loss(other, sequences)
    assert a.item() == b.item() and a.item() != c.item()

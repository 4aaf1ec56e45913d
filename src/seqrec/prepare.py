"""The `prepare` step: raw tables of a dataset -> the canonical, filtered and split tables.

Writes into `out_dir`:
- interactions.parquet: user (0..U-1), item (1..I; 0 is the padding id), timestamp, split
  (train/valid/test), sorted by user then time;
- items.parquet: item, title, domains (list of str, "other" where a source gives none), raw_id;
  an item missing from the source's item file is counted (`items_without_metadata`) and warned
  about on stderr (the prepare log);
- dataset.json: counts, the filters applied, the sha256 of every raw file read and
  `held_out_tied`: the valid and test items that share their user's timestamp with another item,
  whose place the tie rule of `seqrec.splits` (`prepare.ties`) decided (docs/datasets.md, "Ties in time").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from seqrec import datasets, splits
from seqrec.config import validate_config
from seqrec.datasets.base import OTHER_DOMAIN
from seqrec.io import sha256, write_json, write_parquet

def prepare(dataset: str, raw_dir: str | os.PathLike, out_dir: str | os.PathLike,
            k_core: int = 5, options: dict | None = None) -> dict:
    """Filter, re-index and split `dataset` from `raw_dir` into `out_dir`; return dataset.json.

    `options`: the config's validated `prepare` section (None: the schema's defaults). Its `ties`
    orders a user's interactions at the same time (seqrec.splits.leave_one_out); the dataset's
    parser reads the rest.
    """
    options = validate_config({})["prepare"] if options is None else options
    ties = options["ties"]
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    tables = datasets.load_raw(dataset, raw_dir, options)
    raw, raw_items = tables.interactions[["user", "item", "timestamp"]], tables.items
    kept = splits.k_core(raw, k_core)
    if kept.empty:
        raise ValueError(f"{dataset}: no interactions are left after {k_core}-core filtering; "
                         "use a smaller prepare.k_core.")

    # factorize(sort=True) = np.unique(return_inverse=True), several times faster on string ids.
    users, user_ids = pd.factorize(kept["user"], sort=True)
    items, item_ids = pd.factorize(kept["item"], sort=True)
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    interactions = splits.leave_one_out(pd.DataFrame({
        "user": users.astype(np.int64),
        "item": items.astype(np.int64) + 1,
        "timestamp": kept["timestamp"].to_numpy(np.int64),
    }), ties)
    catalogue = _catalogue(raw_items, item_ids)
    without_metadata = int((~pd.Index(item_ids).isin(raw_items["item"])).sum())
    if without_metadata:
        print(f"warning: {without_metadata} of {len(item_ids)} items are missing from "
              f"{raw_dir / tables.item_file}; they are titled by their raw id and put in domain "
              f"{OTHER_DOMAIN!r} (docs/datasets.md, 'Items without metadata').", file=sys.stderr, flush=True)

    domains = sorted(set(catalogue["domains"].explode()))
    info = {
        "dataset": dataset,
        "n_users": len(user_ids),
        "n_items": len(item_ids),
        "n_interactions": len(interactions),
        "density": len(interactions) / (len(user_ids) * len(item_ids)),
        "n_domains": len(domains),
        "items_without_metadata": without_metadata,
        "domains": domains,
        "filters": {
            "k_core": k_core,
            "ties": ties,
            "users_removed": raw["user"].nunique() - len(user_ids),
            "items_removed": raw["item"].nunique() - len(item_ids),
            "interactions_removed": len(raw) - len(interactions),
        },
        "held_out_tied": splits.held_out_ties(interactions),
        "sources": {name: sha256(raw_dir / name) for name in _files_read(dataset, raw_dir)},
        "lines_read": tables.lines,
        "malformed_lines": tables.malformed,
    }
    write_parquet(interactions, out_dir / "interactions.parquet")
    write_parquet(catalogue, out_dir / "items.parquet")
    write_json(info, out_dir / "dataset.json")
    return info


def _catalogue(raw_items: pd.DataFrame, item_ids: np.ndarray) -> pd.DataFrame:
    """items.parquet for the kept raw ids (new id = position + 1); an item missing from the raw
    item table is titled by its raw id and, like an item without domains, gets domain "other"."""
    meta = raw_items.drop_duplicates("item").set_index("item").reindex(item_ids)
    raw_id = [str(i) for i in item_ids]
    return pd.DataFrame({
        "item": np.arange(1, len(item_ids) + 1, dtype=np.int64),
        "title": [t if isinstance(t, str) else r for t, r in zip(meta["title"], raw_id)],
        "domains": [_domain_list(d) for d in meta["domains"]],
        "raw_id": raw_id,
    })


def _domain_list(domains: object) -> list[str]:
    # Parquet lists come back as numpy arrays; a missing entry is None or NaN.
    listed = [str(d) for d in domains] if isinstance(domains, (list, np.ndarray)) else []
    return listed or [OTHER_DOMAIN]


def _files_read(dataset: str, raw_dir: Path) -> list[str]:
    """The raw members of `dataset`, and its optional members present in `raw_dir`."""
    spec = datasets.get(dataset)
    return spec.raw_files + [name for name in spec.optional_files if (raw_dir / name).is_file()]


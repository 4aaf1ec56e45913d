"""Filtering and splitting of interaction tables: k-core filtering and leave-one-out.

Ties in time: many sources record only the second (MovieLens: about half of the held-out items
share their user's timestamp with another item) or only the day (LastFM). Input order would then
decide the held-out item, and input order is often an id sort. Interactions of a user at the same
time are therefore ordered by a fixed hash of (user, item): deterministic, the same for every
input order, and unrelated to the order of the ids (docs/datasets.md, "Ties in time"). The rule
`file` keeps the input order among them instead, as SASRec's preprocessing of MovieLens does
(`prepare.ties`; for comparisons with published numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIE_HASH_KEY = "seqrec-tie-order"  # the 16-character key of the hash that orders ties in time
TIE_RULES = ("hash", "file")  # prepare.ties


def k_core(interactions: pd.DataFrame, k: int) -> pd.DataFrame:
    """Drop users and items with fewer than `k` interactions, repeatedly, until none remain."""
    frame = interactions.reset_index(drop=True)
    while True:
        user_count = frame.groupby("user")["user"].transform("size")
        item_count = frame.groupby("item")["item"].transform("size")
        keep = (user_count >= k) & (item_count >= k)
        if keep.all():
            return frame
        frame = frame[keep].reset_index(drop=True)


def tie_order(interactions: pd.DataFrame) -> np.ndarray:
    """The key that orders interactions of a user at the same time: a hash of (user, item)."""
    return pd.util.hash_pandas_object(interactions[["user", "item"]], index=False,
                                      hash_key=TIE_HASH_KEY).to_numpy()


def leave_one_out(interactions: pd.DataFrame, ties: str = "hash") -> pd.DataFrame:
    """Sort by user, time and then `tie_order` (ties "hash") or the input order (ties "file"), and
    add `split`: each user's last interaction is "test", the one before "valid", the rest "train"."""
    if ties not in TIE_RULES:
        raise ValueError(f"prepare.ties: unknown rule {ties!r}; valid ones are: {', '.join(TIE_RULES)}")
    among_ties = tie_order(interactions) if ties == "hash" else np.arange(len(interactions))
    order = np.lexsort((among_ties, interactions["timestamp"].to_numpy(), interactions["user"].to_numpy()))
    frame = interactions.iloc[order].reset_index(drop=True)
    sizes = frame.groupby("user")["user"].transform("size")
    short = frame.loc[sizes < 3, "user"].nunique()
    if short:
        raise ValueError(f"leave-one-out needs at least 3 interactions per user, but {short} "
                         "user(s) have fewer; filter with prepare.k_core >= 3.")
    from_end = frame.groupby("user").cumcount(ascending=False).to_numpy()
    frame["split"] = np.select([from_end == 0, from_end == 1], ["test", "valid"], "train")
    return frame


def held_out_ties(split: pd.DataFrame) -> int:
    """Held-out (valid and test) interactions that share their user's timestamp with another
    interaction: those whose place in the sequence the tie rule decided."""
    tied = split.duplicated(["user", "timestamp"], keep=False)
    return int((tied & (split["split"] != "train")).sum())

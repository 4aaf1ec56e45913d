"""Filtering and splitting of interaction tables: k-core filtering and leave-one-out."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def leave_one_out(interactions: pd.DataFrame) -> pd.DataFrame:
    """Sort by user and time and add `split`: each user's last interaction is "test", the one
    before "valid", the rest "train". Ties in time keep their input order."""
    order = np.lexsort((interactions["timestamp"].to_numpy(), interactions["user"].to_numpy()))
    frame = interactions.iloc[order].reset_index(drop=True)
    sizes = frame.groupby("user")["user"].transform("size")
    short = frame.loc[sizes < 3, "user"].nunique()
    if short:
        raise ValueError(f"leave-one-out needs at least 3 interactions per user, but {short} "
                         "user(s) have fewer; filter with prepare.k_core >= 3.")
    from_end = frame.groupby("user").cumcount(ascending=False).to_numpy()
    frame["split"] = np.select([from_end == 0, from_end == 1], ["test", "valid"], "train")
    return frame

"""k-core filtering and leave-one-out splitting on hand-made tables."""

import pandas as pd
import pytest

from seqrec.splits import k_core, leave_one_out


def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def test_k_core_removal_cascades():
    # At k=2: item c (1 rating) goes, so user 4 has 1 left and goes, so item d has 1 left and goes;
    # user 3 keeps a and b.
    rows = [(1, "a", 1), (1, "b", 2), (2, "a", 3), (2, "b", 4), (3, "a", 5), (3, "b", 6),
            (3, "d", 7), (4, "c", 8), (4, "d", 9)]
    kept = k_core(frame(rows), 2)
    assert set(kept["user"]) == {1, 2, 3}
    assert set(kept["item"]) == {"a", "b"}
    assert len(kept) == 6
    assert kept.index.tolist() == list(range(6))


def test_k_core_can_empty_everything_and_k1_keeps_all():
    rows = [(1, "a", 1), (1, "b", 2), (2, "a", 3)]
    assert k_core(frame(rows), 3).empty
    assert len(k_core(frame(rows), 1)) == 3


def test_leave_one_out_orders_by_time_and_keeps_file_order_on_ties():
    rows = [(2, "x", 5), (1, "c", 30), (1, "a", 10), (2, "y", 6), (1, "b", 20), (2, "z", 6),
            (1, "d", 30)]
    split = leave_one_out(frame(rows))
    assert split[["user", "item", "split"]].values.tolist() == [
        [1, "a", "train"], [1, "b", "train"], [1, "c", "valid"], [1, "d", "test"],
        [2, "x", "train"], [2, "y", "valid"], [2, "z", "test"],
    ]


def test_leave_one_out_refuses_short_users():
    rows = [(1, "a", 1), (1, "b", 2), (1, "c", 3), (2, "a", 1), (2, "b", 2), (3, "a", 1)]
    with pytest.raises(ValueError, match=r"2 user\(s\).*k_core >= 3"):
        leave_one_out(frame(rows))

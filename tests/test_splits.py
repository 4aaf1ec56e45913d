"""k-core filtering and leave-one-out splitting on hand-made tables."""

import pandas as pd
import pytest

from seqrec.splits import held_out_ties, k_core, leave_one_out


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


def test_leave_one_out_orders_by_time():
    rows = [(2, "x", 5), (1, "c", 30), (1, "a", 10), (2, "y", 6), (1, "b", 20), (2, "z", 7),
            (1, "d", 40)]
    split = leave_one_out(frame(rows))
    assert split[["user", "item", "split"]].values.tolist() == [
        [1, "a", "train"], [1, "b", "train"], [1, "c", "valid"], [1, "d", "test"],
        [2, "x", "train"], [2, "y", "valid"], [2, "z", "test"],
    ]


def tied_users(n_users=300, n_tied=4):
    """Each user: one early item, then items 1..n_tied at the same time, in ascending id order."""
    rows = [(u, 0, 1) for u in range(n_users)]
    rows += [(u, item, 2) for u in range(n_users) for item in range(1, n_tied + 1)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def test_ties_in_time_do_not_follow_input_or_id_order():
    interactions = tied_users()
    split = leave_one_out(interactions)
    test = split.loc[split["split"] == "test", "item"]
    # Input order (= ascending id) would make item 4 every user's test item; the rule spreads it.
    shares = test.value_counts(normalize=True)
    assert set(shares.index) == {1, 2, 3, 4} and shares.max() < 0.35
    # Every user's tied items in a different order: no fixed ranking of items either.
    orders = split.loc[split["timestamp"] == 2].groupby("user")["item"].agg(tuple)
    assert orders.nunique() > 12


def test_tie_rule_is_deterministic_and_independent_of_input_order():
    interactions = tied_users(50)
    first = leave_one_out(interactions)
    shuffled = leave_one_out(interactions.sample(frac=1, random_state=3).reset_index(drop=True))
    pd.testing.assert_frame_equal(first, shuffled)
    pd.testing.assert_frame_equal(first, leave_one_out(interactions))


def test_file_ties_keep_the_input_order_among_items_at_the_same_time():
    interactions = tied_users(20).sample(frac=1, random_state=5).reset_index(drop=True)
    split = leave_one_out(interactions, ties="file")
    # Each user's items in input order, a stable sort by time: the last tied one is the test item.
    expected = interactions.sort_values(["user", "timestamp"], kind="stable")
    assert split[["user", "item"]].values.tolist() == expected[["user", "item"]].values.tolist()
    last_listed = interactions[interactions["timestamp"] == 2].groupby("user")["item"].last()
    assert (split.loc[split["split"] == "test"].set_index("user")["item"] == last_listed).all()


def test_an_unknown_tie_rule_is_refused():
    with pytest.raises(ValueError, match="ties"):
        leave_one_out(tied_users(5), ties="random")


def test_held_out_ties_counts_valid_and_test_items_tied_in_time():
    rows = [(1, "a", 10), (1, "b", 20), (1, "c", 30), (1, "d", 40),  # no tie
            (2, "a", 10), (2, "b", 20), (2, "c", 20), (2, "d", 30),  # valid tied with a train item
            (3, "a", 10), (3, "b", 20), (3, "c", 20)]  # valid and test tied with each other
    assert held_out_ties(leave_one_out(frame(rows))) == 3
    assert held_out_ties(leave_one_out(tied_users(10))) == 20


def test_leave_one_out_refuses_short_users():
    rows = [(1, "a", 1), (1, "b", 2), (1, "c", 3), (2, "a", 1), (2, "b", 2), (3, "a", 1)]
    with pytest.raises(ValueError, match=r"2 user\(s\).*k_core >= 3"):
        leave_one_out(frame(rows))

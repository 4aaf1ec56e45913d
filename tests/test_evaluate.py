"""The evaluate step scores the test and the validation split; neither sees its own or a later item."""

import numpy as np
import pandas as pd
import pytest

from seqrec.evaluate import EvalFiles, evaluate
from seqrec.sequences import evaluation_cases
from seqrec.train import RunFiles, train


def split_table() -> pd.DataFrame:
    """Three users, each with distinct train, valid and test items; the held-out items are stamped
    *before* the training ones, so a history ordered by time alone would put them inside it."""
    rows = []
    for user, n_train in [(1, 5), (2, 2), (3, 8)]:
        base = 100 * user
        rows += [(user, base + i, 1000 + i, "train") for i in range(n_train)]
        rows += [(user, base + 50, 10, "valid"), (user, base + 60, 20, "test")]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp", "split"])


def histories(cases) -> dict[int, list[int]]:
    items = cases.history_items.numpy()
    return {int(u): items[a:b].tolist() for u, a, b in zip(cases.users, cases.history_ptr[:-1], cases.history_ptr[1:])}


def test_validation_history_is_the_training_items_only():
    table = split_table()
    cases = evaluation_cases(table, "valid", max_len=4)
    train_items = table[table["split"] == "train"].groupby("user")["item"].agg(list).to_dict()
    assert histories(cases) == train_items
    assert cases.targets.tolist() == [150, 250, 350]
    held_out = set(table.loc[table["split"] != "train", "item"])
    assert not held_out & set(cases.inputs.flatten().tolist())  # nor in the (truncated) model inputs
    assert cases.inputs[2].tolist() == [304, 305, 306, 307] and cases.inputs[1].tolist() == [200, 201, 0, 0]


def test_test_history_is_the_training_items_then_the_validation_item():
    table = split_table()
    cases = evaluation_cases(table, "test", max_len=4)
    assert histories(cases)[2] == [200, 201, 250]
    assert 360 not in cases.inputs.flatten().tolist() and cases.targets.tolist() == [160, 260, 360]


def test_evaluate_writes_both_splits_with_the_same_columns(tiny_dataset, tmp_path):
    config, data, sparsity = tiny_dataset
    train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet",
          RunFiles.in_folder(tmp_path / "run"), "synthetic", "generic", 1, config, threads=1)
    outputs = EvalFiles.in_folder(tmp_path / "eval")
    evaluate(data / "interactions.parquet", data / "items.parquet", sparsity / "power_users.parquet",
             tmp_path / "run" / "model.pt", outputs, config, threads=1)
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == [
        "metrics.parquet", "per_case.parquet", "valid_metrics.parquet", "valid_per_case.parquet"]
    interactions = pd.read_parquet(data / "interactions.parquet")
    for split in ("test", "valid"):
        per_case_path, metrics_path = outputs.of_split(split)
        per_case = pd.read_parquet(per_case_path)
        held_out = interactions.loc[interactions["split"] == split].set_index("user")["item"]
        assert (per_case.set_index("user")["item"] == held_out.reindex(per_case["user"])).all()
        assert list(per_case.columns) == list(pd.read_parquet(outputs.per_case).columns)
        assert list(pd.read_parquet(metrics_path).columns) == list(pd.read_parquet(outputs.metrics).columns)
    test, valid = pd.read_parquet(outputs.per_case), pd.read_parquet(outputs.valid_per_case)
    assert not np.array_equal(test["rank"], valid["rank"])  # scored on its own targets, not a copy
    # The model kept is the training's best on the validation split: the step scores it the same.
    metrics = pd.read_parquet(outputs.valid_metrics).query("scope == 'overall' and metric == 'ndcg' and k == 10")
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert metrics["value"].item() == pytest.approx(history["valid_ndcg@10"].max(), abs=1e-6)

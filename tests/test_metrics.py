import math

import numpy as np
import pandas as pd
import pytest
import torch

from seqrec.metrics import case_metrics, metric_columns, ndcg_at_k, recall_at_k, summarise


def test_recall_and_ndcg_on_known_ranks():
    ranks = np.array([0, 1, 4, 9, 10, 50])
    np.testing.assert_array_equal(recall_at_k(ranks, 10), [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(recall_at_k(ranks, 1), [1, 0, 0, 0, 0, 0])
    expected = [1.0, 1 / math.log2(3), 1 / math.log2(6), 1 / math.log2(11), 0.0, 0.0]
    np.testing.assert_allclose(ndcg_at_k(ranks, 10), expected)
    np.testing.assert_allclose(ndcg_at_k(ranks, 5), expected[:3] + [0.0] * 3)


def test_metrics_keep_torch_tensors():
    ranks = torch.tensor([0, 1, 12])
    recall, ndcg = recall_at_k(ranks, 10), ndcg_at_k(ranks, 10)
    assert isinstance(recall, torch.Tensor) and recall.is_floating_point()
    assert torch.equal(recall, torch.tensor([1.0, 1.0, 0.0]))
    assert torch.allclose(ndcg, torch.tensor([1.0, 1 / math.log2(3), 0.0]))


def test_case_metrics_columns():
    columns = case_metrics(np.array([0, 7]), [5, 10])
    assert list(columns) == metric_columns([5, 10]) == ["recall@5", "ndcg@5", "recall@10", "ndcg@10"]
    np.testing.assert_array_equal(columns["recall@5"], [1, 0])
    np.testing.assert_allclose(columns["ndcg@10"], [1.0, 1 / math.log2(9)])


def per_case() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user": np.arange(4, dtype=np.int64),
            "item": np.array([10, 11, 12, 13], dtype=np.int64),
            "rank": np.array([0, 1, 3, 30], dtype=np.int64),
            "domains": [["Drama", "Film-Noir"], ["Drama"], ["Horror"], ["Film-Noir"]],
            "power_domains": [["Film-Noir"], [], ["Film-Noir", "Horror"], []],
        }
    )
    return frame.assign(**case_metrics(frame["rank"].to_numpy(), [1, 10]))


def value(summary: pd.DataFrame, scope: str, domain: str, metric: str, k: int) -> pd.Series:
    row = summary.query("scope == @scope and domain == @domain and metric == @metric and k == @k")
    assert len(row) == 1
    return row.iloc[0]


def test_summarise_counts_cases_in_every_domain_and_power_scope():
    summary = summarise(per_case(), [1, 10])
    assert list(summary.columns) == ["scope", "domain", "n_cases", "metric", "k", "value"]
    groups = summary.drop_duplicates(["scope", "domain"])
    assert list(zip(groups["scope"], groups["domain"], groups["n_cases"])) == [
        ("overall", "all", 4),
        ("domain", "Drama", 2),
        ("domain", "Film-Noir", 2),
        ("domain", "Horror", 1),
        ("power", "Film-Noir", 2),
        ("power", "Horror", 1),
    ]
    assert len(summary) == 6 * 4
    ndcg = [1.0, 1 / math.log2(3), 1 / math.log2(5), 0.0]
    assert value(summary, "overall", "all", "recall", 10)["value"] == pytest.approx(0.75)
    assert value(summary, "overall", "all", "ndcg", 10)["value"] == pytest.approx(sum(ndcg) / 4)
    assert value(summary, "domain", "Drama", "ndcg", 10)["value"] == pytest.approx((ndcg[0] + ndcg[1]) / 2)
    assert value(summary, "domain", "Film-Noir", "recall", 1)["value"] == pytest.approx(0.5)
    assert value(summary, "domain", "Horror", "recall", 1)["value"] == 0.0
    # Power users of Film-Noir are users 0 and 2, whatever their target's domain.
    assert value(summary, "power", "Film-Noir", "ndcg", 10)["value"] == pytest.approx((ndcg[0] + ndcg[2]) / 2)
    assert value(summary, "power", "Horror", "recall", 10)["value"] == 1.0


def test_summarise_reads_list_columns_from_parquet(tmp_path):
    path = tmp_path / "per_case.parquet"
    per_case().to_parquet(path)
    pd.testing.assert_frame_equal(
        summarise(pd.read_parquet(path), [1, 10]), summarise(per_case(), [1, 10])
    )


def test_summarise_names_missing_columns():
    with pytest.raises(ValueError, match="ndcg@20"):
        summarise(per_case(), [20])

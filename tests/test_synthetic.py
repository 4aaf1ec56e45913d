"""The synthetic dataset poses the paper's question: sparse domains, long tail, sequences."""

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqrec.config import load_config
from seqrec.datasets import synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default():
    return synthetic.generate()


def test_same_seed_same_data_and_different_seed_different_data(default):
    interactions, items = synthetic.generate(seed=0)
    pd.testing.assert_frame_equal(interactions, default[0])
    pd.testing.assert_frame_equal(items, default[1])
    other, _ = synthetic.generate(seed=1)
    assert not other.equals(interactions)


def test_schema_and_sizes(default):
    interactions, items = default
    assert list(interactions.columns) == ["user", "item", "timestamp"]
    assert (interactions.dtypes == np.int64).all()
    assert list(items.columns) == ["item", "title", "domains"]
    assert items["item"].tolist() == list(range(1500))
    assert sorted(interactions["user"].unique()) == list(range(3000))
    assert interactions["item"].between(0, 1499).all()
    assert abs(len(interactions) - 150_000) <= 1_500
    assert interactions.groupby("user").size().min() >= 5


def test_timestamps_strictly_increase_per_user_and_repeats_are_rare(default):
    interactions, _ = default
    same_user = interactions["user"].diff() == 0
    assert (interactions["timestamp"].diff()[same_user] > 0).all()
    assert interactions.duplicated(["user", "item"]).mean() < 0.01


def test_domain_shares_span_two_orders_of_magnitude(default):
    interactions, items = default
    assert items["domains"].map(len).between(1, 3).all()
    assert items["domains"].map(lambda d: len(set(d)) == len(d)).all()
    per_domain = interactions.merge(items, on="item")["domains"].explode().value_counts()
    assert len(per_domain) == 15
    assert per_domain.max() / per_domain.min() >= 100


def test_popularity_has_a_long_tail(default):
    interactions, _ = default
    counts = interactions["item"].value_counts()
    assert counts.iloc[:150].sum() / len(interactions) > 0.35


def test_power_users_concentrate_on_sparse_domains(default):
    interactions, items = default
    sparse = set(synthetic.domain_names(15)[7:])
    joined = interactions.merge(items, on="item").explode("domains")
    joined = joined[joined["domains"].isin(sparse)]
    share = joined.groupby(["user", "domains"]).size() / interactions.groupby("user").size()
    power_users = share[share >= 0.7].index.get_level_values("user").nunique()
    assert power_users >= 0.5 * 0.1 * 3000


def _successor_share(interactions: pd.DataFrame) -> float:
    """Share of transitions that go to one of the previous item's 3 most frequent next items."""
    pairs = pd.DataFrame({"a": interactions["item"],
                          "b": interactions.groupby("user")["item"].shift(-1)}).dropna()
    return pairs.value_counts().groupby(level="a").head(3).sum() / len(pairs)


def test_sequences_follow_successors():
    sequential, _ = synthetic.generate(n_users=500, n_interactions=20_000)
    shuffled, _ = synthetic.generate(n_users=500, n_interactions=20_000, sequential_strength=0.0)
    assert _successor_share(sequential) > 0.3
    assert _successor_share(shuffled) < _successor_share(sequential) / 2


def test_infeasible_sizes_are_refused():
    with pytest.raises(ValueError, match="n_interactions"):
        synthetic.generate(n_users=100, n_interactions=100)
    with pytest.raises(ValueError, match="n_domains"):
        synthetic.generate(n_items=20, n_domains=30)


def test_memory_grows_by_a_bit_per_user_and_item():
    """The generator remembers which items each user has seen: a byte per pair would need 11 GiB
    at Amazon Electronics' shape and 25 GiB at Yelp's, a bit per pair an eighth of that."""
    n_users, n_items = 20_000, 8_000
    tracemalloc.start()
    try:
        synthetic.generate(n_users=n_users, n_items=n_items, n_interactions=120_000, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n_users * n_items / 4


def test_write_and_load_raw_round_trip(tmp_path):
    params = dict(n_users=50, n_items=60, n_interactions=1_000, seed=3)
    synthetic.write_raw(tmp_path, **params)
    assert sorted(p.name for p in tmp_path.iterdir()) == synthetic.RAW_FILES
    raw = synthetic.load_raw(tmp_path)
    interactions, items = raw.interactions, raw.items
    expected, expected_items = synthetic.generate(**params)
    pd.testing.assert_frame_equal(interactions, expected)
    assert items["domains"].map(list).tolist() == expected_items["domains"].tolist()


def test_the_default_config_gives_every_sparse_domain_100_test_cases(tmp_path):
    """config/config.yaml's data through the workflow's steps (synthesize, prepare, sparsity):
    sparse domains exist, are sparse in training, and each has enough test cases to measure a lift."""
    config = ROOT / "config" / "config.yaml"
    threshold = load_config(config)["sparsity"]["sparse_share_threshold"]

    def step(*args):
        subprocess.run([sys.executable, "-m", "seqrec", *args, "--config", str(config)], check=True,
                       env={"PYTHONPATH": str(ROOT / "src")}, timeout=300, capture_output=True)

    raw, data, sparsity = tmp_path / "raw", tmp_path / "data", tmp_path / "sparsity"
    step("synthesize", "--out", str(raw))
    step("prepare", "--dataset", "synthetic", "--raw", str(raw), "--out", str(data))
    step("sparsity", "--dataset", "synthetic", "--interactions", str(data / "interactions.parquet"),
         "--items", str(data / "items.parquet"), "--domains", str(sparsity / "domains.parquet"),
         "--table", str(sparsity / "domains.csv"), "--power-users", str(sparsity / "power_users.parquet"))
    domains = pd.read_parquet(sparsity / "domains.parquet").set_index("domain")
    interactions = pd.read_parquet(data / "interactions.parquet")
    items = pd.read_parquet(data / "items.parquet")
    test = interactions[interactions["split"] == "test"].merge(items, on="item")
    cases = test["domains"].explode().value_counts()

    sparse = domains.index[domains["is_sparse"]]
    assert len(sparse) >= 3, f"the default has only {len(sparse)} sparse domain(s)"
    assert len(sparse) < len(domains) and domains["share"].max() > 10 * threshold  # and dense ones
    few = {d: int(cases.get(d, 0)) for d in sparse if cases.get(d, 0) < 100}
    assert not few, f"sparse domains with fewer than 100 test cases: {few}"

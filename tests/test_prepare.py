"""The prepare step on a small synthetic raw folder."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqrec.datasets import synthetic
from seqrec.io import InputError, read_parquet
from seqrec.prepare import prepare

SRC = Path(__file__).resolve().parents[1] / "src"
PARAMS = dict(n_users=200, n_items=150, n_interactions=6_000, seed=5)


@pytest.fixture
def raw_dir(tmp_path):
    raw = tmp_path / "raw"
    synthetic.write_raw(raw, **PARAMS)
    return raw


def test_prepare_writes_consistent_tables(raw_dir, tmp_path):
    out = tmp_path / "data"
    info = prepare("synthetic", raw_dir, out, k_core=5)
    interactions = read_parquet(out / "interactions.parquet")
    items = read_parquet(out / "items.parquet")
    assert info == json.loads((out / "dataset.json").read_text())

    assert list(interactions.columns) == ["user", "item", "timestamp", "split"]
    assert sorted(interactions["user"].unique()) == list(range(info["n_users"]))
    assert sorted(interactions["item"].unique()) == list(range(1, info["n_items"] + 1))
    assert items["item"].tolist() == list(range(1, info["n_items"] + 1))
    assert info["n_interactions"] == len(interactions)
    assert info["density"] == pytest.approx(len(interactions) / (info["n_users"] * info["n_items"]))

    order = np.lexsort((interactions["timestamp"], interactions["user"]))
    assert (order == np.arange(len(interactions))).all()
    tail = interactions.groupby("user")["split"].agg(lambda s: list(s)[-2:])
    assert tail.map(lambda s: s == ["valid", "test"]).all()
    assert (interactions.groupby("user")["split"].agg(lambda s: (s != "train").sum()) == 2).all()
    assert set(interactions["split"]) == {"train", "valid", "test"}

    assert items["domains"].map(len).min() >= 1
    assert info["domains"] == sorted(set(items["domains"].explode()))
    assert info["n_domains"] == len(info["domains"])
    raw = synthetic.load_raw(raw_dir)
    raw_interactions, raw_items = raw.interactions, raw.items
    filters = info["filters"]
    assert filters["k_core"] == 5
    assert filters["users_removed"] == PARAMS["n_users"] - info["n_users"]
    assert filters["interactions_removed"] == len(raw_interactions) - len(interactions)
    assert filters["items_removed"] == raw_interactions["item"].nunique() - info["n_items"]
    assert set(info["sources"]) == set(synthetic.RAW_FILES)
    assert all(len(digest) == 64 for digest in info["sources"].values())

    # Re-indexing keeps each item's metadata.
    titles = dict(zip(raw_items["item"].astype(str), raw_items["title"]))
    assert (items["title"] == items["raw_id"].map(titles)).all()


def test_truncated_raw_file_names_the_file(raw_dir, tmp_path):
    path = raw_dir / "interactions.parquet"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="interactions.parquet"):
        prepare("synthetic", raw_dir, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_everything_filtered_out(raw_dir, tmp_path):
    with pytest.raises(ValueError, match="smaller prepare.k_core"):
        prepare("synthetic", raw_dir, tmp_path / "data", k_core=10_000)


def test_unknown_dataset_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="valid datasets are:.*synthetic"):
        prepare("nonexistent", tmp_path, tmp_path / "data")


def test_items_missing_from_the_metadata_are_counted_and_warned_about(raw_dir, tmp_path):
    # Drop the metadata of ten items, as a release whose item file lacks some rated items.
    items_path = raw_dir / "items.parquet"
    items = read_parquet(items_path)
    rated = read_parquet(raw_dir / "interactions.parquet")["item"].value_counts()
    dropped = set(rated.index[:10])  # among the most rated: they survive the k-core filter
    items.loc[~items["item"].isin(dropped)].to_parquet(items_path)

    out = tmp_path / "data"
    # The way the workflow's rule runs it, stdout and stderr going to the prepare log.
    run = subprocess.run([sys.executable, "-m", "seqrec", "prepare", "--dataset", "synthetic",
                          "--raw", str(raw_dir), "--out", str(out)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert run.returncode == 0, run.stderr
    info = json.loads((out / "dataset.json").read_text())
    assert info["items_without_metadata"] == 10
    log = run.stdout + run.stderr
    assert re.search(rf"warning: 10 of {info['n_items']} items are missing from {re.escape(str(items_path))}", log)
    catalogue = read_parquet(out / "items.parquet")
    missing = catalogue.loc[catalogue["raw_id"].isin({str(i) for i in dropped})]
    assert len(missing) == 10 and missing["domains"].map(lambda d: list(d) == ["other"]).all()


def test_complete_metadata_warns_nothing(raw_dir, tmp_path, capsys):
    info = prepare("synthetic", raw_dir, tmp_path / "data", k_core=5)
    assert info["items_without_metadata"] == 0
    assert "warning" not in capsys.readouterr().err

"""The results layout spells every artifact's path once, for rules, steps and notebooks."""

from pathlib import Path

import pytest

from seqrec.layout import RESULTS, Layout, wildcards_of


def test_paths_fill_the_given_wildcards_and_keep_the_others_for_rules():
    layout = Layout()
    assert layout.path("model", dataset="movielens-1m", method="sigma+dynamic", seed=2) == \
        Path("results/movielens-1m/runs/sigma+dynamic/seed2/model.pt")
    assert layout.pattern("model") == "results/{dataset}/runs/{method}/seed{seed}/model.pt"
    assert layout.path("per_case", dataset="synthetic") == Path("results/synthetic/eval/{method}/seed{seed}/per_case.parquet")
    assert layout.path("raw_member", dataset="movielens-1m", member="ml-1m/ratings.dat") == \
        Path("resources/raw/movielens-1m/ml-1m/ratings.dat")


def test_expand_lists_every_combination_under_another_root(tmp_path):
    paths = Layout(results=tmp_path).expand("timing", dataset="synthetic", method=["generic", "dynamic"], seed=[1, 2])
    assert len(paths) == 4 and tmp_path / "synthetic/runs/dynamic/seed2/timing.json" in paths


def test_unknown_artifact_names_the_known_ones():
    with pytest.raises(KeyError, match="no artifact 'modle'.*model"):
        Layout().path("modle")


def test_every_run_artifact_sits_in_one_folder_per_run():
    # A run's files share one folder: the checkpoint beside model.pt is what a rerun resumes.
    run_files = ["model", "history", "timing", "weights", "checkpoint"]
    assert len({str(Path(RESULTS[name]).parent) for name in run_files}) == 1
    assert all(wildcards_of(RESULTS[name]) == ["dataset", "method", "seed"] for name in run_files)

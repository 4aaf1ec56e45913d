"""The results layout spells every artifact's path once, for rules, steps and notebooks."""

from pathlib import Path

import pytest

from seqrec.layout import RESULTS, Layout, split_artifact, wildcards_of


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


def test_wildcards_read_a_path_back():
    layout = Layout()
    path = layout.path("per_case", dataset="movielens-1m", method="sigma+dynamic", seed=12)
    assert layout.wildcards("per_case", path) == {"dataset": "movielens-1m", "method": "sigma+dynamic", "seed": "12"}
    assert layout.wildcards("per_case", f"./{path}") == layout.wildcards("per_case", path)
    assert Layout(results=Path("/tmp/r")).wildcards("notebook", "/tmp/r/notebooks/claims.ipynb") == {"name": "claims"}


@pytest.mark.parametrize("path", [
    "results/synthetic/eval/dynamic/per_case.parquet",  # no seed folder
    "results/synthetic/eval/dynamic/seedone/per_case.parquet",  # a seed is a number
    "results/synthetic/eval/a/b/seed1/per_case.parquet",  # a wildcard is one folder
    "elsewhere/synthetic/eval/dynamic/seed1/per_case.parquet",  # another results root
    "results/synthetic/eval/dynamic/seed1/metrics.parquet",
])
def test_wildcards_of_a_path_outside_the_layout_name_it_and_the_pattern(path):
    with pytest.raises(ValueError) as error:
        Layout().wildcards("per_case", path)
    assert str(error.value) == f"{path}: not a path of the results layout's 'per_case', " \
                               "results/{dataset}/eval/{method}/seed{seed}/per_case.parquet"


def test_the_validation_split_has_a_twin_of_every_evaluation_and_table_artifact():
    layout = Layout()
    tests = ["per_case", "metrics", "metrics_table", "metrics_tex", "lift_table", "lift_tex",
             "ablation_metrics_table", "ablation_metrics_tex", "ablation_lift_table", "ablation_lift_tex"]
    for name in tests:
        assert split_artifact(name, "test") == name
        twin = layout.path(split_artifact(name, "valid"), dataset="synthetic")
        original = layout.path(name, dataset="synthetic")
        assert twin.parent == original.parent and twin.name == f"valid_{original.name}"
    assert split_artifact("per_case", "valid") == "valid_per_case"  # the name other steps read it by
    with pytest.raises(KeyError, match="'model' has no valid twin"):
        split_artifact("model", "valid")
    with pytest.raises(ValueError, match="no split 'train'"):
        split_artifact("per_case", "train")

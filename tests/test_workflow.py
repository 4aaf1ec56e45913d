"""The whole Snakemake workflow on a tiny config, up to the rendered HTML, plus lint and bad input."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from seqrec.config import load_schema

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
NOTEBOOKS = [p.stem for p in (ROOT / "notebooks").glob("*.ipynb")]


def snakemake(workdir, *args, check=True, configfile=TINY):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               *(["--configfile", str(configfile)] if configfile else []), *args]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def planned_jobs(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M) if name != "total"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.mark.slow
def test_workflow_renders_the_results_notebook(finished_run):
    notebook = nbformat.read(finished_run / "results" / "notebooks" / "results.ipynb", as_version=4)
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    html = (finished_run / "results" / "notebooks" / "results.html").read_text()
    assert "<table" in html and "Crime" in html  # the per-domain table names the sparse domain
    assert "data:image/png;base64" in html  # the lift-vs-share figure is embedded
    for name in ("metrics.csv", "metrics.tex", "lift.csv", "lift.tex"):
        assert (finished_run / "results" / "tables" / "synthetic" / name).stat().st_size > 0
    figure = finished_run / "results" / "figures" / "results" / "synthetic_lift_vs_share.png"
    assert figure.stat().st_size > 10_000


@pytest.mark.slow
def test_workflow_runs_the_ablations(finished_run):
    lift = pd.read_csv(finished_run / "results" / "synthetic" / "ablations" / "tables" / "lift.csv")
    assert set(lift["method"]) == {"no_ema", "fixed_4", "fixed_2"} and set(lift["reference"]) == {"generic"}
    # fixed_2 repeats the main fixed weight: the fixed model's runs serve it, listed under its name
    assert not (finished_run / "results" / "synthetic" / "runs" / "fixed_2").exists()
    metrics = pd.read_csv(finished_run / "results" / "synthetic" / "ablations" / "tables" / "metrics.csv")
    overall = metrics.query("method == 'fixed_2' and scope == 'overall' and metric == 'ndcg' and k == 10")
    fixed_seed1 = pd.read_parquet(finished_run / "results" / "synthetic" / "eval" / "fixed" / "seed1" / "per_case.parquet")
    assert overall["mean"].item() == pytest.approx(fixed_seed1["ndcg@10"].mean())
    html = (finished_run / "results" / "notebooks" / "ablations.html").read_text()
    assert "no_ema" in html and "data:image/png;base64" in html
    assert "validation (" in html and "test (" in html  # the splits side by side, with their case counts
    assert "the rule chooses" in html or "the rule keeps" in html  # the rule's choice, beside the weighting in use


@pytest.mark.slow
def test_workflow_renders_the_datasets_notebook(finished_run):
    html = (finished_run / "results" / "notebooks" / "datasets.html").read_text()
    assert "<table" in html and "data:image/png;base64" in html
    assert (finished_run / "results" / "tables" / "datasets.csv").stat().st_size > 0  # a report table
    assert (finished_run / "results" / "figures" / "datasets" / "synthetic_domain_long_tail.png").stat().st_size > 10_000


@pytest.mark.slow
def test_forcerun_evaluate_reruns_only_evaluation_and_what_follows(finished_run):
    result = snakemake(finished_run, "--cores", "2", "-n", "--forcerun", "evaluate")
    # evaluate (methods and ablation variants) -> aggregate (main and ablations, whose reference is the
    # generic run; test and validation split) -> report tables -> notebooks; nothing upstream (data,
    # sparsity, training) and not the datasets notebook.
    jobs = planned_jobs(result.stdout)
    assert jobs.pop("evaluate") == 8 * 2 + 2  # 8 methods x 2 seeds, 2 variants x 1 ablation seed
    for aggregate in ("aggregate", "aggregate_valid", "aggregate_ablations", "aggregate_ablations_valid"):
        assert jobs.pop(aggregate) == 1, aggregate  # the tables of the test split and their validation twins
    assert set(jobs) == {"report", "notebook", "all"} and 0 < jobs["notebook"] < len(NOTEBOOKS)
    assert "output: results/notebooks/datasets.ipynb" not in result.stdout


@pytest.mark.slow
def test_a_run_scores_the_validation_split_into_the_same_tables(tmp_path):
    small = yaml.safe_load(TINY.read_text())
    small.update(methods=["generic", "dynamic"], seeds=[1])
    small["ablations"]["variants"] = {"no_ema": small["ablations"]["variants"]["no_ema"]}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(small))
    tables = ["tables/synthetic/lift.csv", "tables/synthetic/valid_lift.csv",
              "synthetic/ablations/tables/valid_lift.csv"]
    snakemake(tmp_path, "--cores", "2", *[f"results/{table}" for table in tables], configfile=tmp_path / "small.yaml")
    results = tmp_path / "results"
    interactions = pd.read_parquet(results / "synthetic" / "data" / "interactions.parquet")
    valid_items = interactions.loc[interactions["split"] == "valid"].set_index("user")["item"]
    for run in ("generic", "dynamic", "no_ema"):
        folder = results / "synthetic" / "eval" / run / "seed1"
        test, valid = pd.read_parquet(folder / "per_case.parquet"), pd.read_parquet(folder / "valid_per_case.parquet")
        assert list(valid.columns) == list(test.columns)
        assert (valid["item"].to_numpy() == valid_items.reindex(valid["user"]).to_numpy()).all()
        assert list(pd.read_parquet(folder / "valid_metrics.parquet").columns) == \
            list(pd.read_parquet(folder / "metrics.parquet").columns)
    test_lift, valid_lift, ablation_lift = (pd.read_csv(results / table) for table in tables)
    assert list(valid_lift.columns) == list(test_lift.columns) and set(valid_lift["method"]) == {"dynamic"}
    overall = valid_lift.query("scope == 'overall'")["n_cases"]
    assert set(overall) == {len(valid_items)}
    assert not np.allclose(valid_lift["value"], test_lift["value"])  # the validation cases, not the test ones
    assert set(ablation_lift["method"]) == {"no_ema"}
    for name in ("valid_metrics.tex", "valid_lift.tex"):
        assert "validation split" in (results / "tables" / "synthetic" / name).read_text()


@pytest.mark.slow
def test_report_holds_every_notebook_figure(finished_run):
    snakemake(finished_run, "--report", "results/report.html")
    report = (finished_run / "results" / "report.html").read_text()
    for figure in (finished_run / "results" / "figures").glob("*/*.png"):
        assert figure.name in report


@pytest.mark.slow
def test_nothing_to_do_after_a_finished_run(finished_run):
    result = snakemake(finished_run, "--cores", "2", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint", check=False)
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize("override, message", [
    ("datasets=['netflix']", "'netflix' at datasets.0 is not a valid choice; valid ones are: synthetic"),
    ("methods=['generic','magic']", "'magic' at methods.1 is not a valid choice"),
    ("seeds=[]", "seeds: [] should be non-empty"),
    ("trian={}", "unknown key(s) trian at top level; valid keys are:"),
])
def test_bad_config_stops_the_run_with_a_clear_message(tmp_path, override, message):
    result = snakemake(tmp_path, "-n", "--config", override, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_the_readme_seeds_override_is_accepted(tmp_path):
    result = snakemake(tmp_path, "-n", "--config", "seeds=[1]")
    assert planned_jobs(result.stdout)["train"] == 8 + 2  # tiny.yaml's 8 methods, one seed; 2 of its 3 ablation variants (fixed_2 is fixed)


@pytest.fixture
def workdir_with_default_config(tmp_path):
    """A working directory holding config/config.yaml, as the repository does."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    return tmp_path


def test_a_given_config_file_is_not_layered_on_the_default(workdir_with_default_config):
    mine = workdir_with_default_config / "mine.yaml"
    mine.write_text("methods: [generic]\nseeds: [5]\nablations: {seeds: [5]}\ntrain:\n  lr: 1e-3\n")  # YAML 1.1 reads 1e-3 as a string
    result = snakemake(workdir_with_default_config, "-n", "-p", configfile=mine)
    jobs = planned_jobs(result.stdout)
    variants = load_schema()["properties"]["ablations"]["properties"]["variants"]["default"]
    # config/config.yaml's two seeds, seven methods and three ablation variants are not used:
    # one generic training, one per default variant
    assert jobs["train"] == 1 + len(variants)
    assert '"lr": 0.001' in result.stdout and '"max_epochs": 30' in result.stdout  # mine.yaml + schema defaults


def test_a_variant_that_repeats_a_method_is_not_trained_again(workdir_with_default_config):
    mine = workdir_with_default_config / "mine.yaml"
    mine.write_text("methods: [generic, fixed, dynamic]\nseeds: [1]\nablations: {seeds: [1]}\n")
    jobs = planned_jobs(snakemake(workdir_with_default_config, "-n", configfile=mine).stdout)
    variants = load_schema()["properties"]["ablations"]["properties"]["variants"]["default"]
    # log_inverse_frequency is the main dynamic weighting and fixed_2 the main fixed weight: the methods' runs
    assert jobs["train"] == 3 + len(variants) - 2 and jobs["evaluate"] == 3 + len(variants) - 2


def test_without_a_config_file_the_default_config_is_used(workdir_with_default_config):
    jobs = planned_jobs(snakemake(workdir_with_default_config, "-n", configfile=None).stdout)
    assert jobs["train"] == 7 * 2 + 3  # seven methods x two seeds, three ablation variants x one seed

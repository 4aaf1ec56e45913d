"""The sparsity, convergence and overhead tables of the report and their notebooks, on a small fake
results folder.

`alpha` has everything the workflow writes for 3 methods x 2 seeds x 3 epochs; `beta` has only its
domain table and one generic run, for a run without a dynamic method.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqrec.config import validate_config
from seqrec.io import write_csv, write_json, write_parquet, write_text
from seqrec.layout import Layout
from seqrec.report import Run
from seqrec.report.tables import write


DOMAINS = ["Drama", "Comedy", "Horror", "Sci-Fi & Fantasy", "Film-Noir"]
SHARES = np.array([0.5, 0.3, 0.15, 0.02, 0.01])  # the last two are sparse (below 0.03)
INITIAL = np.array([0.5, 0.7, 1.0, 2.6, 3.7])  # dynamic weights before training
METHODS, SEEDS, EPOCHS = ("generic", "fixed", "dynamic"), (1, 2), (1, 2, 3)
# Validation NDCG@10 per epoch, chosen so that the best epochs differ between seeds.
NDCG = {
    ("generic", 1): [0.10, 0.12, 0.11], ("generic", 2): [0.09, 0.10, 0.13],
    ("fixed", 1): [0.11, 0.13, 0.12], ("fixed", 2): [0.10, 0.14, 0.14],
    ("dynamic", 1): [0.12, 0.15, 0.16], ("dynamic", 2): [0.11, 0.13, 0.17],
    ("sigma", 1): [0.05, 0.07, 0.08], ("sigma+dynamic", 1): [0.05, 0.08, 0.09],  # the overhead test only
}
NDCG |= {("sigma", 2): NDCG["sigma", 1], ("sigma+dynamic", 2): NDCG["sigma+dynamic", 1]}
SECONDS_PER_EPOCH = {("generic", 1): 2.0, ("generic", 2): 2.2, ("fixed", 1): 2.04, ("fixed", 2): 2.2,
                     ("dynamic", 1): 2.02, ("dynamic", 2): 2.2, ("sigma", 1): 13.0, ("sigma+dynamic", 1): 13.13,
                     ("sigma", 2): 13.0, ("sigma+dynamic", 2): 13.13}
WEIGHTING_SHARE = {("generic", 1): 0.0004, ("generic", 2): 0.0006, ("fixed", 1): 0.001, ("fixed", 2): 0.0012,
                   ("dynamic", 1): 0.004, ("dynamic", 2): 0.006, ("sigma", 1): 0.0001, ("sigma+dynamic", 1): 0.002,
                   ("sigma", 2): 0.0001, ("sigma+dynamic", 2): 0.002}
MAX_RSS = {"train": 1200.0, "evaluate": 800.0}


def domain_weights(method: str, seed: int, epoch: int) -> np.ndarray:
    if method == "generic":
        return np.ones(len(DOMAINS))
    if method == "fixed":
        return np.where(SHARES < 0.03, 2.0, 1.0)
    return INITIAL * (1 + 0.01 * seed * epoch)  # drifts a little with every epoch


def write_domains(results: Path, dataset: str) -> None:
    interactions = (SHARES * 10_000).astype(np.int64)
    items = np.array([40, 30, 20, 6, 4])
    write_parquet(pd.DataFrame({
        "domain": DOMAINS, "interactions": interactions, "items": items, "users": items * 9,
        "entropy": np.log(items.astype(float)), "share": SHARES, "user_ratio": items * 9 / 400,
        "effective_item_ratio": items / 100, "inverse_frequency": 1 / SHARES, "is_sparse": SHARES < 0.03,
        "fixed_target": SHARES < 0.03, "weight_generic": 1.0, "weight_fixed": np.where(SHARES < 0.03, 2.0, 1.0),
        "weight_dynamic": INITIAL,
    }), results / dataset / "sparsity" / "domains.parquet")


def write_run(results: Path, dataset: str, method: str, seed: int) -> None:
    run = results / dataset / "runs" / method / f"seed{seed}"
    per_epoch, share = SECONDS_PER_EPOCH[method, seed], WEIGHTING_SHARE[method, seed]
    ndcg = NDCG[method, seed]
    write_csv(pd.DataFrame({
        "epoch": list(EPOCHS), "train_loss": [5.0 - 0.2 * e - 0.01 * seed for e in EPOCHS],
        "valid_ndcg@10": ndcg, "valid_recall@10": [2 * v for v in ndcg],
        "train_seconds": per_epoch, "weighting_seconds": per_epoch * share, "epoch_seconds": per_epoch + 0.5,
    }), run / "history.csv")
    write_csv(pd.DataFrame([
        {"epoch": epoch, "domain": domain, "weight": weight}
        for epoch in (0, *EPOCHS) for domain, weight in zip(DOMAINS, domain_weights(method, seed, epoch))
    ]), run / "weights.csv")
    write_json({
        "device": "cpu", "threads": 2, "epochs": len(EPOCHS), "best_epoch": 1 + int(np.argmax(ndcg)),
        "wall_seconds": 3 * per_epoch + 5, "train_seconds": 3 * per_epoch, "seconds_per_epoch": per_epoch + 0.5,
        "weighting_seconds": 3 * per_epoch * share, "weighting_share_of_training": share, "resumed_after_epoch": 0,
    }, run / "timing.json")


def write_benchmarks(results: Path, dataset: str, method: str, seed: int) -> None:
    for step, rss in MAX_RSS.items():
        rss += 10 * seed
        write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                   f"{3.5 + seed:.2f}\t0:00:0{3 + seed}\t{rss:.2f}\t2143.47\t267.11\t333.78\t2.35\t0.29\t75.76\t2.47\n",
                   results / "benchmarks" / dataset / step / method / f"seed{seed}.tsv")


@pytest.fixture
def results(tmp_path) -> Path:
    results = tmp_path / "results"
    write_domains(results, "alpha")
    for method in METHODS:
        for seed in SEEDS:
            write_run(results, "alpha", method, seed)
            write_benchmarks(results, "alpha", method, seed)
    write_domains(results, "beta")
    write_run(results, "beta", "generic", 1)
    return results


def assert_files(folder: Path, names: list[str], suffixes: tuple[str, ...]) -> None:
    for name in names:
        for suffix in suffixes:
            path = folder / f"{name}.{suffix}"
            assert path.exists() and path.stat().st_size > (1000 if suffix in ("png", "pdf") else 0), path


def report(results: Path, datasets: list, methods: list, seeds: list, tables: list) -> Run:
    """The run of that config over the fake results, its report `tables` written as the workflow does."""
    config = validate_config({"methods": methods, "seeds": seeds, "sparsity": {"sparse_share_threshold": 0.03}})
    run = Run({**config, "datasets": datasets}, Layout(results=results))
    (results / "config.json").write_text(json.dumps(run.config))
    for name in tables:
        write(run, name, run.path("report_table", table=name), run.path("report_tex", table=name))
    return run


def show(run_notebook, run: Run, name: str) -> tuple[Path, str]:
    """Render notebook `name` as the workflow's notebook step does; its figures folder and markdown text."""
    figures = run.layout.results / "figures" / name
    outputs = run_notebook(name, {"config_path": str(run.layout.results / "config.json"),
                                  "results_dir": str(run.layout.results), "figures_dir": str(figures)})
    return figures, "\n".join(o.get("data", {}).get("text/markdown", "") for o in outputs)


SPARSITY_TABLES = ["domain_weights", "final_weights", "weight_trajectories"]


def test_sparsity_notebook(results, run_notebook):
    run = report(results, ["alpha"], list(METHODS), list(SEEDS), SPARSITY_TABLES)
    figures, text = show(run_notebook, run, "sparsity")
    assert_files(figures, ["alpha_weight_vs_share", "alpha_dynamic_weight_trajectories"], ("png", "pdf"))
    dynamic = run.config["sparsity"]["dynamic"]  # the run's bounds, not inferred from clipped weights
    assert f"bounded to [{dynamic['w_min']:g}, {dynamic['w_max']:g}]" in text

    table = run.table("domain_weights").set_index("domain")
    assert list(table.index) == DOMAINS  # densest first
    final = INITIAL * (1 + 0.01 * np.mean(SEEDS) * EPOCHS[-1])  # the last epoch's weight, mean over seeds
    np.testing.assert_allclose(table.loc[DOMAINS, "weight_dynamic_final"], final)
    np.testing.assert_allclose(table.loc[DOMAINS, "weight_dynamic_final_max"], INITIAL * 1.06)
    tex = run.path("report_tex", table="domain_weights").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert "Sci-Fi \\& Fantasy & 2.0\\%" in tex  # escaped domain name, share in percent
    trajectories = run.table("weight_trajectories")
    assert set(trajectories["epoch"]) == {0, *EPOCHS} and (trajectories["seeds"] == 2).all()
    assert set(run.table("final_weights")["seeds"]) == {2}


def test_sparsity_notebook_without_a_dynamic_method(results, run_notebook):
    run = report(results, ["beta"], ["generic"], [1], SPARSITY_TABLES)
    figures, text = show(run_notebook, run, "sparsity")
    assert_files(figures, ["beta_weight_vs_share"], ("png", "pdf"))
    assert not list(figures.glob("*trajectories*"))
    assert "No dynamic method in this run" in text
    assert "weight_dynamic_final" not in run.table("domain_weights").columns


def test_convergence_notebook(results, run_notebook):
    run = report(results, ["alpha"], list(METHODS), list(SEEDS), ["convergence"])
    figures, text = show(run_notebook, run, "convergence")
    assert_files(figures, ["convergence"], ("png", "pdf"))

    table = run.table("convergence").set_index(["dataset", "method"])
    assert list(table.index) == [("alpha", m) for m in METHODS]
    assert table.loc[("alpha", "generic"), "best_epochs"] == "seed 1: 2; seed 2: 3"
    assert table.loc[("alpha", "fixed"), "best_epochs"] == "seed 1: 2; seed 2: 2"  # a tie keeps the first epoch
    assert table.loc[("alpha", "dynamic"), "best_valid_ndcg@10_mean"] == pytest.approx(0.165)
    assert table.loc[("alpha", "dynamic"), "valid_recall@10_at_best_mean"] == pytest.approx(0.33)
    assert table.loc[("alpha", "dynamic"), "runs_best_at_last_epoch"] == 2
    assert "alpha, dynamic: the best epoch is the last one trained for 2 of 2 seeds" in text

    tex = run.path("report_tex", table="convergence").read_text()
    assert "\\toprule" in tex and "alpha & dynamic & 2 & 3 & 3.0 $\\pm$ 0.0 & 0.1650 $\\pm$ 0.0071" in tex


def test_convergence_reads_the_validation_cut_off_of_the_histories(results, run_notebook):
    for method in METHODS:  # histories validated at 20 instead of 10
        for seed in SEEDS:
            path = results / "alpha" / "runs" / method / f"seed{seed}" / "history.csv"
            history = pd.read_csv(path)
            history.columns = [c.replace("@10", "@20") for c in history.columns]
            write_csv(history, path)
    run = report(results, ["alpha"], list(METHODS), list(SEEDS), ["convergence"])
    show(run_notebook, run, "convergence")
    table = run.table("convergence").set_index(["dataset", "method"])
    assert table.loc[("alpha", "dynamic"), "best_valid_ndcg@20_mean"] == pytest.approx(0.165)
    assert "Valid NDCG@20" in run.path("report_tex", table="convergence").read_text()


SIGMA = ("sigma", "sigma+dynamic")


def test_overhead_notebook(results, run_notebook):
    for method in SIGMA:  # a weighted baseline is compared with its own architecture
        for seed in SEEDS:
            write_run(results, "alpha", method, seed)
            write_benchmarks(results, "alpha", method, seed)
    run = report(results, ["alpha"], [*METHODS, *SIGMA], list(SEEDS), ["training_time", "overhead", "benchmarks"])
    figures, text = show(run_notebook, run, "overhead")
    assert_files(figures, ["overhead", "benchmarks"], ("png", "pdf"))

    times = run.table("training_time").set_index(["dataset", "method"])
    for method in METHODS:
        written = [json.loads((results / "alpha" / "runs" / method / f"seed{s}" / "timing.json").read_text())
                   for s in SEEDS]
        assert times.loc[("alpha", method), "weighting_share_of_training_mean"] == pytest.approx(
            np.mean([t["weighting_share_of_training"] for t in written]))
    assert times.loc[("alpha", "dynamic"), "train_seconds_per_epoch_mean"] == pytest.approx(2.11)

    overhead = run.table("overhead").set_index(["dataset", "method"])
    # unweighted methods (generic, sigma) are references, not rows
    assert list(overhead.index) == [("alpha", "fixed"), ("alpha", "dynamic"), ("alpha", "sigma+dynamic")]
    weighted_sigma = overhead.loc[("alpha", "sigma+dynamic")]
    assert weighted_sigma["reference"] == "sigma" and weighted_sigma["paired_seeds"] == 2
    assert weighted_sigma["overhead_per_epoch_mean"] == pytest.approx(13.13 / 13.0 - 1)
    dynamic = overhead.loc[("alpha", "dynamic")]
    assert dynamic["overhead_per_epoch_mean"] == pytest.approx((2.02 / 2.0 - 1 + 2.2 / 2.2 - 1) / 2)
    assert (dynamic["overhead_per_epoch_min"], dynamic["overhead_per_epoch_max"]) == pytest.approx((0.0, 0.01))
    assert dynamic["weighting_share_mean"] == pytest.approx(0.005)
    assert dynamic["reference"] == "generic" and dynamic["reference_weighting_share_mean"] == pytest.approx(0.0005)
    assert "**alpha, dynamic**: the weighting took 0.50% of the training-loop time" in text
    assert "below the claimed 1.00%" in text

    benchmarks = run.table("benchmarks").set_index(["dataset", "step", "method"])
    assert benchmarks.loc[("alpha", "train", "dynamic"), "max_rss_mean"] == pytest.approx(1215.0)
    assert benchmarks.loc[("alpha", "evaluate", "generic"), "max_rss_max"] == pytest.approx(820.0)
    assert "\\midrule" in run.path("report_tex", table="benchmarks").read_text()

"""The per-domain results notebook on fake aggregated tables."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from conftest import write_per_case
from seqrec.config import validate_config
from seqrec.io import write_parquet
from seqrec.stats import TableFiles, aggregate

DOMAINS = ["Drama", "Comedy", "Horror", "Film-Noir", "Western"]
SHARES = [0.5, 0.3, 0.15, 0.01, 0.04]


def fake_results(results: Path, dataset: str, n_users: int = 300) -> None:
    """Per-case results of three methods over two seeds, aggregated, and a domain table."""
    rng = np.random.default_rng(0)
    targets = rng.choice(len(DOMAINS), n_users, p=SHARES)
    domains = [[DOMAINS[t]] for t in targets]
    power = [[DOMAINS[t]] if u % 7 == 0 else [] for u, t in enumerate(targets)]
    paths = {}
    for boost, method in enumerate(("generic", "fixed", "dynamic")):
        for seed in (1, 2):
            ranks = rng.geometric(1 / (40 - 10 * boost), n_users) - 1
            paths[(method, seed)] = write_per_case(results, dataset, method, seed, ranks, domains, power, rng)
    aggregate(dataset, paths, TableFiles.in_folder(results / "tables" / dataset), [5, 10], n_bootstrap=200)
    shares = np.array(SHARES)
    write_parquet(
        pd.DataFrame(
            {
                "domain": DOMAINS,
                "share": shares,
                "interactions": (shares * 10_000).astype(int),
                "is_sparse": shares < 0.05,
            }
        ),
        results / dataset / "sparsity" / "domains.parquet",
    )


def show(run_notebook, results: Path) -> list:
    """The notebook rendered for a run of generic, fixed and dynamic on `synthetic`."""
    config = validate_config({"methods": ["generic", "fixed", "dynamic"], "seeds": [1, 2], "evaluate": {"ks": [5, 10]}})
    (results / "config.json").write_text(json.dumps(config))
    return run_notebook("results", {"config_path": str(results / "config.json"), "results_dir": str(results),
                                    "figures_dir": str(results / "figures")})


def test_results_notebook_runs_on_fake_results(tmp_path, run_notebook):
    results = tmp_path / "results"
    fake_results(results, "synthetic")
    outputs = show(run_notebook, results)
    assert any("image/png" in o.get("data", {}) for o in outputs)
    for suffix in ("png", "pdf"):
        figure = results / "figures" / f"synthetic_lift_vs_share.{suffix}"
        assert figure.exists() and figure.stat().st_size > 1000


def test_results_notebook_shows_an_unbounded_interval(tmp_path, run_notebook):
    results = tmp_path / "results"
    fake_results(results, "synthetic")
    lift_csv = results / "tables" / "synthetic" / "lift.csv"
    lifts = pd.read_csv(lift_csv, keep_default_na=False, na_values=[""])
    # As the bootstrap writes it when generic scores 0 in some resample of the domain's users.
    row = (lifts["method"] == "dynamic") & (lifts["domain"] == "Film-Noir") & (lifts["metric"] == "ndcg") & (lifts["k"] == 10)
    lifts.loc[row, ["lift", "ci_low", "ci_high"]] = [0.12, -0.05, np.inf]
    lifts.to_csv(lift_csv, index=False)
    outputs = show(run_notebook, results)
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert ">+12.0%</span><br>" in html and ">[−5.0, +∞), p=" in html  # the lift, its interval below

"""The report's datasets table and the datasets notebook on fake prepared data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from seqrec.config import validate_config
from seqrec.io import write_json, write_parquet
from seqrec.layout import Layout
from seqrec.report import Run
from seqrec.report.tables import write


def fake_dataset(results: Path, dataset: str, n_domains: int, decay: float, files: dict[str, int]) -> None:
    """dataset.json and domains.parquet as the prepare and sparsity steps write them."""
    names = [f"Genre & {d:02d}" for d in range(n_domains - 1)] + ["other"]
    interactions = np.floor(20_000 * np.exp(-decay * np.arange(n_domains))).astype(np.int64)
    interactions[-1] = 0  # a domain without training interactions: left out of the log axes
    share = interactions / 40_000
    items = np.maximum(interactions // 50, 1)
    users = np.minimum(interactions // 5, 900)
    entropy = np.log(items.astype(float))
    sparse = share < 0.03
    with np.errstate(divide="ignore"):
        inverse = 1 / share
    write_parquet(
        pd.DataFrame({
            "domain": names, "interactions": interactions, "items": items, "users": users,
            "entropy": entropy, "share": share, "user_ratio": users / 900,
            "effective_item_ratio": np.exp(entropy) / items.sum(), "inverse_frequency": inverse,
            "is_sparse": sparse, "fixed_target": sparse, "weight_generic": 1.0,
            "weight_fixed": np.where(sparse, 2.0, 1.0), "weight_dynamic": np.clip(np.sqrt(inverse) / 4, 0.5, 5.0),
        }),
        results / dataset / "sparsity" / "domains.parquet",
    )
    write_json(
        {
            "dataset": dataset, "n_users": 900, "n_items": int(items.sum()), "n_interactions": 40_000,
            "density": 40_000 / (900 * int(items.sum())), "n_domains": n_domains, "domains": sorted(names),
            "filters": {"k_core": 5, "users_removed": 3, "items_removed": 20, "interactions_removed": 70},
            "sources": {name: "0" * 64 for name in files},
            "lines_read": files, "malformed_lines": {name: 1 for name in files},
        },
        results / dataset / "data" / "dataset.json",
    )


def test_datasets_notebook_runs_on_fake_results(tmp_path, run_notebook):
    results = tmp_path / "results"
    fake_dataset(results, "alpha", 8, 0.6, {"raw/ratings_v1.dat": 40_100, "raw/items.dat": 1_000})
    fake_dataset(results, "beta", 45, 0.15, {})  # generated data: no raw files
    run = Run({**validate_config({}), "datasets": ["alpha", "beta"]}, Layout(results=results))
    write(run, "datasets", run.path("report_table", table="datasets"), run.path("report_tex", table="datasets"))
    (results / "config.json").write_text(json.dumps(run.config))
    outputs = run_notebook("datasets", {"config_path": str(results / "config.json"), "results_dir": str(results),
                                        "figures_dir": str(results / "figures")})
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3
    assert "not plotted: other" in "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)

    table = pd.read_csv(results / "tables" / "datasets.csv")
    assert table["dataset"].tolist() == ["alpha", "beta"]
    alpha, beta = table.iloc[0], table.iloc[1]
    assert (alpha["lines_read"], alpha["malformed_lines"]) == (41_100, 2)
    assert alpha["lines_read_per_file"] == "raw/items.dat: 1000; raw/ratings_v1.dat: 40100"
    assert pd.isna(beta["lines_read"]) and pd.isna(beta["lines_read_per_file"])
    assert (alpha["domains"], beta["domains"]) == (8, 45)
    assert alpha["sparse_domains"] == 3 and alpha["k_core"] == 5

    tex = (results / "tables" / "datasets.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex
    body = tex.split("\\midrule")[1].split("\\bottomrule")[0]
    rows = [line for line in body.splitlines() if line.strip()]
    assert [row.split(" & ")[0] for row in rows] == ["alpha", "beta"]
    assert "ratings\\_v1.dat: 40,100" in body  # LaTeX-escaped file names

    figures = [f"{d}_domain_long_tail" for d in ("alpha", "beta")] + ["domain_share_rank"]
    for name in figures:
        for suffix in ("png", "pdf"):
            figure = results / "figures" / f"{name}.{suffix}"
            assert figure.exists() and figure.stat().st_size > 1000, figure

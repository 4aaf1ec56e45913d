"""The result notebooks main_results, robustness and power_users on a small fake results folder."""

import ast
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from conftest import write_per_case
from seqrec.io import write_parquet
from seqrec.stats import aggregate

REPO = Path(__file__).resolve().parents[1]
# Two sparse domains (share < 0.03): Film-Noir has power users, Musical has none.
DOMAINS = ["Drama", "Comedy", "Horror", "Western", "Musical", "Film-Noir"]
SHARES = [0.45, 0.25, 0.15, 0.09, 0.02, 0.04 / 3]
SPARSE = {"Musical", "Film-Noir"}


def fake_results(results: Path, dataset: str, methods: tuple, n_users: int = 360, power_file: bool = True) -> None:
    """Per-case results over two seeds, aggregated, plus domains.parquet and power_users.parquet.

    `dynamic` ranks every sparse-domain target 4 times higher than `generic` (a clear gain) and every
    Comedy target 3 times lower (a clear loss on a dense domain); `fixed` equals `generic` but on
    Film-Noir, where it gains a little.
    """
    rng = np.random.default_rng(len(dataset))
    probabilities = np.array([0.35, 0.2, 0.15, 0.1, 0.1, 0.1])
    targets = np.array(DOMAINS)[rng.choice(len(DOMAINS), n_users, p=probabilities)]
    power = [[t] if t == "Film-Noir" and u % 2 == 0 else ["Drama"] if u % 5 == 0 else []
             for u, t in enumerate(targets)]
    paths = {}
    for seed in (1, 2):
        generic = rng.geometric(1 / 25, n_users) - 1
        ranks = {
            "generic": generic,
            "fixed": np.where(targets == "Film-Noir", generic // 2, generic),
            "dynamic": np.where(np.isin(targets, list(SPARSE)), generic // 4,
                                np.where(targets == "Comedy", generic * 3 + 2, generic)),
        }
        for method in methods:
            paths[(method, seed)] = write_per_case(results, dataset, method, seed, ranks[method],
                                                   [[t] for t in targets], power, rng)
    aggregate(dataset, paths, results / "tables" / dataset, [5, 10], n_bootstrap=200)
    shares = np.array(SHARES)
    write_parquet(
        pd.DataFrame({
            "domain": DOMAINS, "share": shares, "interactions": (shares * 20_000).astype(np.int64),
            "items": 10, "users": 100, "is_sparse": np.isin(DOMAINS, list(SPARSE)),
            "fixed_target": np.isin(DOMAINS, list(SPARSE)),
        }),
        results / dataset / "sparsity" / "domains.parquet",
    )
    if power_file:
        pairs = [(u, d) for u, domains in enumerate(power) for d in domains]
        write_parquet(pd.DataFrame(pairs, columns=["user", "domain"]), results / dataset / "sparsity" / "power_users.parquet")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The fake results: `alpha` with all three methods, `beta` with only generic and no power_users.parquet."""
    results = tmp_path_factory.mktemp("results")
    fake_results(results, "alpha", ("generic", "fixed", "dynamic"))
    fake_results(results, "beta", ("generic",), power_file=False)
    return results


def markdown(outputs: list) -> str:
    return "\n".join(o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))


def assert_files(folder: Path, names: list) -> None:
    for name in names:
        path = folder / name
        assert path.exists() and path.stat().st_size > 200, path


def holm_function():
    """The notebook's `holm`, compiled on its own from the helpers cell."""
    notebook = nbformat.read(REPO / "notebooks" / "main_results.ipynb", as_version=4)
    helpers = next(c.source for c in notebook.cells if "remove_input" in c.metadata.get("tags", []))
    (function,) = [node for node in ast.parse(helpers).body if isinstance(node, ast.FunctionDef) and node.name == "holm"]
    namespace = {"np": np}
    exec(compile(ast.Module(body=[function], type_ignores=[]), "holm", "exec"), namespace)
    return namespace["holm"]


def test_holm_on_made_up_p_values():
    holm = holm_function()
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06.
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # 0.2 * 3 = 0.6, 0.6 * 2 = 1.2 -> 1 (capped), 0.9 * 1 -> running max 1.
    np.testing.assert_allclose(holm([0.6, 0.2, 0.9]), [1.0, 0.6, 1.0])
    adjusted = holm([0.02, np.nan, 0.01])  # NaN is neither counted nor adjusted
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.02])
    assert np.isnan(adjusted[1])
    assert holm([]).shape == (0,)
    np.testing.assert_allclose(holm([0.3]), [0.3])


def test_main_results(executed, run_notebook, tmp_path):
    figures, tables = tmp_path / "figures", tmp_path / "tables"
    outputs = run_notebook("main_results", {"results_dir": str(executed), "figures_dir": str(figures),
                                            "tables_dir": str(tables), "datasets": ["alpha", "beta"]})
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1  # beta has no lifts
    assert "no lift over generic" in markdown(outputs)
    assert_files(figures, ["alpha_lift_heatmap.png", "alpha_lift_heatmap.pdf"])
    assert not (figures / "beta_lift_heatmap.png").exists()
    assert_files(tables, ["alpha_main_results.csv", "alpha_main_results.tex", "beta_main_results.csv",
                          "beta_main_results.tex"])

    table = pd.read_csv(tables / "alpha_main_results.csv", keep_default_na=False, na_values=[""])
    assert table["group"].drop_duplicates().tolist() == ["sparse", "dense", "overall"]
    assert table["domain"].drop_duplicates().tolist() == ["Film-Noir", "Musical", "Western", "Horror",
                                                          "Comedy", "Drama", "all"]
    # Holm within each method and metric across the domains; the overall row is its own family.
    holm = holm_function()
    lifted = table.dropna(subset=["p_value"])
    for _, family in lifted.groupby(["method", "metric"]):
        domains = family.loc[family["group"] != "overall"]
        np.testing.assert_allclose(domains["p_holm"], holm(domains["p_value"]))
        overall = family.loc[family["group"] == "overall"]
        np.testing.assert_allclose(overall["p_holm"], overall["p_value"])
    assert (lifted["p_holm"] >= lifted["p_value"]).all()
    assert (lifted["significant"] == (lifted["p_holm"] < 0.05)).all()
    dynamic = table.set_index(["method", "metric", "domain"]).loc["dynamic"]
    assert dynamic.loc[("ndcg", "Film-Noir"), "significant"] and dynamic.loc[("ndcg", "Film-Noir"), "lift"] > 0.5
    assert dynamic.loc[("ndcg", "Comedy"), "significant"] and dynamic.loc[("ndcg", "Comedy"), "lift"] < 0
    # Exactly one bold (best) mean per row unless every method ties.
    best = table.groupby(["domain", "metric"])["best"].sum()
    assert best.between(0, 3).all() and best.loc[("Film-Noir", "ndcg")] == 1

    tex = (tables / "alpha_main_results.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\textbf{" in tex and "^{*}" in tex
    assert "Sparse domains" in tex and "Dense domains" in tex
    beta = (tables / "beta_main_results.tex").read_text()
    assert "\\toprule" in beta and "vs generic" not in beta


def test_robustness(executed, run_notebook, tmp_path):
    figures, tables = tmp_path / "figures", tmp_path / "tables"
    outputs = run_notebook("robustness", {"results_dir": str(executed), "figures_dir": str(figures),
                                          "tables_dir": str(tables)})
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    assert "beta: only generic evaluated" in markdown(outputs)
    assert_files(figures, ["lift_vs_share_all.png", "lift_vs_share_all.pdf"])
    assert_files(tables, ["robustness.csv", "robustness.tex"])

    summary = pd.read_csv(tables / "robustness.csv", keep_default_na=False, na_values=[""])
    assert set(summary["dataset"]) == {"alpha"}
    assert len(summary) == 4  # fixed and dynamic, recall and ndcg
    rows = summary.set_index(["method", "metric"])
    assert rows.loc[("dynamic", "ndcg"), "verdict"] == "worse"
    assert rows.loc[("dynamic", "ndcg"), "dense_worse"] == "Comedy"
    assert rows.loc[("dynamic", "ndcg"), "worst_dense_domain"] == "Comedy"
    assert rows.loc[("dynamic", "ndcg"), "mean_lift_sparse"] > 0 > rows.loc[("dynamic", "ndcg"), "mean_lift_dense"]
    assert rows.loc[("fixed", "ndcg"), "verdict"] == "maintained"
    assert (rows["n_sparse"] == 2).all() and (rows["n_dense"] == 4).all()


def test_power_users(executed, run_notebook, tmp_path):
    figures, tables = tmp_path / "figures", tmp_path / "tables"
    outputs = run_notebook("power_users", {"results_dir": str(executed), "figures_dir": str(figures),
                                           "tables_dir": str(tables), "methods": ["generic", "dynamic", "fixed"]})
    text = markdown(outputs)
    assert "No power users with a test case in: Musical" in text
    assert "power_users.parquet not found" in text  # beta
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    assert_files(figures, ["power_vs_domain_lift.png", "power_vs_domain_lift.pdf"])
    assert_files(tables, ["power_users.csv", "power_users.tex"])

    table = pd.read_csv(tables / "power_users.csv", keep_default_na=False, na_values=[""])
    alpha = table.loc[table["dataset"] == "alpha"]
    assert alpha["domain"].drop_duplicates().tolist() == ["Film-Noir", "Musical"]  # sparsest first
    noir = alpha.loc[alpha["domain"] == "Film-Noir"]
    assert noir["method"].drop_duplicates().tolist() == ["generic", "dynamic", "fixed"]
    film_noir_users = pd.read_parquet(executed / "alpha" / "sparsity" / "power_users.parquet")
    assert (noir["power_users"] == (film_noir_users["domain"] == "Film-Noir").sum()).all()
    assert noir.loc[noir["method"] == "dynamic", "lift"].gt(0).all()
    assert noir.loc[noir["method"] == "dynamic", "domain_lift"].gt(0).all()
    assert alpha.loc[alpha["domain"] == "Musical", "method"].isna().all()
    beta = table.loc[table["dataset"] == "beta"]
    assert beta["power_users"].isna().all() and beta["lift"].isna().all()
    assert "\\toprule" in (tables / "power_users.tex").read_text()

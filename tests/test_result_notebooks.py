"""The report's main_results, robustness and power_users tables, and their notebooks, on a small fake
results folder."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_per_case
from seqrec.config import validate_config
from seqrec.io import write_parquet
from seqrec.layout import Layout
from seqrec.report import Run, main_results, power_users, robustness
from seqrec.report import results as results_view
from seqrec.report.tables import write
from seqrec.stats import TableFiles, aggregate, holm

REPO = Path(__file__).resolve().parents[1]
# Two sparse domains (share < 0.03): Film-Noir has power users, Musical has none.
DOMAINS = ["Drama", "Comedy", "Horror", "Western", "Musical", "Film-Noir"]
SHARES = [0.45, 0.25, 0.15, 0.09, 0.02, 0.04 / 3]
SPARSE = {"Musical", "Film-Noir"}


def fake_results(results: Path, dataset: str, methods: tuple, n_users: int = 360) -> None:
    """Per-case results over two seeds, aggregated, plus domains.parquet and power_users.parquet.

    `dynamic` ranks every sparse-domain target 4 times higher than `generic` (a clear gain) and every
    Comedy target 3 times lower (a clear loss on a dense domain); `fixed` equals `generic` but on
    Film-Noir, where it gains a little; `pop`, the floor, ranks every target far lower.
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
            "pop": generic * 20 + 40,
        }
        for method in methods:
            paths[(method, seed)] = write_per_case(results, dataset, method, seed, ranks[method],
                                                   [[t] for t in targets], power, rng)
    aggregate(dataset, paths, TableFiles.in_folder(results / "tables" / dataset), [5, 10], n_bootstrap=200)
    shares = np.array(SHARES)
    write_parquet(
        pd.DataFrame({
            "domain": DOMAINS, "share": shares, "interactions": (shares * 20_000).astype(np.int64),
            "items": 10, "users": 100, "is_sparse": np.isin(DOMAINS, list(SPARSE)),
            "fixed_target": np.isin(DOMAINS, list(SPARSE)),
        }),
        results / dataset / "sparsity" / "domains.parquet",
    )
    pairs = [(u, d) for u, domains in enumerate(power) for d in domains]
    write_parquet(pd.DataFrame(pairs, columns=["user", "domain"]), results / dataset / "sparsity" / "power_users.parquet")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The fake results, their tables and config: `alpha` with all three methods, `beta` with only generic."""
    results = tmp_path_factory.mktemp("results")
    fake_results(results, "alpha", ("generic", "fixed", "dynamic"))
    fake_results(results, "beta", ("generic",))
    config = validate_config({"methods": ["generic", "dynamic", "fixed"], "seeds": [1, 2], "evaluate": {"ks": [5, 10]}})
    run = Run({**config, "datasets": ["alpha", "beta"]}, Layout(results=results))
    (results / "config.json").write_text(json.dumps(run.config))
    for name in ("main_results", "power_users", "robustness"):
        write(run, name, run.path("report_table", table=name), run.path("report_tex", table=name))
    return run


def show(run_notebook, run, name, figures):
    return run_notebook(name, {"config_path": str(run.layout.results / "config.json"),
                               "results_dir": str(run.layout.results), "figures_dir": str(figures)})


def markdown(outputs: list) -> str:
    return "\n".join(o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))


def assert_files(folder: Path, names: list) -> None:
    for name in names:
        path = folder / name
        assert path.exists() and path.stat().st_size > 200, path


def read(run, name):
    return pd.read_csv(run.path("report_table", table=name), keep_default_na=False, na_values=[""])


def test_main_results(run, run_notebook, tmp_path):
    figures = tmp_path / "figures"
    outputs = show(run_notebook, run, "main_results", figures)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1  # beta has no lifts
    assert "no lift over generic" in markdown(outputs)
    assert_files(figures, ["alpha_lift_heatmap.png", "alpha_lift_heatmap.pdf"])
    assert not (figures / "beta_lift_heatmap.png").exists()

    tables = read(run, "main_results")
    assert tables["dataset"].drop_duplicates().tolist() == ["alpha", "beta"]
    table = tables.loc[tables["dataset"] == "alpha"]
    assert table["group"].drop_duplicates().tolist() == ["sparse", "dense", "overall"]
    assert table["domain"].drop_duplicates().tolist() == ["Film-Noir", "Musical", "Western", "Horror",
                                                          "Comedy", "Drama", "all"]
    assert table["method"].drop_duplicates().tolist() == ["generic", "dynamic", "fixed"]  # the config's order
    # Holm within each method and metric across the domains; the overall row is its own family.
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

    tex = run.path("report_tex", table="main_results").read_text()
    alpha, beta = tex.split("\\end{table*}")[:2]
    assert "\\toprule" in alpha and "\\bottomrule" in alpha and "\\textbf{" in alpha and "^{*}" in alpha
    assert "Sparse domains" in alpha and "Dense domains" in alpha and "below 3\\%" in alpha
    assert "\\toprule" in beta and "vs generic" not in beta


def test_robustness(run, run_notebook, tmp_path):
    figures = tmp_path / "figures"
    outputs = show(run_notebook, run, "robustness", figures)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    assert "beta: only generic evaluated" in markdown(outputs)
    assert_files(figures, ["lift_vs_share_all.png", "lift_vs_share_all.pdf"])

    summary = read(run, "robustness")
    assert set(summary["dataset"]) == {"alpha"}
    assert len(summary) == 4  # fixed and dynamic, recall and ndcg
    rows = summary.set_index(["method", "metric"])
    assert rows.loc[("dynamic", "ndcg"), "verdict"] == "worse"
    assert rows.loc[("dynamic", "ndcg"), "dense_worse"] == "Comedy"
    assert rows.loc[("dynamic", "ndcg"), "worst_dense_domain"] == "Comedy"
    assert rows.loc[("dynamic", "ndcg"), "mean_lift_sparse"] > 0 > rows.loc[("dynamic", "ndcg"), "mean_lift_dense"]
    assert rows.loc[("fixed", "ndcg"), "verdict"] == "maintained"
    assert (rows["n_sparse"] == 2).all() and (rows["n_dense"] == 4).all()
    assert "\\toprule" in run.path("report_tex", table="robustness").read_text()


def test_lift_figures_leave_out_the_floor(tmp_path):
    """pop's lifts (near -100%) would set the scale of every lift figure and flatten the differences
    between the models compared; the figures leave it out, the tables keep it."""
    results = tmp_path / "results"
    fake_results(results, "alpha", ("generic", "pop", "fixed", "dynamic"))
    config = validate_config({"methods": ["generic", "pop", "fixed", "dynamic"], "seeds": [1, 2],
                              "evaluate": {"ks": [5, 10]}})
    run = Run({**config, "datasets": ["alpha"]}, Layout(results=results))
    for name in ("main_results", "power_users"):
        write(run, name, run.path("report_table", table=name), run.path("report_tex", table=name))
    main = run.table("main_results")
    lifts = 100 * main.dropna(subset=["lift"]).set_index("method")["lift"]
    assert lifts.loc["pop"].max() == -100  # the floor finds no target: far below the others
    assert lifts.drop("pop").min() > -80

    heatmap = main_results.heatmap(run, main)
    assert [t.get_text() for t in heatmap.axes[0].get_xticklabels()] == ["fixed", "dynamic"]
    colour_scale = min(lifts.drop("pop").abs().max(), 100.0)  # saturating at 100%
    assert heatmap.axes[0].images[0].norm.vmin == pytest.approx(-colour_scale)

    by_share = results_view.lift_figure(run, "alpha")
    labels = [t.get_text() for t in by_share.axes[0].get_legend().get_texts()]
    assert "pop" not in labels and {"fixed", "dynamic"} <= set(labels)
    assert by_share.axes[0].get_ylim()[0] > -100

    across = robustness.lift_share_figure(run, robustness.domain_lifts(main))
    labels = [t.get_text() for t in across.legends[0].get_texts()]
    assert "pop" not in labels and {"fixed", "dynamic"} <= set(labels)
    assert across.axes[0].get_ylim()[0] > -100

    power = run.table("power_users").dropna(subset=["lift", "domain_lift"])
    assert "pop" in set(power["method"])
    for_power_users = power_users.power_figure(run, power)
    labels = [t.get_text() for t in for_power_users.legends[0].get_texts()]
    assert "pop" not in labels and {"fixed", "dynamic"} <= set(labels)
    assert for_power_users.axes[0].get_xlim()[0] > -100
    assert power_users.power_figure(run, power.loc[power["method"] == "pop"]) is None

    only_the_floor = main.loc[main["method"].isin(["generic", "pop"])]
    assert main_results.heatmap(run, only_the_floor) is None
    assert robustness.lift_share_figure(run, robustness.domain_lifts(only_the_floor)) is None
    fake_results(results, "beta", ("generic", "pop"))
    assert results_view.lift_figure(run, "beta") is None


def test_power_users(run, run_notebook, tmp_path):
    figures = tmp_path / "figures"
    outputs = show(run_notebook, run, "power_users", figures)
    assert "No power users with a test case in: Musical" in markdown(outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    assert_files(figures, ["power_vs_domain_lift.png", "power_vs_domain_lift.pdf"])

    table = read(run, "power_users")
    alpha = table.loc[table["dataset"] == "alpha"]
    assert alpha["domain"].drop_duplicates().tolist() == ["Film-Noir", "Musical"]  # sparsest first
    noir = alpha.loc[alpha["domain"] == "Film-Noir"]
    assert noir["method"].drop_duplicates().tolist() == ["generic", "dynamic", "fixed"]
    film_noir_users = pd.read_parquet(run.path("power_users", dataset="alpha"))
    assert (noir["power_users"] == (film_noir_users["domain"] == "Film-Noir").sum()).all()
    assert noir.loc[noir["method"] == "dynamic", "lift"].gt(0).all()
    assert noir.loc[noir["method"] == "dynamic", "domain_lift"].gt(0).all()
    assert alpha.loc[alpha["domain"] == "Musical", "method"].isna().all()
    beta = table.loc[table["dataset"] == "beta"]
    assert beta["lift"].isna().all()
    assert "\\toprule" in run.path("report_tex", table="power_users").read_text()

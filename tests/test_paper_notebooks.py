"""The claims, qualitative and index notebooks on a small results folder made by the real steps.

Two datasets: `synthetic` with trained generic and dynamic models (two seeds each), evaluated and
aggregated, plus per-case results standing in for the SIGMA baseline; `bare` with only its data and
domain statistics and no power user, so that every "not measured" and "no such user" path runs.
"""

import json
import shutil

import pytest

from seqrec import claims
from seqrec.config import validate_config
from seqrec.layout import Layout
from seqrec.report import Run
from seqrec.report.tables import write
from seqrec.evaluate import EvalFiles, evaluate
from seqrec.io import read_parquet, write_parquet
from seqrec.metrics import case_metrics
from seqrec.stats import TableFiles, aggregate
from seqrec.train import RunFiles, train


@pytest.fixture(scope="module")
def paper_results(tiny_dataset, tmp_path_factory):
    config, data, sparsity = tiny_dataset
    results = tmp_path_factory.mktemp("paper") / "results"
    for dataset in ("synthetic", "bare"):
        shutil.copytree(data, results / dataset / "data")
        shutil.copytree(sparsity, results / dataset / "sparsity")
    power = read_parquet(results / "bare" / "sparsity" / "power_users.parquet")
    write_parquet(power.iloc[:0], results / "bare" / "sparsity" / "power_users.parquet")

    paths = {}
    for method in ("generic", "dynamic"):
        for seed in (2, 1):
            run = results / "synthetic" / "runs" / method / f"seed{seed}"
            out = results / "synthetic" / "eval" / method / f"seed{seed}"
            data, sparsity = results / "synthetic" / "data", results / "synthetic" / "sparsity"
            train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet",
                  RunFiles.in_folder(run), "synthetic", method, seed, config, threads=1)
            evaluate(data / "interactions.parquet", data / "items.parquet", sparsity / "power_users.parquet",
                     run / "model.pt", EvalFiles.in_folder(out), config, threads=1)
            paths[(method, seed)] = out / "per_case.parquet"
    for seed in (1, 2):  # a stand-in for SIGMA: the generic model's cases, ranked ten times better
        cases = read_parquet(paths[("generic", seed)])
        ranks = cases["rank"].to_numpy() // 10
        cases = cases.assign(rank=ranks, **case_metrics(ranks, config["evaluate"]["ks"]))
        paths[("sigma", seed)] = results / "synthetic" / "eval" / "sigma" / f"seed{seed}" / "per_case.parquet"
        write_parquet(cases, paths[("sigma", seed)])
    aggregate("synthetic", paths, TableFiles.in_folder(results / "tables" / "synthetic"), [10], n_bootstrap=100)
    (results / "notebooks").mkdir()
    (results / "notebooks" / "datasets.html").write_text("<html></html>")  # as if rendered
    return results


def nonempty(path):
    return path.exists() and path.stat().st_size > 0


def report(results, tables, datasets=("synthetic",), methods=("generic", "dynamic", "sigma")):
    """The run of generic, dynamic and the SIGMA stand-in, its report `tables` written."""
    config = validate_config({"methods": list(methods), "seeds": [1, 2],
                              "aggregate": {"n_bootstrap": 100}})
    run = Run({**config, "datasets": list(datasets)}, Layout(results=results))
    (results / "config.json").write_text(json.dumps(run.config))
    for name in tables:
        write(run, name, run.path("report_table", table=name), run.path("report_tex", table=name))
    return run


def show(run_notebook, run, name):
    return run_notebook(name, {"config_path": str(run.layout.results / "config.json"),
                               "results_dir": str(run.layout.results),
                               "figures_dir": str(run.layout.results / "figures" / name)})


def test_claims_notebook(paper_results, run_notebook):
    run = report(paper_results, ["claims"])
    outputs = show(run_notebook, run, "claims")
    table = run.table("claims").set_index(["dataset", "claim"])
    assert len(table) == len(claims.CLAIMS)
    assert set(table["verdict"]) <= set(claims.VERDICTS)
    synthetic = table.loc["synthetic"]
    assert synthetic.loc["c", "verdict"] != claims.NOT_MEASURED  # dense domains have lifts
    assert synthetic.loc["d", "verdict"] != claims.NOT_MEASURED  # timing.json of both seeds
    assert synthetic.loc["d", "seeds"] == "2 (1, 2)"
    # The stand-in is far better, but on fewer sparse-domain test cases than a verdict needs.
    assert synthetic.loc["e-sigma", "verdict"] == claims.INCONCLUSIVE
    assert synthetic.loc["e-sigma", "n_cases"] < claims.MIN_TEST_CASES
    assert "test cases in sparse domains" in synthetic.loc["e-sigma", "basis"]
    assert synthetic.loc["e-sigma", "measured"] < 0
    assert synthetic.loc["e-calrec", "verdict"] == claims.NOT_MEASURED
    assert synthetic.loc["a", "domain"] == "Crime"  # the sparsest domain of the synthetic data
    tex = run.path("report_tex", table="claims").read_text()
    assert "\\toprule" in tex and "$<$ 1\\%" in tex
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "not measured in this run" in html and "inconclusive" in html and "background-color" in html
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert f"at least {claims.MIN_TEST_CASES} test cases" in text  # the rules, from the constants
    assert f"**Weighting:** Every verdict judges dynamic trained with the dynamic weighting of the run's config " \
           f"(sparsity.dynamic): {claims.weighting(run.config['sparsity']['dynamic'])}." in text
    for suffix in ("png", "pdf"):
        assert nonempty(paper_results / "figures" / "claims" / f"claims_lifts.{suffix}")


def test_qualitative_notebook(paper_results, run_notebook):
    run = report(paper_results, ["qualitative", "qualitative_history", "qualitative_top"], ("synthetic", "bare"),
                 methods=("generic", "dynamic"))  # the stand-in for SIGMA has no model
    outputs = show(run_notebook, run, "qualitative")
    for name in ("qualitative_history", "qualitative_top"):
        assert nonempty(run.path("report_tex", table=name))
    history, top = run.table("qualitative_history"), run.table("qualitative_top")
    assert set(history["dataset"]) == set(top["dataset"]) == {"synthetic"}  # no power user in bare: said so
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "no user to show" in text

    assert list(top["method"].unique()) == ["generic", "dynamic"] and (top["seed"] == 1).all()
    assert top.groupby("method")["rank"].apply(list).map(lambda r: r == list(range(1, 11))).all()
    assert (top["target_rank"] == top["evaluated_rank"]).all()  # scored exactly as the evaluation
    user = int(top["user"].iloc[0])
    # The rule: a Crime power user whose test item is in Crime, the most training interactions in it.
    interactions = read_parquet(paper_results / "synthetic" / "data" / "interactions.parquet")
    items = read_parquet(paper_results / "synthetic" / "data" / "items.parquet")
    crime = set(items.loc[items["domains"].map(lambda ds: "Crime" in ds), "item"])
    power = read_parquet(paper_results / "synthetic" / "sparsity" / "power_users.parquet")
    candidates = set(power.loc[power["domain"] == "Crime", "user"])
    test = interactions.loc[(interactions["split"] == "test") & interactions["item"].isin(crime)]
    eligible = sorted(candidates & set(test["user"]))
    train_crime = interactions.loc[(interactions["split"] == "train") & interactions["item"].isin(crime)]
    counts = train_crime.groupby("user").size().reindex(eligible, fill_value=0)
    assert user == counts.idxmax()
    # The history never recommends itself: masked items are not in the lists.
    assert history["split"].iloc[-1] == "test" and history["target"].iloc[-1]
    seen = set(interactions.loc[(interactions["user"] == user) & (interactions["split"] != "test"), "item"])
    target = int(history["item"].iloc[-1])
    assert not (set(top["item"]) & (seen - {target}))


def test_index_notebook(paper_results, run_notebook):
    run = report(paper_results, ["claims", "notebooks"])
    outputs = show(run_notebook, run, "index")
    listing = run.table("notebooks")
    assert nonempty(run.path("report_tex", table="notebooks"))
    assert listing["name"].tolist()[:3] == ["datasets", "sparsity", "main_results"] and len(listing) == 11
    assert listing.set_index("name")["rendered"].to_dict()["datasets"]
    assert listing["rendered"].sum() == 1
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "[Datasets](datasets.html)" in text and "not rendered in this run" in text
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "+52.4%" in html  # the headline table

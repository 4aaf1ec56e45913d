"""The selection rule of docs/weighting.md on hand-built validation results whose outcome is known.

Every candidate's NDCG@10 is generic's times a constant per domain, so each lift (and each
bootstrap resample's lift) is that constant minus 1, and the rule's choice follows by construction.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqrec.config import validate_config
from seqrec.io import InputError, write_parquet
from seqrec.layout import Layout
from seqrec.report import Run, selection
from seqrec.report.selection import ALL, EVIDENCE, inputs, table

ROOT = Path(__file__).resolve().parents[1]
# Validation cases per domain of the target: "Rare" is sparse, "other" is neither sparse nor dense.
CASES = {"Dense": 10, "Dense2": 6, "Rare": 5, "other": 4}
SHARES = {"Dense": 0.6, "Dense2": 0.3, "Rare": 0.02, "other": 0.08}


def write_dataset(results: Path, dataset: str, runs: dict, shares: dict = SHARES) -> None:
    """The domain table and the per-case files of `runs`: (method, seed) -> multiplier per domain."""
    layout = Layout(results=results)
    domains = pd.DataFrame({"domain": list(shares), "share": list(shares.values())})
    write_parquet(domains.assign(is_sparse=domains["share"] < 0.03), layout.path("domains", dataset=dataset))
    targets = [d for d, n in CASES.items() for _ in range(n)]
    generic = 0.1 + 0.02 * np.arange(len(targets))  # varied per case: only the ratios are constant
    for (method, seed), factors in runs.items():
        ndcg = generic * np.array([factors.get(d, 1.0) for d in targets])
        frame = pd.DataFrame({"user": np.arange(len(targets)), "item": np.arange(len(targets)) + 1, "rank": 0,
                              "domains": [[d] for d in targets], "power_domains": [[] for _ in targets],
                              "recall@10": ndcg, "ndcg@10": ndcg})
        write_parquet(frame, layout.path(EVIDENCE, dataset=dataset, method=method, seed=seed))


def config(datasets, variants, methods=("generic", "dynamic"), seeds=(1, 2)):
    return validate_config({"datasets": list(datasets), "methods": list(methods), "seeds": list(seeds),
                            "evaluate": {"ks": [10]}, "aggregate": {"n_bootstrap": 200},
                            "ablations": {"seeds": [1], "variants": variants},
                            # the candidates' changes are from this, whatever the schema's default
                            "sparsity": {"dynamic": {"alpha": 0.5, "w_min": 0.5}}})


VARIANTS = {
    "greedy": {"method": "dynamic", "sparsity": {"dynamic": {"alpha": 1.0}}},
    "upweight": {"method": "dynamic", "sparsity": {"dynamic": {"w_min": 1.0}}},
    "fixed_2": {"method": "fixed", "sparsity": {"fixed": {"weight": 2.0}}},  # not a candidate
}


def rows(frame, dataset=ALL):
    return frame.loc[frame["dataset"] == dataset].set_index("candidate")


@pytest.fixture
def measured(tmp_path):
    # synthetic: dynamic +20% on Rare (seed 1 x1.1, seed 2 x1.3, pooled over seeds); greedy +100% but
    # Dense -10% (inadmissible); upweight +40%, Dense -1% (admissible: above -2%). Every candidate loses
    # half on "other", which is not a dense domain.
    other = {"other": 0.5}
    write_dataset(tmp_path, "synthetic", {
        ("generic", 1): {}, ("generic", 2): {}, ("fixed_2", 1): {"Dense": 0.5},
        ("dynamic", 1): {"Rare": 1.1, **other}, ("dynamic", 2): {"Rare": 1.3, **other},
        ("greedy", 1): {"Dense": 0.9, "Rare": 2.0, **other}, ("upweight", 1): {"Dense": 0.99, "Rare": 1.4, **other},
    })
    # movielens-100k: dynamic +10%, greedy +60%, upweight +20% with Dense2 -0.5%.
    write_dataset(tmp_path, "movielens-100k", {
        ("generic", 1): {}, ("generic", 2): {}, ("fixed_2", 1): {},
        ("dynamic", 1): {"Rare": 1.1}, ("dynamic", 2): {"Rare": 1.1},
        ("greedy", 1): {"Rare": 1.6}, ("upweight", 1): {"Dense2": 0.995, "Rare": 1.2},
    })
    return Run(config(["synthetic", "movielens-100k"], VARIANTS), Layout(results=tmp_path))


def test_the_best_admissible_score_is_chosen_not_the_best_score(measured):
    frame = table(measured)
    rule = rows(frame)
    assert list(rule.index) == ["dynamic", "greedy", "upweight"]  # fixed variants are no candidates
    # score: the mean over datasets of the pooled sparse lift; its interval is degenerate by construction
    assert rule["sparse_lift"].to_dict() == pytest.approx({"dynamic": 0.15, "greedy": 0.8, "upweight": 0.3})
    assert rule["sparse_ci_low"].to_numpy() == pytest.approx(rule["sparse_lift"].to_numpy())
    assert rule["sparse_ci_high"].to_numpy() == pytest.approx(rule["sparse_lift"].to_numpy())
    assert rule["admissible"].to_dict() == {"dynamic": True, "greedy": False, "upweight": True}
    assert rule.loc["greedy", ["worst_dense_dataset", "worst_dense_domain"]].tolist() == ["synthetic", "Dense"]
    assert rule.loc["greedy", "worst_dense_ci_high"] == pytest.approx(-0.1)
    assert rule.loc["upweight", "worst_dense_lift"] == pytest.approx(-0.01)
    assert frame.loc[frame["chosen"], "candidate"].unique().tolist() == ["upweight"]

    # the cases and seeds behind each number; the settings each candidate changes
    assert rule["sparse_cases"].tolist() == [10, 10, 10]
    assert rule.loc["greedy", "worst_dense_cases"] == CASES["Dense"]
    assert rule["n_seeds"].to_dict() == {"dynamic": 2, "greedy": 1, "upweight": 1}
    assert rule["seeds"].to_dict() == {"dynamic": "1 2", "greedy": "1", "upweight": "1"}
    assert rule["changes"].to_dict() == {"dynamic": "", "greedy": "dynamic.alpha=1.0", "upweight": "dynamic.w_min=1.0"}
    per_dataset = rows(frame, "movielens-100k")
    assert per_dataset["sparse_lift"].to_dict() == pytest.approx({"dynamic": 0.1, "greedy": 0.6, "upweight": 0.2})
    assert per_dataset.loc["upweight", "worst_dense_domain"] == "Dense2"
    assert per_dataset["admissible"].all()


def test_without_an_admissible_candidate_the_highest_worst_upper_bound_is_chosen(tmp_path):
    write_dataset(tmp_path, "synthetic", {
        ("generic", 1): {}, ("dynamic", 1): {"Dense": 0.8, "Rare": 1.5},
        ("greedy", 1): {"Dense": 0.97, "Rare": 1.1}, ("upweight", 1): {"Dense2": 0.9, "Rare": 2.0},
    })
    run = Run(config(["synthetic"], VARIANTS, seeds=[1]), Layout(results=tmp_path))
    rule = rows(table(run))
    assert not rule["admissible"].any()
    assert rule["worst_dense_ci_high"].to_dict() == pytest.approx({"dynamic": -0.2, "greedy": -0.03, "upweight": -0.1})
    assert rule.index[rule["chosen"]].tolist() == ["greedy"]


def test_a_further_dataset_can_only_lower_a_candidates_worst_upper_bound(tmp_path):
    # synthetic alone: none admissible, greedy's worst upper bound (-3%) the highest. movielens-100k
    # keeps greedy's dense domains (-1%) and costs upweight -30%: greedy stays the choice, each
    # candidate's key is its lowest over the datasets, and no dataset makes an excluded one admissible.
    write_dataset(tmp_path, "synthetic", {
        ("generic", 1): {}, ("dynamic", 1): {"Dense": 0.8, "Rare": 1.5},
        ("greedy", 1): {"Dense": 0.97, "Rare": 1.1}, ("upweight", 1): {"Dense2": 0.9, "Rare": 2.0},
    })
    write_dataset(tmp_path, "movielens-100k", {
        ("generic", 1): {}, ("dynamic", 1): {"Rare": 1.5},
        ("greedy", 1): {"Dense": 0.99, "Rare": 1.1}, ("upweight", 1): {"Dense": 0.7, "Rare": 2.0},
    })
    run = Run(config(["synthetic", "movielens-100k"], VARIANTS, seeds=[1]), Layout(results=tmp_path))
    frame = table(run)
    assert rows(frame, "movielens-100k")["admissible"].to_dict() == {"dynamic": True, "greedy": True, "upweight": False}
    rule = rows(frame)
    assert not rule["admissible"].any()
    assert rule["worst_dense_ci_high"].to_dict() == pytest.approx({"dynamic": -0.2, "greedy": -0.03, "upweight": -0.3})
    assert rule["worst_dense_dataset"].to_dict() == {"dynamic": "synthetic", "greedy": "synthetic", "upweight": "movielens-100k"}
    assert rule.index[rule["chosen"]].tolist() == ["greedy"]


@pytest.mark.parametrize("factor, chosen", [(1.2005, "dynamic"), (1.202, "close")])
def test_a_tie_within_a_tenth_of_a_point_goes_to_fewer_changed_settings(tmp_path, factor, chosen):
    variants = {"close": {"method": "dynamic", "sparsity": {"dynamic": {"normalise": "densest"}}},
                "same_as_default": {"method": "dynamic", "sparsity": {"dynamic": {"alpha": 0.5}}}}
    write_dataset(tmp_path, "synthetic", {("generic", 1): {}, ("dynamic", 1): {"Rare": 1.2},
                                         ("close", 1): {"Rare": factor}, ("same_as_default", 1): {"Rare": 1.1}})
    rule = rows(table(Run(config(["synthetic"], variants, seeds=[1]), Layout(results=tmp_path))))
    assert rule["n_changes"].to_dict() == {"dynamic": 0, "close": 1, "same_as_default": 0}
    assert rule.index[rule["chosen"]].tolist() == [chosen]


def test_the_verdict_says_how_the_runs_choice_relates_to_the_weighting_in_use(measured, tmp_path):
    # measured: upweight chosen (+30% [+30, +30], admissible) over the weighting in use (+15%)
    text = selection.verdict(table(measured))
    assert "chooses `upweight` (dynamic.w_min=1.0)" in text
    assert "admissible" in text and "2 datasets" in text and "seed 1" in text
    assert "`dynamic`, the weighting every table reports, scores +15.0% [+15.0, +15.0] (seeds 1, 2)" in text
    assert "apart" in text and "inconclusive" not in text  # degenerate intervals, disjoint
    assert "changes no setting" in text

    # none admissible: the fallback chose; the weighting in use kept when it is the choice
    write_dataset(tmp_path / "fallback", "synthetic", {
        ("generic", 1): {}, ("dynamic", 1): {"Dense": 0.97, "Rare": 1.5}, ("greedy", 1): {"Dense": 0.8, "Rare": 1.5},
        ("upweight", 1): {"Dense": 0.9, "Rare": 1.4},
    })
    kept = selection.verdict(table(Run(config(["synthetic"], VARIANTS, seeds=[1]), Layout(results=tmp_path / "fallback"))))
    assert "keeps `dynamic`" in kept and "no candidate is admissible" in kept and "1 dataset," in kept


def test_the_verdict_calls_overlapping_scores_inconclusive(tmp_path):
    # constant ratios make the rule's intervals degenerate; widen the weighting in use's to overlap the choice's
    write_dataset(tmp_path, "synthetic", {("generic", 1): {}, ("dynamic", 1): {"Rare": 1.2},
                                         ("upweight", 1): {"Rare": 1.21}})
    run = Run(config(["synthetic"], {"upweight": VARIANTS["upweight"]}, seeds=[1]), Layout(results=tmp_path))
    frame = table(run)
    frame.loc[frame["candidate"] == "dynamic", ["sparse_ci_low", "sparse_ci_high"]] = [0.05, 0.35]
    assert "inconclusive" in selection.verdict(frame)


def test_inputs_are_the_domains_and_the_candidates_and_generics_validation_results(measured):
    paths = {p.relative_to(measured.layout.results).as_posix() for p in inputs(measured)}
    name = Layout().path(EVIDENCE).name
    assert {f"synthetic/eval/{m}/seed{s}/{name}" for m, s in
            [("generic", 1), ("generic", 2), ("dynamic", 1), ("dynamic", 2), ("greedy", 1), ("upweight", 1)]} \
        == {p for p in paths if p.startswith("synthetic/eval/")}
    assert "movielens-100k/sparsity/domains.parquet" in paths


def test_no_candidate_is_one_clear_line(tmp_path):
    run = Run(config(["synthetic"], {}, methods=["generic", "fixed"]), Layout(results=tmp_path))
    with pytest.raises(InputError, match="no candidate; add `dynamic` to `methods`"):
        table(run)


def test_report_step_writes_the_selection_as_csv_and_tex(measured):
    results = measured.layout.results
    out = results / "tables" / "weighting_selection.csv"
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": ""}
    result = subprocess.run([sys.executable, "-m", "seqrec", "report", "--config", json.dumps(measured.config),
                             "--table", "weighting_selection", "--results", str(results), "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    written = measured.table("weighting_selection")
    assert written.loc[written["chosen"] & (written["dataset"] == ALL), "candidate"].tolist() == ["upweight"]
    shown = selection.shown(written)  # the notebook's view of the table
    assert shown.loc[("dynamic", ALL), "changes"] == "(default)" and shown.loc[("upweight", ALL), "chosen"] == "chosen"
    assert shown.loc[("greedy", ALL), "its lift"] == "−10.0% [−10.0, −10.0]"
    tex = out.with_suffix(".tex").read_text()
    assert "tab:weighting-selection" in tex and "upweight" in tex and "chosen" in tex


def test_the_measurement_config_makes_every_dynamic_variant_a_candidate_with_two_seeds():
    from seqrec.config import load_config, load_schema
    from seqrec.report.selection import candidates

    run = Run(load_config(ROOT / "config" / "selection.yaml"))
    defaults = load_schema()["properties"]["ablations"]["properties"]["variants"]["default"]
    dynamic = [name for name, variant in defaults.items() if variant["method"] == "dynamic"]
    assert [c.name for c in candidates(run)] == ["dynamic", *dynamic]
    assert {c.seeds for c in candidates(run)} == {(1, 2)}
    assert "densest_weighs_one" in dynamic
    assert run.config["ablations"]["variants"] == defaults  # the fixed-weight sweep is measured beside them


def test_the_catch_all_domain_is_not_a_sparse_domain_even_below_the_threshold(tmp_path):
    # "other" (items without metadata) below the threshold: its cases, where dynamic loses half,
    # must not enter the sparse-domain score, which is then Rare's +20% alone.
    write_dataset(tmp_path, "synthetic", {
        ("generic", 1): {}, ("generic", 2): {},
        ("dynamic", 1): {"Rare": 1.2, "other": 0.5}, ("dynamic", 2): {"Rare": 1.2, "other": 0.5},
    }, shares={**SHARES, "other": 0.01})
    frame = table(Run(config(["synthetic"], {}), Layout(results=tmp_path)))
    assert rows(frame).loc["dynamic", "sparse_lift"] == pytest.approx(0.2)

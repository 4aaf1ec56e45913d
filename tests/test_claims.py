"""Verdicts on the paper's claims from made-up numbers, and the report's claims table from fake result
files of a run."""

import math

import numpy as np
import pandas as pd
import pytest

from seqrec import claims
from seqrec.claims import (
    INCONCLUSIVE, MIN_SEEDS, MIN_TEST_CASES, NOT_MEASURED, NOT_REPRODUCED, PARTLY, REPRODUCED,
    below_verdict, claim_domain, evidence_gap, improvement_verdict, lift_verdict, maintained_verdict, weakest,
)
from seqrec.config import validate_config
from seqrec.io import write_csv, write_json, write_parquet
from seqrec.layout import Layout
from seqrec.report import Run
from seqrec.report import claims as claims_report
from seqrec.report.claims import format_measured
from seqrec.report.format import interval as format_interval
from seqrec.stats import LIFT_COLUMNS, SEED_COLUMNS

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("lift", "low", "high", "expected"),
    [
        (0.50, 0.20, 0.90, REPRODUCED),  # significant, contains +52.4%
        (0.60, 0.524, 0.70, REPRODUCED),  # the paper's value on the CI's edge still counts
        (0.20, 0.05, 0.40, PARTLY),  # significant, but the CI misses the paper's magnitude (below)
        (1.50, 0.90, 2.10, PARTLY),  # ... or above it
        (0.50, -0.10, 1.20, PARTLY),  # the paper's sign on the point estimate only
        (0.50, NAN, NAN, PARTLY),  # no CI: the point estimate only
        (INF, 0.30, INF, PARTLY),  # generic scored 0: a gain of unknown size
        (0.005, -0.20, 0.30, NOT_REPRODUCED),  # a null result
        (0.0, 0.0, 0.0, NOT_REPRODUCED),
        (-0.30, -0.50, -0.10, NOT_REPRODUCED),  # the other direction
        (NAN, NAN, NAN, NOT_MEASURED),  # both models score 0: no lift
        (None, None, None, NOT_MEASURED),  # nothing to read
    ],
)
def test_lift_verdict(lift, low, high, expected):
    assert lift_verdict(lift, low, high, 0.524) == expected


def test_lift_verdict_for_a_negative_claim_mirrors_the_positive_one():
    assert lift_verdict(-0.50, -0.90, -0.20, -0.524) == REPRODUCED
    assert lift_verdict(-0.20, -0.40, -0.05, -0.524) == PARTLY
    assert lift_verdict(0.30, 0.10, 0.50, -0.524) == NOT_REPRODUCED
    with pytest.raises(ValueError):
        lift_verdict(0.1, 0.0, 0.2, 0.0)


@pytest.mark.parametrize(
    ("lift", "low", "high", "expected"),
    [
        (0.10, 0.02, 0.20, REPRODUCED),
        (0.10, -0.05, 0.25, PARTLY),
        (0.10, NAN, NAN, PARTLY),
        (0.005, 0.001, 0.01, NOT_REPRODUCED),  # significant but negligible: below NEGLIGIBLE_LIFT
        (-0.10, -0.20, 0.05, NOT_REPRODUCED),
        (NAN, NAN, NAN, NOT_MEASURED),
    ],
)
def test_improvement_verdict(lift, low, high, expected):
    assert improvement_verdict(lift, low, high) == expected


@pytest.mark.parametrize(
    ("lift", "low", "high", "expected"),
    [
        (0.05, -0.02, 0.10, REPRODUCED),  # improved, not significantly
        (-0.01, -0.08, 0.0, REPRODUCED),  # a small loss, CI reaching 0: maintained
        (-0.01, -0.015, -0.005, PARTLY),  # a significant loss within the 2% tolerance
        (-0.10, -0.30, 0.05, PARTLY),  # a loss beyond the tolerance on the point estimate only
        (-0.10, -0.15, -0.05, NOT_REPRODUCED),  # the whole CI below -2%
        (-0.10, NAN, NAN, PARTLY),  # no CI cannot show a loss, but the point estimate does
        (None, None, None, NOT_MEASURED),
    ],
)
def test_maintained_verdict(lift, low, high, expected):
    assert maintained_verdict(lift, low, high) == expected


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (0.004, 0.002, 0.006, REPRODUCED),  # every run below 1%
        (0.008, 0.003, 0.013, PARTLY),  # the mean below 1%, one run above
        (0.008, NAN, NAN, PARTLY),
        (0.04, 0.03, 0.05, NOT_REPRODUCED),
        (0.01, 0.01, 0.01, NOT_REPRODUCED),  # "less than" is strict
        (None, None, None, NOT_MEASURED),
    ],
)
def test_below_verdict(value, low, high, expected):
    assert below_verdict(value, low, high, 0.01) == expected


def test_weakest_ignores_unmeasured_and_inconclusive_numbers():
    assert weakest([REPRODUCED, PARTLY, REPRODUCED]) == PARTLY
    assert weakest([REPRODUCED, NOT_MEASURED]) == REPRODUCED
    assert weakest([PARTLY, NOT_REPRODUCED, REPRODUCED]) == NOT_REPRODUCED
    assert weakest([REPRODUCED, INCONCLUSIVE]) == REPRODUCED
    assert weakest([INCONCLUSIVE, NOT_MEASURED]) == INCONCLUSIVE
    assert weakest([NOT_MEASURED, NOT_MEASURED]) == NOT_MEASURED
    assert weakest([]) == NOT_MEASURED


@pytest.mark.parametrize(
    ("n_cases", "n_seeds", "ci", "reason"),
    [
        (MIN_TEST_CASES, MIN_SEEDS, (0.1, 0.9), ""),  # just enough
        (13, 3, (0.1, 0.9), f"13 test cases in Film-Noir (< {MIN_TEST_CASES})"),
        (500, 1, (0.1, 0.9), f"1 seed (< {MIN_SEEDS})"),
        (500, 3, (0.1, INF), "interval [+10.0%, +∞) is unbounded"),
        (500, 3, (0.25, 0.25), "interval [+25.0%, +25.0%] has zero width"),
        (500, 3, (NAN, NAN), "no interval"),
        (13, 1, (0.0, INF), f"13 test cases in Film-Noir (< {MIN_TEST_CASES}); 1 seed (< {MIN_SEEDS}); "
                            "interval [+0.0%, +∞) is unbounded"),
        (None, 1, None, f"1 seed (< {MIN_SEEDS})"),  # a range over runs: only the seeds count
    ],
)
def test_evidence_gap_names_what_is_missing(n_cases, n_seeds, ci, reason):
    assert evidence_gap(n_seeds, n_cases, "Film-Noir", ci) == reason


def test_the_evidence_rule_is_not_trivial():
    # A verdict from a dozen cases or one seed means nothing; the thresholds say so.
    assert MIN_TEST_CASES >= 100 and MIN_SEEDS >= 2


def test_claim_domain_is_film_noir_else_the_sparsest_domain_with_enough_test_cases():
    domains = pd.DataFrame({"domain": ["Drama", "Crime", "Western", "Noir"], "share": [0.5, 0.02, 0.01, 0.01],
                            "is_sparse": [False, True, True, True]})
    enough = MIN_TEST_CASES
    # Western has no test case; Noir and Crime do, Noir is sparser.
    assert claim_domain(domains, {"Drama": 10 * enough, "Crime": enough, "Western": 0, "Noir": enough}) == "Noir"
    assert claim_domain(domains, pd.Series({"Drama": 10 * enough, "Crime": enough})) == "Crime"
    # Noir is sparser but too thin: the sparsest domain with enough test cases is judged instead.
    assert claim_domain(domains, {"Drama": 10 * enough, "Crime": enough, "Noir": enough - 1}) == "Crime"
    # No sparse domain has enough: the sparsest one with a test case (its verdict is then inconclusive),
    # not a dense domain that happens to have many.
    assert claim_domain(domains, {"Drama": 10 * enough, "Crime": 3, "Noir": 2}) == "Noir"
    assert claim_domain(domains, {}) is None
    tie = pd.DataFrame({"domain": ["b", "a"], "share": [0.01, 0.01], "is_sparse": [True, True]})
    assert claim_domain(tie, {"a": enough, "b": enough}) == "a"
    film = pd.concat([domains, pd.DataFrame({"domain": ["Film-Noir"], "share": [0.03], "is_sparse": [True]})])
    assert claim_domain(film, {"Drama": 10}) == "Film-Noir"


def test_the_other_domain_is_never_the_claim_domain():
    domains = pd.DataFrame({"domain": ["Drama", "other", "Crime"], "share": [0.5, 0.001, 0.02],
                            "is_sparse": [False, True, True]})
    many = 10 * MIN_TEST_CASES
    assert claim_domain(domains, {"Drama": many, "other": many, "Crime": many}) == "Crime"
    assert claim_domain(domains, {"Drama": many, "other": many}) == "Drama"
    assert claim_domain(domains.iloc[[1]], {"other": many}) is None


def test_format_measured():
    assert format_measured({"claim": "a", "measured": 0.524, "low": 0.1, "high": INF}) == "+52.4% [+10.0, +∞)"
    assert format_measured({"claim": "c", "measured": -0.05, "low": NAN, "high": NAN}) == "−5.0%"
    assert format_measured({"claim": "d", "measured": 0.004, "low": 0.003, "high": 0.005}) == "0.40% (runs: 0.30-0.50%)"
    assert format_measured({"claim": "e-sigma", "measured": NAN}) == "–"
    plain = format_measured({"claim": "a", "measured": -0.05, "low": -0.1, "high": INF}, plain=True)
    assert plain == "-5.0% [-10.0, +inf)"


def test_format_interval_keeps_an_unbounded_end():
    assert format_interval(-0.05, INF) == "[−5.0, +∞)"
    assert format_interval(-0.05, 0.3, plain=True) == "[-5.0, +30.0]"
    assert format_interval(0.1, INF, unit="%") == "[+10.0%, +∞)"
    assert format_interval(NAN, NAN) == ""


def test_rules_text_states_the_constants():
    assert f"{100 * claims.DENSE_TOLERANCE:g}%" in claims.VERDICT_RULES
    assert claims.PAPER_DOMAIN in claims.VERDICT_RULES
    assert all(v in claims.VERDICT_RULES for v in claims.VERDICTS)
    assert f"at least {claims.MIN_TEST_CASES} test cases" in claims.VERDICT_RULES
    assert f"at least {claims.MIN_SEEDS} training seeds" in claims.VERDICT_RULES
    assert f"*{claims.OTHER_DOMAIN}*" in claims.VERDICT_RULES


# The claims table on hand-made files: each verdict comes out of the numbers written.

DOMAINS = pd.DataFrame({
    "domain": ["Drama", "Comedy", "Film-Noir", "Western"],
    "share": [0.6, 0.3, 0.02, 0.01],
    "is_sparse": [False, False, True, True],
})
CASES = 2 * MIN_TEST_CASES  # test cases of every domain: enough evidence unless a test says otherwise


def lift_row(domain, metric, lift, low, high, n_cases=CASES, scope="domain"):
    return {"method": "dynamic", "reference": "generic", "scope": scope, "domain": domain, "metric": metric,
            "k": 10, "n_cases": n_cases, "reference_value": 0.1, "value": 0.1 * (1 + lift), "lift": lift,
            "ci_low": low, "ci_high": high, "confidence": 0.95, "p_value": 0.01}


WITH_SIGMA = ["generic", "dynamic", "sigma"]


def claims_table(results, datasets=("movielens-1m",), methods=("generic", "dynamic"), seeds=(1, 2, 3),
                 n_bootstrap=200, sparsity=None):
    """The claims table of a run of these datasets, methods and seeds over the fake results."""
    config = validate_config({"methods": list(methods), "seeds": list(seeds), "aggregate": {"n_bootstrap": n_bootstrap},
                              "sparsity": sparsity or {}})
    return claims_report.table(Run({**config, "datasets": list(datasets)}, Layout(results=results)))


def write_fake_tables(results, dataset="movielens-1m", lifts=None, domains=DOMAINS, n_seeds=3, timings=3):
    if lifts is None:
        lifts = [
            lift_row("all", "recall", 0.01, -0.01, 0.03, 5 * CASES, scope="overall"),
            lift_row("Film-Noir", "recall", 0.45, 0.20, 0.80),  # (a) reproduced
            lift_row("Film-Noir", "ndcg", 0.20, 0.05, 0.40),  # (b) partly: CI below +74.5%
            lift_row("Drama", "recall", 0.00, -0.03, 0.02),
            lift_row("Drama", "ndcg", -0.01, -0.04, 0.01),
            lift_row("Comedy", "recall", -0.10, -0.15, -0.05),  # (c) not reproduced: CI below -2%
            lift_row("Comedy", "ndcg", 0.02, -0.05, 0.09),
            lift_row("Western", "recall", -0.50, -0.90, -0.10),  # sparse: not part of claim (c)
        ]
    cases = {r["domain"]: r["n_cases"] for r in lifts if r["scope"] == "domain"}
    metrics = [{"method": m, "scope": "domain", "domain": d, "metric": "recall", "k": 10, "mean": 0.1,
                "std": 0.01, "n_seeds": n_seeds, "n_cases": cases.get(d, CASES)}
               for m in ("generic", "dynamic") for d in domains["domain"]]
    write_csv(pd.DataFrame(lifts, columns=LIFT_COLUMNS), results / "tables" / dataset / "lift.csv")
    write_csv(pd.DataFrame(metrics, columns=SEED_COLUMNS), results / "tables" / dataset / "metrics.csv")
    write_parquet(domains, results / dataset / "sparsity" / "domains.parquet")
    # (d) partly: mean 0.6%, one run above 1%
    for seed, share in list(((1, 0.002), (2, 0.004), (3, 0.012)))[:timings]:
        write_json({"weighting_share_of_training": share}, results / dataset / "runs" / "dynamic" / f"seed{seed}" / "timing.json")
        write_json({"weighting_share_of_training": 0.0005}, results / dataset / "runs" / "generic" / f"seed{seed}" / "timing.json")


def write_fake_per_case(results, dataset, method, seed, hit_every, n_users=3 * CASES):
    users = np.arange(n_users)
    targets = [["Film-Noir"] if u % 3 == 0 else ["Drama"] for u in users]
    recall = (users % hit_every == 0).astype(float)
    frame = pd.DataFrame({"user": users, "item": users + 1, "rank": np.where(recall > 0, 0, 50),
                          "domains": targets, "power_domains": [[] for _ in users],
                          "recall@10": recall, "ndcg@10": recall})
    write_parquet(frame, results / dataset / "eval" / method / f"seed{seed}" / "per_case.parquet")


def test_claims_table_from_fake_results(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results)
    for seed in (1, 2, 3):
        write_fake_per_case(results, "movielens-1m", "dynamic", seed, hit_every=3)  # every Film-Noir case a hit
        write_fake_per_case(results, "movielens-1m", "sigma", seed, hit_every=6)  # half of them
    table = claims_table(results, methods=WITH_SIGMA).set_index("claim")

    assert list(table.index) == [c.id for c in claims.CLAIMS]
    assert (table["dataset"] == "movielens-1m").all()
    verdicts = table["verdict"].to_dict()
    assert verdicts == {"a": REPRODUCED, "b": PARTLY, "c": NOT_REPRODUCED, "d": PARTLY,
                        "e-sigma": REPRODUCED, "e-calrec": NOT_MEASURED, "e-sparseennet": NOT_MEASURED}
    assert table.loc["a", "domain"] == "Film-Noir" and table.loc["a", "n_cases"] == CASES
    assert table.loc["c", "domain"] == "Comedy" and table.loc["c", "metric"] == "Recall@10"
    assert math.isclose(table.loc["d", "measured"], 0.006) and table.loc["d", "high"] == 0.012
    assert table.loc["e-sigma", "measured"] == pytest.approx(1.0)  # dynamic hits twice as often
    assert table.loc["e-sigma", "seeds"] == "3 (1, 2, 3)"
    assert "not run" in table.loc["e-calrec", "basis"]
    assert not table["basis"].str.contains(INCONCLUSIVE).any()


def test_thin_evidence_makes_the_claims_inconclusive_with_the_reason(tmp_path):
    results = tmp_path / "results"
    lifts = [
        # 13 test cases: an unbounded interval "contains" +52.4% but shows nothing.
        lift_row("Film-Noir", "recall", 0.60, 0.10, INF, n_cases=13),
        # a single shared hit: a zero-width interval around the paper's value.
        lift_row("Film-Noir", "ndcg", 0.745, 0.745, 0.745, n_cases=13),
        lift_row("Drama", "recall", 0.01, -0.01, 0.03),
        lift_row("Comedy", "recall", 0.00, -0.20, INF),  # an unbounded dense interval is skipped
    ]
    write_fake_tables(results, lifts=lifts)
    table = claims_table(results).set_index("claim")
    assert table.loc["a", "verdict"] == INCONCLUSIVE  # reproduced before: +52.4% lies in [+10%, +inf)
    assert table.loc["a", "basis"].startswith(
        f"inconclusive: 13 test cases in Film-Noir (< {MIN_TEST_CASES}); interval [+10.0%, +∞) is unbounded")
    assert table.loc["b", "verdict"] == INCONCLUSIVE
    assert "interval [+74.5%, +74.5%] has zero width" in table.loc["b", "basis"]
    # Drama has enough evidence and is maintained; Comedy's interval is unbounded and not counted.
    assert table.loc["c", "verdict"] == REPRODUCED and table.loc["c", "domain"] == "Drama"
    assert "1 lift with thin evidence skipped" in table.loc["c", "basis"]


def test_one_seed_is_inconclusive(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results, n_seeds=1, timings=1)
    write_fake_per_case(results, "movielens-1m", "dynamic", 1, hit_every=3)
    write_fake_per_case(results, "movielens-1m", "sigma", 1, hit_every=6)
    table = claims_table(results, methods=WITH_SIGMA, seeds=(1,)).set_index("claim")
    for claim in ("a", "b", "c", "d", "e-sigma"):
        assert table.loc[claim, "verdict"] == INCONCLUSIVE, claim
        assert f"1 seed (< {MIN_SEEDS})" in table.loc[claim, "basis"], claim
    assert table.loc["a", "measured"] == 0.45  # the number is still shown


def test_thin_baseline_comparison_is_inconclusive(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results)
    for seed in (1, 2):  # 40 Film-Noir test cases
        write_fake_per_case(results, "movielens-1m", "dynamic", seed, hit_every=3, n_users=120)
        write_fake_per_case(results, "movielens-1m", "sigma", seed, hit_every=6, n_users=120)
    row = claims_table(results, methods=WITH_SIGMA, seeds=(1, 2)).set_index("claim").loc["e-sigma"]
    assert row["verdict"] == INCONCLUSIVE and row["n_cases"] == 40
    assert row["basis"].startswith(f"inconclusive: 40 test cases in sparse domains (< {MIN_TEST_CASES})")


def test_the_other_domain_is_not_judged_as_a_dense_domain(tmp_path):
    results = tmp_path / "results"
    domains = pd.concat([DOMAINS, pd.DataFrame({"domain": ["other"], "share": [0.2], "is_sparse": [False]})])
    lifts = [
        lift_row("Film-Noir", "recall", 0.45, 0.20, 0.80),
        lift_row("Drama", "recall", 0.01, -0.01, 0.03),
        lift_row("other", "recall", -0.30, -0.40, -0.20),  # items without a genre: no claim is about them
    ]
    write_fake_tables(results, lifts=lifts, domains=domains)
    table = claims_table(results).set_index("claim")
    assert table.loc["c", "verdict"] == REPRODUCED and table.loc["c", "domain"] == "Drama"


def test_a_run_without_the_dynamic_method_says_not_measured(tmp_path):
    write_fake_tables(tmp_path / "results", "yelp")
    table = claims_table(tmp_path / "results", datasets=["yelp"], methods=["generic"])
    assert (table["verdict"] == NOT_MEASURED).all() and len(table) == len(claims.CLAIMS)
    assert table["basis"].str.len().gt(0).all()
    assert table["weighting"].isna().all()  # no dynamic run, so no weighting behind a verdict
    assert claims_report.weightings(table) == "No verdict judges a dynamic weighting: the run did not train dynamic."


def test_every_verdict_names_the_dynamic_weighting_of_the_run(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results)
    sparsity = {"dynamic": {"score": "log_inverse_frequency", "alpha": 1.0, "normalise": "densest", "w_min": 1.0}}
    table = claims_table(results, sparsity=sparsity)
    expected = "score=log_inverse_frequency, alpha=1, normalise=densest, w_min=1, w_max=5, ema_decay=0.99"
    assert (table["weighting"] == expected).all()
    assert claims.weighting(validate_config({})["sparsity"]["dynamic"]) == (
        "score=log_inverse_frequency, alpha=1, normalise=mean, w_min=1, w_max=5, ema_decay=0.99")
    run = Run(validate_config({"sparsity": sparsity}), Layout(results=results))
    sentence = claims_report.weightings(table)
    assert sentence.endswith(f"(sparsity.dynamic): {expected}.") and "dynamic trained with" in sentence
    assert "normalise=densest, w\\_min=1" in claims_report.latex(run, table)  # the caption says it too


def test_claims_table_on_the_sparsest_domain_and_restricted_methods(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results, "yelp")
    lifts = pd.read_csv(results / "tables" / "yelp" / "lift.csv")
    lifts["domain"] = lifts["domain"].replace("Film-Noir", "Noir")
    write_csv(lifts, results / "tables" / "yelp" / "lift.csv")
    write_parquet(DOMAINS.replace("Film-Noir", "Noir"), results / "yelp" / "sparsity" / "domains.parquet")
    table = claims_table(results, datasets=["yelp"]).set_index("claim")
    # Western is sparser than Noir: the sparsest domain with enough test cases, without an NDCG row.
    assert table.loc["a", "domain"] == "Western"
    assert table.loc["a", "verdict"] == NOT_REPRODUCED  # -50% there
    assert table.loc["b", "verdict"] == NOT_MEASURED  # no NDCG row of Western
    restricted = claims_table(results, datasets=["yelp"], methods=["generic"]).set_index("claim")
    assert (restricted["verdict"] == NOT_MEASURED).all()

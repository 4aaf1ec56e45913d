"""Verdicts on the paper's claims from made-up numbers, and the claims table from fake result files."""

import math

import numpy as np
import pandas as pd
import pytest

from seqrec import claims
from seqrec.claims import (
    NOT_MEASURED, NOT_REPRODUCED, PARTLY, REPRODUCED, below_verdict, claim_domain, claims_table,
    format_measured, improvement_verdict, lift_verdict, maintained_verdict, weakest,
)
from seqrec.io import write_csv, write_json, write_parquet
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


def test_weakest_ignores_unmeasured_numbers():
    assert weakest([REPRODUCED, PARTLY, REPRODUCED]) == PARTLY
    assert weakest([REPRODUCED, NOT_MEASURED]) == REPRODUCED
    assert weakest([PARTLY, NOT_REPRODUCED, REPRODUCED]) == NOT_REPRODUCED
    assert weakest([NOT_MEASURED, NOT_MEASURED]) == NOT_MEASURED
    assert weakest([]) == NOT_MEASURED


def test_claim_domain_is_film_noir_else_the_sparsest_domain_with_test_cases():
    domains = pd.DataFrame({"domain": ["Drama", "Crime", "Western", "Noir"], "share": [0.5, 0.02, 0.01, 0.01]})
    # Western has no test case; Noir and Crime do, Noir is sparser.
    assert claim_domain(domains, {"Drama": 10, "Crime": 3, "Western": 0, "Noir": 2}) == "Noir"
    assert claim_domain(domains, pd.Series({"Drama": 10, "Crime": 3})) == "Crime"
    assert claim_domain(domains, {}) is None
    tie = pd.DataFrame({"domain": ["b", "a"], "share": [0.01, 0.01]})
    assert claim_domain(tie, {"a": 1, "b": 1}) == "a"
    film = pd.concat([domains, pd.DataFrame({"domain": ["Film-Noir"], "share": [0.03]})])
    assert claim_domain(film, {"Drama": 10}) == "Film-Noir"


def test_format_measured():
    assert format_measured({"claim": "a", "measured": 0.524, "low": 0.1, "high": INF}) == "+52.4% [+10.0, +∞]"
    assert format_measured({"claim": "c", "measured": -0.05, "low": NAN, "high": NAN}) == "−5.0%"
    assert format_measured({"claim": "d", "measured": 0.004, "low": 0.003, "high": 0.005}) == "0.40% (runs: 0.30-0.50%)"
    assert format_measured({"claim": "e-sigma", "measured": NAN}) == "–"
    plain = format_measured({"claim": "a", "measured": -0.05, "low": -0.1, "high": INF}, plain=True)
    assert plain == "-5.0% [-10.0, +inf]"


def test_rules_text_states_the_constants():
    assert f"{100 * claims.DENSE_TOLERANCE:g}%" in claims.VERDICT_RULES
    assert claims.PAPER_DOMAIN in claims.VERDICT_RULES
    assert all(v in claims.VERDICT_RULES for v in claims.VERDICTS)


# The claims table on hand-made files: each verdict comes out of the numbers written.

DOMAINS = pd.DataFrame({
    "domain": ["Drama", "Comedy", "Film-Noir", "Western"],
    "share": [0.6, 0.3, 0.02, 0.01],
    "is_sparse": [False, False, True, True],
})


def lift_row(domain, metric, lift, low, high, n_cases=50, scope="domain"):
    return {"method": "dynamic", "reference": "generic", "scope": scope, "domain": domain, "metric": metric,
            "k": 10, "n_cases": n_cases, "reference_value": 0.1, "value": 0.1 * (1 + lift), "lift": lift,
            "ci_low": low, "ci_high": high, "confidence": 0.95, "p_value": 0.01}


def write_fake_tables(results, dataset="movielens-1m"):
    lifts = [
        lift_row("all", "recall", 0.01, -0.01, 0.03, 300, scope="overall"),
        lift_row("Film-Noir", "recall", 0.45, 0.20, 0.80),  # (a) reproduced
        lift_row("Film-Noir", "ndcg", 0.20, 0.05, 0.40),  # (b) partly: CI below +74.5%
        lift_row("Drama", "recall", 0.00, -0.03, 0.02),
        lift_row("Drama", "ndcg", -0.01, -0.04, 0.01),
        lift_row("Comedy", "recall", -0.10, -0.15, -0.05),  # (c) not reproduced: CI below -2%
        lift_row("Comedy", "ndcg", 0.02, -0.05, 0.09),
        lift_row("Western", "recall", -0.50, -0.90, -0.10),  # sparse: not part of claim (c)
    ]
    metrics = [{"method": m, "scope": "domain", "domain": d, "metric": "recall", "k": 10, "mean": 0.1,
                "std": 0.01, "n_seeds": 3, "n_cases": 50} for m in ("generic", "dynamic") for d in DOMAINS["domain"]]
    write_csv(pd.DataFrame(lifts, columns=LIFT_COLUMNS), results / "tables" / dataset / "lift.csv")
    write_csv(pd.DataFrame(metrics, columns=SEED_COLUMNS), results / "tables" / dataset / "metrics.csv")
    write_parquet(DOMAINS, results / dataset / "sparsity" / "domains.parquet")
    for seed, share in ((1, 0.002), (2, 0.004), (3, 0.012)):  # (d) partly: mean 0.6%, one run above 1%
        write_json({"weighting_share_of_training": share}, results / dataset / "runs" / "dynamic" / f"seed{seed}" / "timing.json")


def write_fake_per_case(results, dataset, method, seed, hit_every):
    users = np.arange(120)
    targets = [["Film-Noir"] if u % 3 == 0 else ["Drama"] for u in users]
    recall = (users % hit_every == 0).astype(float)
    frame = pd.DataFrame({"user": users, "item": users + 1, "rank": np.where(recall > 0, 0, 50),
                          "domains": targets, "power_domains": [[] for _ in users],
                          "recall@10": recall, "ndcg@10": recall})
    write_parquet(frame, results / dataset / "eval" / method / f"seed{seed}" / "per_case.parquet")


def test_claims_table_from_fake_results(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results)
    for seed in (1, 2):
        write_fake_per_case(results, "movielens-1m", "dynamic", seed, hit_every=3)  # every Film-Noir case a hit
        write_fake_per_case(results, "movielens-1m", "sigma", seed, hit_every=6)  # half of them
    table = claims_table(results, n_bootstrap=200).set_index("claim")

    assert list(table.index) == [c.id for c in claims.CLAIMS]
    assert (table["dataset"] == "movielens-1m").all()
    verdicts = table["verdict"].to_dict()
    assert verdicts == {"a": REPRODUCED, "b": PARTLY, "c": NOT_REPRODUCED, "d": PARTLY,
                        "e-sigma": REPRODUCED, "e-calrec": NOT_MEASURED, "e-sparseennet": NOT_MEASURED}
    assert table.loc["a", "domain"] == "Film-Noir" and table.loc["a", "n_cases"] == 50
    assert table.loc["c", "domain"] == "Comedy" and table.loc["c", "metric"] == "Recall@10"
    assert math.isclose(table.loc["d", "measured"], 0.006) and table.loc["d", "high"] == 0.012
    assert table.loc["e-sigma", "measured"] == pytest.approx(1.0)  # dynamic hits twice as often
    assert table.loc["e-sigma", "seeds"] == "2 (1, 2)"
    assert "not run" in table.loc["e-calrec", "basis"]


def test_claims_table_without_results_says_not_measured(tmp_path):
    table = claims_table(tmp_path / "results", datasets=["yelp"])
    assert (table["verdict"] == NOT_MEASURED).all() and len(table) == len(claims.CLAIMS)
    assert table["basis"].str.len().gt(0).all()


def test_claims_table_on_the_sparsest_domain_and_restricted_methods(tmp_path):
    results = tmp_path / "results"
    write_fake_tables(results, "yelp")
    lifts = pd.read_csv(results / "tables" / "yelp" / "lift.csv")
    lifts["domain"] = lifts["domain"].replace("Film-Noir", "Noir")
    write_csv(lifts, results / "tables" / "yelp" / "lift.csv")
    write_parquet(DOMAINS.replace("Film-Noir", "Noir"), results / "yelp" / "sparsity" / "domains.parquet")
    table = claims_table(results).set_index("claim")
    # Western is sparser than Noir: the sparsest domain with test cases, without a dynamic row for recall.
    assert table.loc["a", "domain"] == "Western"
    assert table.loc["a", "verdict"] == NOT_REPRODUCED  # -50% there
    assert table.loc["b", "verdict"] == NOT_MEASURED  # no NDCG row of Western
    restricted = claims_table(results, methods=["generic"]).set_index("claim")
    assert (restricted["verdict"] == NOT_MEASURED).all()

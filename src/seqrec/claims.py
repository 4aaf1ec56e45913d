"""The paper's headline claims as data, and the verdict functions that judge them.

The verdicts are never typed by hand: the report's claims table (seqrec.report.claims) reads what
the workflow wrote and applies the pure verdict functions below. Their rules are stated once, in
`VERDICT_RULES`, built from the constants of this module; the claims notebook shows that text.

Every claim is judged per dataset. The paper reports its domain claims on MovieLens' Film-Noir
genre; on a dataset without a Film-Noir domain the claim is judged on that dataset's sparsest
domain with enough test cases (`claim_domain`). A number with too little evidence behind it (too
few test cases or seeds, an unbounded or zero-width interval: `evidence_gap`) gets no verdict but
"inconclusive", with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import pandas as pd

from seqrec.datasets.base import OTHER_DOMAIN
from seqrec.methods import BASELINE_LABELS
from seqrec.report.format import interval as format_interval

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured in this run"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURED)
# Strength of a measured verdict: a claim judged on several numbers gets the weakest of them.
STRENGTH = {NOT_REPRODUCED: 0, PARTLY: 1, REPRODUCED: 2}

REFERENCE = "generic"  # the model the paper's lifts are measured against
METHOD = "dynamic"  # the paper's method
PAPER_DOMAIN = "Film-Noir"  # the sparse MovieLens genre of the paper's headline numbers
PAPER_K = 10  # the cut-off of the paper's headline numbers
# The evidence a verdict needs (docs/claims.md). At a Recall@10 near 0.1, the bootstrap CI of a lift
# is mostly unbounded with a dozen test cases and still about +-150% wide with 100.
MIN_TEST_CASES = 100  # test cases where a number is measured (a domain, the sparse-domain cases)
MIN_SEEDS = 2  # training seeds behind a number: one seed cannot tell the method from its seed
# A lift whose point estimate lies within +-NEGLIGIBLE_LIFT of 0 is a null result, not a gain.
NEGLIGIBLE_LIFT = 0.01
# A dense domain is "maintained" if its lift is not significantly below 0 and its point estimate is
# at least -DENSE_TOLERANCE; it counts as harmed only if its whole CI lies below -DENSE_TOLERANCE.
DENSE_TOLERANCE = 0.02
OVERHEAD_BOUND = 0.01  # the paper: dynamic weighting adds less than 1% to the training time
BASELINES = BASELINE_LABELS  # the registry's baselines, by the label the paper gives them
# The settings of the dynamic weighting (config `sparsity.dynamic`) that make the method every claim
# judges: the run's own, so a verdict always says which weighting produced it.
WEIGHTING_SETTINGS = ("score", "alpha", "normalise", "w_min", "w_max", "ema_decay")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: what it says and how this run measures it."""

    id: str
    statement: str  # the claim in the paper's words (domain and K as the paper states them)
    kind: str  # "lift", "maintained", "overhead" or "baseline": which verdict function applies
    paper: str  # the paper's value as text
    paper_value: float  # the number the verdict compares with (a lift, a bound)
    metric: str | None = None  # "recall" or "ndcg" for a lift claim
    baseline: str | None = None  # the baseline method of a "baseline" claim


CLAIMS = [
    Claim("a", "Film-Noir Recall@10: dynamic over generic", "lift", "+52.4%", 0.524, metric="recall"),
    Claim("b", "Film-Noir NDCG@10: dynamic over generic", "lift", "+74.5%", 0.745, metric="ndcg"),
    Claim("c", "Dense domains are maintained or improved under dynamic weighting", "maintained",
          "no significant loss", 0.0),
    Claim("d", "Dynamic weighting adds less than 1% to the training time", "overhead", "< 1%",
          OVERHEAD_BOUND),
    *[
        Claim(f"e-{name}", f"dynamic beats {label}, especially on sparse domains", "baseline",
              f"dynamic > {label}", 0.0, baseline=name)
        for name, label in BASELINES.items()
    ],
]

VERDICT_RULES = f"""\
Each claim gets one of five verdicts, computed from this run's numbers by `src/seqrec/claims.py`:

* **Enough evidence.** A number gets a verdict only if it was measured
  on at least {MIN_TEST_CASES} test cases (those of the claim domain, or the sparse-domain cases
  for the baselines), from at least {MIN_SEEDS} training seeds, with a finite interval of non-zero
  width: an unbounded interval (the reference scored 0 in some bootstrap resample) "contains"
  every value, and a zero-width one comes from a handful of identical cases. Otherwise the verdict
  is *{INCONCLUSIVE}*, and the basis says which of these is missing. The overhead (d) is a range
  over runs, not a sample of test cases: it needs the {MIN_SEEDS} seeds only.
* **Which domain.** The paper's domain numbers are MovieLens' *{PAPER_DOMAIN}* genre. A dataset
  with a {PAPER_DOMAIN} domain is judged on it; any other dataset on its *sparsest domain*: the
  smallest share of the training interactions among the sparse domains with at least
  {MIN_TEST_CASES} test cases (ties by name), or, if none has that many, among all domains with a
  test case (then mostly with too few of them for a verdict). The catch-all *{OTHER_DOMAIN}*
  (items without a genre or category) is never a claim domain, nor one of the dense domains of (c).
* **Lift claims (a, b)**: the relative change of dynamic over generic in the claim domain, with
  the bootstrap confidence interval (CI) of the aggregate step. *{REPRODUCED}*: the CI excludes 0
  on the paper's side and contains the paper's value. *{PARTLY}*: the point estimate has the
  paper's sign, but the CI excludes the paper's magnitude (larger or smaller) or also contains 0
  (a gain on the point estimate only). *{NOT_REPRODUCED}*: the point estimate has the other sign or
  is null (within ±{100 * NEGLIGIBLE_LIFT:g}%).
* **Dense domains maintained (c)**: every non-sparse domain with a defined lift and enough
  evidence, Recall and NDCG.
  *{REPRODUCED}*: no dense domain is significantly worse (every CI reaches 0 or above) and no
  point estimate is below −{100 * DENSE_TOLERANCE:g}%. *{NOT_REPRODUCED}*: some dense domain's
  whole CI lies below −{100 * DENSE_TOLERANCE:g}%. *{PARTLY}*: anything between (a significant
  loss smaller than {100 * DENSE_TOLERANCE:g}%, or a larger loss on the point estimate only). The
  domain shown is the one that decides (the weakest verdict, then the lowest CI upper bound).
* **Overhead (d)**: the share of the training time spent computing the dynamic weights
  (`weighting_share_of_training` in each dynamic run's timing.json), mean and range over the
  runs. *{REPRODUCED}*: every run is below {100 * OVERHEAD_BOUND:g}%. *{PARTLY}*: the mean is below
  but some run is not. *{NOT_REPRODUCED}*: the mean is not below {100 * OVERHEAD_BOUND:g}%.
* **Baselines (e)**: the lift of dynamic over the baseline (paired on the same test users, seeds
  common to both, bootstrap CI as in the aggregate step) on the test cases whose target lies in
  a sparse domain (all cases where a dataset has no sparse domain), for Recall and NDCG.
  *{REPRODUCED}*: the CI lies above 0. *{PARTLY}*: the point estimate exceeds
  +{100 * NEGLIGIBLE_LIFT:g}% but the CI contains 0. *{NOT_REPRODUCED}*: it does not. The lift over
  all test cases is given for comparison ("especially on sparse domains").
* A claim judged on several numbers (two metrics, several domains) takes the **weakest** of the
  verdicts of the numbers with enough evidence; it is *{INCONCLUSIVE}* if none has enough.
  *{NOT_MEASURED}*: the inputs are absent (a method not run, a file missing) or the lift is
  undefined (both models score 0 in the domain).
"""


def weighting(dynamic: Mapping) -> str:
    """The dynamic weighting behind the verdicts, from a validated config's `sparsity.dynamic`:
    "score=log_inverse_frequency, alpha=1, normalise=mean, w_min=1, w_max=5, ema_decay=0.99"."""
    def value(v) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{key}={value(dynamic[key])}" for key in WEIGHTING_SETTINGS)


# Verdict functions: plain numbers in, one of VERDICTS out.


def _missing(*values: float | None) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def lift_verdict(lift: float | None, ci_low: float | None, ci_high: float | None, paper_value: float) -> str:
    """Verdict on the claim "the lift is `paper_value`" (a relative change, e.g. 0.524 for +52.4%):
    the rule "Lift claims" of VERDICT_RULES."""
    if _missing(lift):
        return NOT_MEASURED
    if paper_value == 0:
        raise ValueError("a lift claim needs a non-zero paper value; use improvement_verdict")
    sign = 1.0 if paper_value > 0 else -1.0
    value, low, high = sign * lift, sign * _nan(ci_low), sign * _nan(ci_high)
    if sign < 0:
        low, high = high, low
    if not value >= NEGLIGIBLE_LIFT:
        return NOT_REPRODUCED
    if math.isfinite(value) and low > 0 and low <= abs(paper_value) <= high:
        return REPRODUCED
    return PARTLY


def improvement_verdict(lift: float | None, ci_low: float | None, ci_high: float | None = None) -> str:
    """Verdict on the claim "the lift is positive" (a method beats another): the rule "Baselines"
    of VERDICT_RULES."""
    if _missing(lift):
        return NOT_MEASURED
    if not lift >= NEGLIGIBLE_LIFT:
        return NOT_REPRODUCED
    return REPRODUCED if _nan(ci_low) > 0 else PARTLY


def maintained_verdict(
    lift: float | None, ci_low: float | None, ci_high: float | None, tolerance: float = DENSE_TOLERANCE
) -> str:
    """Verdict on the claim "the lift is not negative" (a domain maintained or improved): the rule
    "Dense domains maintained" of VERDICT_RULES. An unknown CI upper bound cannot show a loss."""
    if _missing(lift):
        return NOT_MEASURED
    high = _nan(ci_high)
    if high < -tolerance:
        return NOT_REPRODUCED
    if not high < 0 and lift >= -tolerance:
        return REPRODUCED
    return PARTLY


def below_verdict(value: float | None, low: float | None, high: float | None, bound: float) -> str:
    """Verdict on the claim "the quantity is below `bound`", with an interval [low, high] of it: the
    rule "Overhead" of VERDICT_RULES."""
    if _missing(value):
        return NOT_MEASURED
    if not value < bound:
        return NOT_REPRODUCED
    return REPRODUCED if _nan(high) < bound else PARTLY


def weakest(verdicts: Iterable[str]) -> str:
    """The weakest verdict (not reproduced < partly < reproduced) of the numbers with enough
    evidence; if there is none: inconclusive if some number was, else not measured."""
    verdicts = list(verdicts)
    judged = [v for v in verdicts if v in STRENGTH]
    if judged:
        return min(judged, key=STRENGTH.__getitem__)
    return INCONCLUSIVE if INCONCLUSIVE in verdicts else NOT_MEASURED


def evidence_gap(n_seeds: int, n_cases: int | None = None, where: str = "",
                 interval: tuple[float | None, float | None] | None = None) -> str:
    """Why a number has too little evidence for a verdict, in words; "" if it has enough.

    Enough evidence: at least MIN_SEEDS seeds; at least MIN_TEST_CASES test cases `where` it is
    measured (n_cases None: not a count of test cases); and, when `interval` (low, high) is given,
    a finite interval of non-zero width.
    """
    reasons = []
    if n_cases is not None and n_cases < MIN_TEST_CASES:
        reasons.append(f"{n_cases} test cases in {where} (< {MIN_TEST_CASES})")
    if n_seeds < MIN_SEEDS:
        reasons.append(f"{n_seeds} seed{'' if n_seeds == 1 else 's'} (< {MIN_SEEDS})")
    if interval is not None:
        low, high = _nan(interval[0]), _nan(interval[1])
        text = format_interval(low, high, unit="%")
        if math.isnan(low) or math.isnan(high):
            reasons.append("no interval")
        elif not (math.isfinite(low) and math.isfinite(high)):
            reasons.append(f"interval {text} is unbounded")
        elif low == high:
            reasons.append(f"interval {text} has zero width")
    return "; ".join(reasons)


def judged_verdict(verdict: str, gap: str) -> str:
    """A measured verdict, or inconclusive where the evidence has a gap."""
    return INCONCLUSIVE if gap and verdict != NOT_MEASURED else verdict


def inconclusive_basis(gap: str, why: str) -> str:
    return f"{INCONCLUSIVE}: {gap}. {why}"


def claim_domain(domains: pd.DataFrame, test_cases: Mapping[str, int] | pd.Series) -> str | None:
    """The domain a dataset's domain claims are judged on, or None if no domain qualifies.

    PAPER_DOMAIN (Film-Noir) if the dataset has it; otherwise the domain with the smallest
    training `share` among the sparse ones (`is_sparse`, domains.parquet) with at least
    MIN_TEST_CASES test cases, or, if none has that many, among all domains with a test case;
    ties by name. OTHER_DOMAIN never qualifies. `test_cases` maps a domain to its test cases.
    """
    names = domains["domain"].astype(str)
    if (names == PAPER_DOMAIN).any():
        return PAPER_DOMAIN
    counts = pd.Series(test_cases, dtype="float64") if not isinstance(test_cases, pd.Series) else test_cases
    cases = names.map(counts).fillna(0).to_numpy()
    preferred = (cases >= MIN_TEST_CASES) & domains["is_sparse"].astype(bool).to_numpy()
    candidates = pd.DataFrame({"domain": names.to_numpy(), "share": domains["share"].to_numpy(),
                               "fallback": ~preferred})
    candidates = candidates.loc[(cases > 0) & (names.to_numpy() != OTHER_DOMAIN)]
    if candidates.empty:
        return None
    return str(candidates.sort_values(["fallback", "share", "domain"]).iloc[0]["domain"])


def domain_test_cases(interactions: pd.DataFrame, items: pd.DataFrame) -> pd.Series:
    """Test cases (held-out test items) per target domain, as the evaluation counts them."""
    test = interactions.loc[interactions["split"] == "test", ["item"]]
    domains = test.merge(items[["item", "domains"]], on="item", how="left")["domains"]
    exploded = domains.explode().dropna()
    return exploded.astype(str).value_counts()

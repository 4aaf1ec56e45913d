"""The paper's headline claims as data, and a verdict on each computed from this run's numbers.

The verdicts are never typed by hand: `claims_table` reads what the workflow wrote (the aggregated
tables, the domain statistics, the runs' timing.json and the per-case results) and applies the
pure verdict functions below, whose rules are the constants and docstrings of this module (and,
for readers, the markdown text `VERDICT_RULES` that the claims notebook shows).

Every claim is judged per dataset. The paper reports its domain claims on MovieLens' Film-Noir
genre; on a dataset without a Film-Noir domain the claim is judged on that dataset's sparsest
domain with enough test cases (`claim_domain`). A number with too little evidence behind it (too
few test cases or seeds, an unbounded or zero-width interval: `evidence_gap`) gets no verdict but
"inconclusive", with the reason.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from seqrec.datasets.base import OTHER_DOMAIN

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured in this run"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURED)
# Strength of a measured verdict: a claim judged on several numbers gets the weakest of them.
_STRENGTH = {NOT_REPRODUCED: 0, PARTLY: 1, REPRODUCED: 2}

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
BASELINES = {"sigma": "SIGMA", "calrec": "CALRec", "sparseennet": "SparseEnNet"}
METRIC_LABELS = {"recall": "Recall", "ndcg": "NDCG"}

COLUMNS = [
    "claim", "statement", "dataset", "domain", "metric", "paper", "paper_value", "measured",
    "low", "high", "interval", "n_cases", "seeds", "source", "verdict", "basis",
]


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


# Verdict functions: plain numbers in, one of VERDICTS out.


def _missing(*values: float | None) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def lift_verdict(lift: float | None, ci_low: float | None, ci_high: float | None, paper_value: float) -> str:
    """Verdict on the claim "the lift is `paper_value`" (a relative change, e.g. 0.524 for +52.4%).

    - not measured: the lift is missing or undefined (NaN).
    - not reproduced: the point estimate is null (|lift| < NEGLIGIBLE_LIFT) or has the other sign.
    - reproduced: the point estimate is finite, the CI excludes 0 on the paper's side and contains
      `paper_value`.
    - partly: otherwise (the paper's sign, but the CI misses the paper's magnitude, reaches 0 or is
      unknown, or the lift is infinite because the reference scored 0).
    """
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
    """Verdict on the claim "the lift is positive" (a method beats another).

    - not measured: the lift is missing or undefined.
    - reproduced: the CI lies above 0 (ci_low > 0).
    - partly: the point estimate is at least NEGLIGIBLE_LIFT but the CI reaches 0 or is unknown.
    - not reproduced: the point estimate is below NEGLIGIBLE_LIFT (null or negative).
    """
    if _missing(lift):
        return NOT_MEASURED
    if not lift >= NEGLIGIBLE_LIFT:
        return NOT_REPRODUCED
    return REPRODUCED if _nan(ci_low) > 0 else PARTLY


def maintained_verdict(
    lift: float | None, ci_low: float | None, ci_high: float | None, tolerance: float = DENSE_TOLERANCE
) -> str:
    """Verdict on the claim "the lift is not negative" (a domain maintained or improved).

    - not measured: the lift is missing or undefined.
    - not reproduced: the whole CI lies below -tolerance (a loss larger than the tolerance).
    - reproduced: the CI reaches 0 or above (no significant loss) and lift >= -tolerance.
    - partly: otherwise (a significant loss smaller than the tolerance, or a loss beyond the
      tolerance on the point estimate only). An unknown CI upper bound cannot show a loss.
    """
    if _missing(lift):
        return NOT_MEASURED
    high = _nan(ci_high)
    if high < -tolerance:
        return NOT_REPRODUCED
    if not high < 0 and lift >= -tolerance:
        return REPRODUCED
    return PARTLY


def below_verdict(value: float | None, low: float | None, high: float | None, bound: float) -> str:
    """Verdict on the claim "the quantity is below `bound`", with an interval [low, high] of it.

    - not measured: the value is missing.
    - reproduced: the whole interval is below the bound (high < bound).
    - partly: the point estimate is below the bound but the interval is not (or is unknown).
    - not reproduced: the point estimate is not below the bound.
    """
    if _missing(value):
        return NOT_MEASURED
    if not value < bound:
        return NOT_REPRODUCED
    return REPRODUCED if _nan(high) < bound else PARTLY


def weakest(verdicts: Iterable[str]) -> str:
    """The weakest verdict (not reproduced < partly < reproduced) of the numbers with enough
    evidence; if there is none: inconclusive if some number was, else not measured."""
    verdicts = list(verdicts)
    judged = [v for v in verdicts if v in _STRENGTH]
    if judged:
        return min(judged, key=_STRENGTH.__getitem__)
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


def _judged(verdict: str, gap: str) -> str:
    """A measured verdict, or inconclusive where the evidence has a gap."""
    return INCONCLUSIVE if gap and verdict != NOT_MEASURED else verdict


def _inconclusive_basis(gap: str, why: str) -> str:
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


# Formatting shared by the notebooks.


def _percent(value: float, signed: bool = True, plain: bool = False) -> str:
    """100 * value with one decimal (signed) or two (unsigned); plain: ASCII minus and "inf"."""
    if math.isnan(value):
        return "-" if plain else "–"
    if math.isinf(value):
        return ("+inf" if value > 0 else "-inf") if plain else ("+∞" if value > 0 else "−∞")
    text = f"{100 * value:+.1f}" if signed else f"{100 * value:.2f}"
    return text if plain else text.replace("-", "−")


def format_interval(low: float, high: float, plain: bool = False, unit: str = "") -> str:
    """A lift's interval in percent, an unbounded end open: "[−5.0, +∞)"; "" if it is unknown.

    plain: ASCII only (for LaTeX), "[-5.0, +inf)"; `unit` follows each finite bound ("%").
    """
    low, high = _nan(low), _nan(high)
    if math.isnan(low) or math.isnan(high):
        return ""

    def bound(value: float) -> str:
        return _percent(value, True, plain) + (unit if math.isfinite(value) else "")

    return (f"{'(' if math.isinf(low) else '['}{bound(low)}, {bound(high)}"
            f"{')' if math.isinf(high) else ']'}")


def format_measured(row: Mapping, plain: bool = False) -> str:
    """The measured value of a claims-table row as text: a lift with its CI, or a share with its range.

    plain: ASCII only (for LaTeX), e.g. "+12.3% [-5.0, +30.1]" or "+12.3% [-5.0, +inf)".
    """
    value = row.get("measured")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-" if plain else "–"
    low, high = _nan(row.get("low")), _nan(row.get("high"))
    if str(row.get("claim", "")).startswith("d"):  # a share of the training time, with its range over runs
        text = f"{_percent(value, False, plain)}%"
        if not (math.isnan(low) or math.isnan(high)):
            text += f" (runs: {_percent(low, False, plain)}-{_percent(high, False, plain)}%)"
        return text
    interval = format_interval(low, high, plain)
    return f"{_percent(value, True, plain)}%" + (f" {interval}" if interval else "")


# Building the table from a results folder.


def _read_csv(path: Path) -> pd.DataFrame:
    # Only empty fields are missing: a domain may well be called "NA" or "None".
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={"method": str, "reference": str, "scope": str, "domain": str})


def _seed_dirs(folder: Path, filename: str, seeds: Iterable[int] | None) -> dict[int, Path]:
    """{seed: folder/seed{seed}/filename} for the files present, restricted to `seeds` if given."""
    found = {}
    for path in folder.glob(f"seed*/{filename}"):
        match = re.fullmatch(r"seed(\d+)", path.parent.name)
        if match:
            found[int(match.group(1))] = path
    if seeds is not None:
        wanted = {int(s) for s in seeds}
        found = {s: p for s, p in found.items() if s in wanted}
    return dict(sorted(found.items()))


def _seeds_text(seeds: Iterable[int]) -> str:
    seeds = list(seeds)
    return f"{len(seeds)} ({', '.join(map(str, seeds))})" if seeds else ""


def _metric_label(metric: str, k: int) -> str:
    return f"{METRIC_LABELS[metric]}@{k}"


def _ci_text(low: float, high: float) -> str:
    return format_interval(low, high, unit="%") or "(no CI)"


class _Dataset:
    """The files of one dataset under a results folder, read lazily; None where absent."""

    def __init__(self, results: Path, name: str):
        self.results, self.name = results, name
        self.tables = results / "tables" / name
        self._domains = self._metrics = self._lifts = None

    def rel(self, path: Path) -> str:
        """A path as shown in the table: relative to the results folder's parent."""
        try:
            return str(Path(self.results.name) / path.relative_to(self.results))
        except ValueError:
            return str(path)

    @property
    def domains(self) -> pd.DataFrame | None:
        path = self.results / self.name / "sparsity" / "domains.parquet"
        if self._domains is None and path.exists():
            self._domains = pd.read_parquet(path).astype({"domain": str})
        return self._domains

    @property
    def metrics(self) -> pd.DataFrame | None:
        if self._metrics is None and (self.tables / "metrics.csv").exists():
            self._metrics = _read_csv(self.tables / "metrics.csv")
        return self._metrics

    @property
    def lifts(self) -> pd.DataFrame | None:
        if self._lifts is None and (self.tables / "lift.csv").exists():
            self._lifts = _read_csv(self.tables / "lift.csv")
        return self._lifts

    def n_seeds(self, method: str) -> int | None:
        if self.metrics is None:
            return None
        rows = self.metrics.loc[self.metrics["method"] == method, "n_seeds"]
        return int(rows.max()) if len(rows) else None

    def seeds_text(self, method: str) -> str:
        """The seeds aggregated in the tables: "n (s1, s2, ...)", listed when the eval folders agree."""
        n = self.n_seeds(method)
        found = _seed_dirs(self.results / self.name / "eval" / method, "per_case.parquet", None)
        if n is not None and len(found) == n:
            return _seeds_text(found)
        return "" if n is None else str(n)

    def domain_cases(self) -> pd.Series:
        """Test cases per domain from the reference's rows of metrics.csv."""
        m = self.metrics
        rows = m.loc[(m["method"] == REFERENCE) & (m["scope"] == "domain")]
        return rows.groupby("domain")["n_cases"].max()


def _row(claim: Claim, dataset: str, **fields) -> dict:
    row = {column: None for column in COLUMNS}
    row.update(claim=claim.id, statement=claim.statement, dataset=dataset, paper=claim.paper,
               paper_value=claim.paper_value)
    row.update(fields)
    return row


def _not_measured(claim: Claim, dataset: str, why: str, **fields) -> dict:
    return _row(claim, dataset, verdict=NOT_MEASURED, basis=why, **fields)


def _lift_claim(claim: Claim, data: _Dataset, k: int, methods: list[str] | None) -> dict:
    metric = _metric_label(claim.metric, k)
    missing = [data.rel(p) for p in (data.tables / "lift.csv", data.tables / "metrics.csv",
                                     data.results / data.name / "sparsity" / "domains.parquet")
               if not p.exists()]
    if missing:
        return _not_measured(claim, data.name, f"missing {', '.join(missing)}", metric=metric)
    if methods is not None and METHOD not in methods:
        return _not_measured(claim, data.name, f"{METHOD} is not among the methods shown", metric=metric)
    domain = claim_domain(data.domains, data.domain_cases())
    if domain is None:
        return _not_measured(claim, data.name, f"no domain (other than {OTHER_DOMAIN!r}) has a test case", metric=metric)
    lifts = data.lifts
    rows = lifts.loc[(lifts["method"] == METHOD) & (lifts["reference"] == REFERENCE)
                     & (lifts["scope"] == "domain") & (lifts["domain"] == domain)
                     & (lifts["metric"] == claim.metric) & (lifts["k"] == k)]
    source = data.rel(data.tables / "lift.csv")
    if rows.empty:
        return _not_measured(claim, data.name, f"no {METHOD} row for {domain} {metric} in {source}",
                             domain=domain, metric=metric, source=source)
    r = rows.iloc[0]
    n_seeds = data.n_seeds(METHOD) or 0
    gap = evidence_gap(n_seeds, int(r["n_cases"]), domain, (r["ci_low"], r["ci_high"]))
    verdict = _judged(lift_verdict(r["lift"], r["ci_low"], r["ci_high"], claim.paper_value), gap)
    how = "" if domain == PAPER_DOMAIN else "the dataset's sparsest domain; "
    if verdict == NOT_MEASURED:
        why = (f"lift undefined: both models score 0 on the {int(r['n_cases'])} test cases of {domain}")
    else:
        ci = _ci_text(r["ci_low"], r["ci_high"])
        why = f"{how}{metric} {r['reference_value']:.4f} → {r['value']:.4f}, {100 * r['confidence']:g}% CI {ci}"
        why += f", p={r['p_value']:.3g}"
        if verdict == INCONCLUSIVE:
            why = _inconclusive_basis(gap, why)
    return _row(claim, data.name, domain=domain, metric=metric, measured=r["lift"], low=r["ci_low"],
                high=r["ci_high"], interval=f"{100 * r['confidence']:g}% bootstrap CI over users",
                n_cases=int(r["n_cases"]), seeds=data.seeds_text(METHOD), source=source,
                verdict=verdict, basis=why)


def _maintained_claim(claim: Claim, data: _Dataset, k: int, methods: list[str] | None) -> dict:
    missing = [data.rel(p) for p in (data.tables / "lift.csv",
                                     data.results / data.name / "sparsity" / "domains.parquet")
               if not p.exists()]
    if missing:
        return _not_measured(claim, data.name, f"missing {', '.join(missing)}")
    if methods is not None and METHOD not in methods:
        return _not_measured(claim, data.name, f"{METHOD} is not among the methods shown")
    dense = set(data.domains.loc[~data.domains["is_sparse"].astype(bool), "domain"]) - {OTHER_DOMAIN}
    lifts = data.lifts
    rows = lifts.loc[(lifts["method"] == METHOD) & (lifts["reference"] == REFERENCE)
                     & (lifts["scope"] == "domain") & lifts["domain"].isin(dense) & (lifts["k"] == k)
                     & lifts["metric"].isin(list(METRIC_LABELS))].copy()
    source = data.rel(data.tables / "lift.csv")
    if rows.empty:
        return _not_measured(claim, data.name, f"no {METHOD} rows of dense domains in {source}", source=source)
    n_seeds = data.n_seeds(METHOD) or 0
    rows["gap"] = [evidence_gap(n_seeds, int(r.n_cases), r.domain, (r.ci_low, r.ci_high)) for r in rows.itertuples()]
    rows["verdict"] = [_judged(maintained_verdict(r.lift, r.ci_low, r.ci_high), r.gap) for r in rows.itertuples()]
    verdict = weakest(rows["verdict"])
    judged = rows.loc[rows["verdict"].isin(list(_STRENGTH))]
    if verdict == NOT_MEASURED:
        return _not_measured(claim, data.name, "every dense domain's lift is undefined (generic scores 0)",
                             source=source)
    if verdict == INCONCLUSIVE:
        thin = rows.loc[rows["verdict"] == INCONCLUSIVE].sort_values(["n_cases", "domain", "metric"]).iloc[0]
        why = (f"no dense domain has enough evidence; e.g. {thin['domain']} "
               f"{_metric_label(thin['metric'], k)} {_percent(thin['lift'])}% {_ci_text(thin['ci_low'], thin['ci_high'])}")
        return _row(claim, data.name, domain=thin["domain"], metric=_metric_label(thin["metric"], k),
                    measured=thin["lift"], low=thin["ci_low"], high=thin["ci_high"],
                    interval=f"{100 * thin['confidence']:g}% bootstrap CI over users",
                    n_cases=int(thin["n_cases"]), seeds=data.seeds_text(METHOD), source=source,
                    verdict=verdict, basis=_inconclusive_basis(thin["gap"], why))
    judged = judged.assign(strength=judged["verdict"].map(_STRENGTH))
    decider = judged.sort_values(["strength", "ci_high", "lift", "domain", "metric"]).iloc[0]
    worse = int((judged["ci_high"] < 0).sum())
    below = int((judged["lift"] < -DENSE_TOLERANCE).sum())
    undefined = int((rows["verdict"] == NOT_MEASURED).sum())
    thin = int((rows["verdict"] == INCONCLUSIVE).sum())
    skipped = [f"{undefined} undefined lift{'' if undefined == 1 else 's'}"] if undefined else []
    if thin:
        skipped.append(f"{thin} lift{'' if thin == 1 else 's'} with thin evidence")
    why = (f"{judged['domain'].nunique()} dense domains × Recall/NDCG judged"
           + (f" ({' and '.join(skipped)} skipped)" if skipped else "")
           + f"; {worse} significantly worse (CI below 0), {below} below −{100 * DENSE_TOLERANCE:g}% on the "
           f"point estimate; shown: the deciding one, {decider['domain']} {_metric_label(decider['metric'], k)} "
           f"{_ci_text(decider['ci_low'], decider['ci_high'])}")
    return _row(claim, data.name, domain=decider["domain"], metric=_metric_label(decider["metric"], k),
                measured=decider["lift"], low=decider["ci_low"], high=decider["ci_high"],
                interval=f"{100 * decider['confidence']:g}% bootstrap CI over users",
                n_cases=int(decider["n_cases"]), seeds=data.seeds_text(METHOD), source=source,
                verdict=verdict, basis=why)


def _overhead_claim(claim: Claim, data: _Dataset, seeds, methods: list[str] | None) -> dict:
    runs = data.results / data.name / "runs"
    files = _seed_dirs(runs / METHOD, "timing.json", seeds)
    source = data.rel(runs / METHOD / "seed*" / "timing.json")
    if (methods is not None and METHOD not in methods) or not files:
        return _not_measured(claim, data.name, f"no {source}", source=source)
    shares = np.array([json.loads(p.read_text())["weighting_share_of_training"] for p in files.values()])
    mean, low, high = float(shares.mean()), float(shares.min()), float(shares.max())
    why = f"weighting time / training time over {len(shares)} dynamic run(s)"
    generic = _seed_dirs(runs / REFERENCE, "timing.json", seeds)
    if generic:
        base = np.mean([json.loads(p.read_text())["weighting_share_of_training"] for p in generic.values()])
        why += f"; the same timer in the generic runs (constant weights): {100 * base:.2f}%"
    gap = evidence_gap(len(shares))
    verdict = _judged(below_verdict(mean, low, high, claim.paper_value), gap)
    if verdict == INCONCLUSIVE:
        why = _inconclusive_basis(gap, why)
    return _row(claim, data.name, measured=mean, low=low, high=high,
                interval=f"range over {len(shares)} run(s)", seeds=_seeds_text(files), source=source,
                verdict=verdict, basis=why)


def _pooled_lifts(runs: pd.DataFrame, users: np.ndarray | None, k: int, reference: str,
                  n_bootstrap: int, confidence: float, seed: int) -> pd.DataFrame:
    """Lifts of every method over `reference` on the test cases of `users` (None: all), by metric."""
    from seqrec.stats import lift_table

    part = runs if users is None else runs.loc[runs["user"].isin(users)]
    empty = [[] for _ in range(len(part))]
    # One group only: the pooled cases ("overall" of the part), not every domain again.
    part = part.assign(domains=empty, power_domains=empty)
    table = lift_table(part, [k], reference, n_bootstrap, confidence, seed)
    return table.loc[(table["method"] == METHOD) & (table["scope"] == "overall")].set_index("metric")


def _baseline_claim(claim: Claim, data: _Dataset, k: int, seeds, methods: list[str] | None,
                    n_bootstrap: int, bootstrap_seed: int) -> dict:
    from seqrec.stats import load_runs

    label = BASELINES[claim.baseline]
    evals = data.results / data.name / "eval"
    ours = _seed_dirs(evals / METHOD, "per_case.parquet", seeds)
    theirs = _seed_dirs(evals / claim.baseline, "per_case.parquet", seeds)
    common = sorted(set(ours) & set(theirs))
    source = data.rel(evals / f"{{{METHOD},{claim.baseline}}}" / "seed*" / "per_case.parquet")
    shown = methods is None or (METHOD in methods and claim.baseline in methods)
    if not shown or not common:
        lacking = [m for m, found in ((METHOD, ours), (claim.baseline, theirs)) if not found]
        why = (f"{label} was not run ({', '.join(lacking)}: no per-case results)" if lacking
               else f"no seed with per-case results of both {METHOD} and {claim.baseline}")
        if not shown:
            why = f"{METHOD} and {claim.baseline} are not both among the methods shown"
        return _not_measured(claim, data.name, why, source=source)
    paths = {(m, s): evals / m / f"seed{s}" / "per_case.parquet" for m in (claim.baseline, METHOD) for s in common}
    runs = load_runs(paths, [k])
    confidence = 0.95
    if data.lifts is not None and len(data.lifts):
        confidence = float(data.lifts["confidence"].iloc[0])
    cases = runs.loc[runs["method"] == claim.baseline].drop_duplicates("user")
    sparse = set()
    if data.domains is not None:
        sparse = set(data.domains.loc[data.domains["is_sparse"].astype(bool), "domain"])
    in_sparse = cases["domains"].map(lambda ds: bool(sparse.intersection(map(str, ds))))
    pooled_users = cases.loc[in_sparse, "user"].to_numpy()
    where = "sparse-domain test cases" if len(pooled_users) else "all test cases (no sparse-domain test case)"
    focus = _pooled_lifts(runs, pooled_users if len(pooled_users) else None, k, claim.baseline,
                          n_bootstrap, confidence, bootstrap_seed)
    overall = _pooled_lifts(runs, None, k, claim.baseline, n_bootstrap, confidence, bootstrap_seed)
    measured_on = "sparse domains" if len(pooled_users) else "the dataset"
    gaps = {m: evidence_gap(len(common), int(r.n_cases), measured_on, (r.ci_low, r.ci_high))
            for m, r in focus.iterrows()}
    verdicts = {m: _judged(improvement_verdict(r.lift, r.ci_low, r.ci_high), gaps[m]) for m, r in focus.iterrows()}
    verdict = weakest(verdicts.values())
    judged = focus.assign(strength=[_STRENGTH.get(verdicts[m], 3) for m in focus.index])
    decider_metric = judged.sort_values(["strength", "ci_low"]).index[0]
    d = focus.loc[decider_metric]
    parts = [f"{_metric_label(m, k)} {_percent(r.lift)}% {_ci_text(r.ci_low, r.ci_high)}" for m, r in focus.iterrows()]
    alls = [f"{_metric_label(m, k)} {_percent(r.lift)}%" for m, r in overall.iterrows()]
    why = f"{where} ({int(d['n_cases'])}): {'; '.join(parts)}. All test cases: {'; '.join(alls)}"
    if verdict == INCONCLUSIVE:
        why = _inconclusive_basis(gaps[decider_metric], why)
    return _row(claim, data.name, domain="sparse domains" if len(pooled_users) else "all",
                metric=_metric_label(decider_metric, k), measured=d["lift"], low=d["ci_low"], high=d["ci_high"],
                interval=f"{100 * confidence:g}% bootstrap CI over users", n_cases=int(d["n_cases"]),
                seeds=_seeds_text(common), source=source, verdict=verdict, basis=why)


def discover_datasets(results_dir: str | os.PathLike) -> list[str]:
    """Datasets with aggregated tables (results/tables/{dataset}/metrics.csv) or training runs."""
    results = Path(results_dir)
    found = {p.parent.name for p in (results / "tables").glob("*/metrics.csv")}
    found |= {p.parent.name for p in results.glob("*/runs") if p.is_dir()}
    return sorted(found)


def claims_table(
    results_dir: str | os.PathLike,
    datasets: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    seeds: Iterable[int] | None = None,
    k: int = PAPER_K,
    n_bootstrap: int = 1000,
    bootstrap_seed: int = 0,
) -> pd.DataFrame:
    """One row per (claim, dataset) with the paper's value, this run's value and the verdict.

    Reads results/tables/{dataset}/metrics.csv and lift.csv, results/{dataset}/sparsity/
    domains.parquet, results/{dataset}/runs/{dynamic,generic}/seed*/timing.json and
    results/{dataset}/eval/{dynamic,<baseline>}/seed*/per_case.parquet; whatever is absent makes
    the claims that need it "not measured in this run". `methods` and `seeds` (None: all found)
    restrict what is read from the runs.
    """
    results = Path(results_dir)
    datasets = list(datasets) if datasets is not None else discover_datasets(results)
    methods = list(methods) if methods is not None else None
    rows = []
    for name in datasets:
        data = _Dataset(results, name)
        for claim in CLAIMS:
            if claim.kind == "lift":
                rows.append(_lift_claim(claim, data, k, methods))
            elif claim.kind == "maintained":
                rows.append(_maintained_claim(claim, data, k, methods))
            elif claim.kind == "overhead":
                rows.append(_overhead_claim(claim, data, seeds, methods))
            else:
                rows.append(_baseline_claim(claim, data, k, seeds, methods, n_bootstrap, bootstrap_seed))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.astype({"measured": float, "low": float, "high": float, "paper_value": float,
                         "n_cases": "Int64"})

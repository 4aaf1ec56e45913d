"""The claims table: one row per (claim, dataset) with the paper's value, this run's value and the
verdict of seqrec.claims, from the run's tables, domain statistics, timings and per-case results.

Every claim is judged per dataset on what the run's config produced; a method the run did not
train makes the claims that need it "not measured in this run".
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seqrec.claims import (
    BASELINES, CLAIMS, DENSE_TOLERANCE, INCONCLUSIVE, METHOD, NOT_MEASURED, NOT_REPRODUCED, PAPER_DOMAIN, PARTLY,
    REFERENCE, REPRODUCED, STRENGTH, Claim, below_verdict, claim_domain, evidence_gap, improvement_verdict,
    inconclusive_basis, judged_verdict, lift_verdict, maintained_verdict, weakest, weighting,
)
from seqrec.datasets.base import OTHER_DOMAIN
from seqrec.io import read_json
from seqrec.report.format import ci_text, interval, metric_label, missing, percent
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts
from seqrec.stats import METRIC_LABELS, load_runs, pooled_lifts

COLUMNS = [
    "claim", "statement", "dataset", "domain", "metric", "paper", "paper_value", "measured",
    "low", "high", "interval", "n_cases", "seeds", "source", "verdict", "basis", "weighting",
]
COLORS = {REPRODUCED: "#c7e9c0", PARTLY: "#fff3b0", NOT_REPRODUCED: "#f4c2c2", INCONCLUSIVE: "#d0e2f3",
          NOT_MEASURED: "#e6e6e6"}
LINE_COLORS = {REPRODUCED: "#2b8a3e", PARTLY: "#b08800", NOT_REPRODUCED: "#c92a2a", INCONCLUSIVE: "#3d72b4"}
CLAIM_LABELS = {c.id: f"({c.id.split('-')[0]}) {c.statement}" for c in CLAIMS}


class Evidence:
    """What one dataset of the run offers the claims: its tables, domains and the runs' files."""

    def __init__(self, run: Run, dataset: str):
        self.run, self.name = run, dataset
        self.metrics, self.lifts = run.aggregated(dataset)
        self.domains = run.domains(dataset)

    def rel(self, path: Path) -> str:
        """A path as shown in the table: relative to the results folder's parent."""
        results = self.run.layout.results
        return str(Path(results.name) / Path(path).relative_to(results))

    def ran(self, method: str) -> bool:
        return method in self.run.methods

    def n_seeds(self, method: str) -> int:
        rows = self.metrics.loc[self.metrics["method"] == method, "n_seeds"]
        return int(rows.max()) if len(rows) else 0

    def seeds_text(self, method: str) -> str:
        """The seeds aggregated in the tables: "n (s1, s2, ...)"."""
        n, seeds = self.n_seeds(method), self.run.seeds
        return seeds_text(seeds) if n == len(seeds) else str(n)

    def domain_cases(self) -> pd.Series:
        """Test cases per domain from the reference's rows of metrics.csv."""
        m = self.metrics
        rows = m.loc[(m["method"] == REFERENCE) & (m["scope"] == "domain")]
        return rows.groupby("domain")["n_cases"].max()

    def path(self, name: str, /, **wildcards) -> Path:
        return self.run.path(name, dataset=self.name, **wildcards)


def seeds_text(seeds) -> str:
    seeds = list(seeds)
    return f"{len(seeds)} ({', '.join(map(str, seeds))})" if seeds else ""


def _row(claim: Claim, dataset: str, **fields) -> dict:
    row = {column: None for column in COLUMNS}
    row.update(claim=claim.id, statement=claim.statement, dataset=dataset, paper=claim.paper,
               paper_value=claim.paper_value)
    row.update(fields)
    return row


def _not_measured(claim: Claim, dataset: str, why: str, **fields) -> dict:
    return _row(claim, dataset, verdict=NOT_MEASURED, basis=why, **fields)


def _bootstrap_interval(data: Evidence) -> str:
    return f"{100 * data.run.config['aggregate']['confidence']:g}% bootstrap CI over users"


def lift_claim(claim: Claim, data: Evidence) -> dict:
    k, metric = data.run.k, metric_label(claim.metric, data.run.k)
    if not data.ran(METHOD):
        return _not_measured(claim, data.name, f"{METHOD} is not among the run's methods", metric=metric)
    domain = claim_domain(data.domains, data.domain_cases())
    if domain is None:
        return _not_measured(claim, data.name, f"no domain (other than {OTHER_DOMAIN!r}) has a test case", metric=metric)
    lifts = data.lifts
    rows = lifts.loc[(lifts["method"] == METHOD) & (lifts["reference"] == REFERENCE)
                     & (lifts["scope"] == "domain") & (lifts["domain"] == domain)
                     & (lifts["metric"] == claim.metric) & (lifts["k"] == k)]
    source = data.rel(data.path("lift_table"))
    if rows.empty:
        return _not_measured(claim, data.name, f"no {METHOD} row for {domain} {metric} in {source}",
                             domain=domain, metric=metric, source=source)
    r = rows.iloc[0]
    gap = evidence_gap(data.n_seeds(METHOD), int(r["n_cases"]), domain, (r["ci_low"], r["ci_high"]))
    verdict = judged_verdict(lift_verdict(r["lift"], r["ci_low"], r["ci_high"], claim.paper_value), gap)
    how = "" if domain == PAPER_DOMAIN else "the dataset's sparsest domain; "
    if verdict == NOT_MEASURED:
        why = f"lift undefined: both models score 0 on the {int(r['n_cases'])} test cases of {domain}"
    else:
        why = (f"{how}{metric} {r['reference_value']:.4f} → {r['value']:.4f}, {100 * r['confidence']:g}% CI "
               f"{ci_text(r['ci_low'], r['ci_high'])}, p={r['p_value']:.3g}")
        if verdict == INCONCLUSIVE:
            why = inconclusive_basis(gap, why)
    return _row(claim, data.name, domain=domain, metric=metric, measured=r["lift"], low=r["ci_low"],
                high=r["ci_high"], interval=f"{100 * r['confidence']:g}% bootstrap CI over users",
                n_cases=int(r["n_cases"]), seeds=data.seeds_text(METHOD), source=source,
                verdict=verdict, basis=why)


def maintained_claim(claim: Claim, data: Evidence) -> dict:
    k = data.run.k
    if not data.ran(METHOD):
        return _not_measured(claim, data.name, f"{METHOD} is not among the run's methods")
    dense = set(data.domains.loc[~data.domains["is_sparse"].astype(bool), "domain"]) - {OTHER_DOMAIN}
    lifts = data.lifts
    rows = lifts.loc[(lifts["method"] == METHOD) & (lifts["reference"] == REFERENCE)
                     & (lifts["scope"] == "domain") & lifts["domain"].isin(dense) & (lifts["k"] == k)
                     & lifts["metric"].isin(list(METRIC_LABELS))].copy()
    source = data.rel(data.path("lift_table"))
    if rows.empty:
        return _not_measured(claim, data.name, f"no {METHOD} rows of dense domains in {source}", source=source)
    n_seeds = data.n_seeds(METHOD)
    rows["gap"] = [evidence_gap(n_seeds, int(r.n_cases), r.domain, (r.ci_low, r.ci_high)) for r in rows.itertuples()]
    rows["verdict"] = [judged_verdict(maintained_verdict(r.lift, r.ci_low, r.ci_high), r.gap) for r in rows.itertuples()]
    verdict = weakest(rows["verdict"])
    if verdict == NOT_MEASURED:
        return _not_measured(claim, data.name, "every dense domain's lift is undefined (generic scores 0)",
                             source=source)
    if verdict == INCONCLUSIVE:
        decider = rows.loc[rows["verdict"] == INCONCLUSIVE].sort_values(["n_cases", "domain", "metric"]).iloc[0]
        why = (f"no dense domain has enough evidence; e.g. {decider['domain']} {metric_label(decider['metric'], k)} "
               f"{percent(decider['lift'])}% {ci_text(decider['ci_low'], decider['ci_high'])}")
        why = inconclusive_basis(decider["gap"], why)
    else:
        judged = rows.loc[rows["verdict"].isin(list(STRENGTH))]
        judged = judged.assign(strength=judged["verdict"].map(STRENGTH))
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
               f"point estimate; shown: the deciding one, {decider['domain']} {metric_label(decider['metric'], k)} "
               f"{ci_text(decider['ci_low'], decider['ci_high'])}")
    return _row(claim, data.name, domain=decider["domain"], metric=metric_label(decider["metric"], k),
                measured=decider["lift"], low=decider["ci_low"], high=decider["ci_high"],
                interval=f"{100 * decider['confidence']:g}% bootstrap CI over users",
                n_cases=int(decider["n_cases"]), seeds=data.seeds_text(METHOD), source=source,
                verdict=verdict, basis=why)


def overhead_claim(claim: Claim, data: Evidence) -> dict:
    source = data.rel(data.path("timing", method=METHOD, seed="*"))
    if not data.ran(METHOD):
        return _not_measured(claim, data.name, f"{METHOD} is not among the run's methods", source=source)
    seeds = data.run.seeds

    def shares(method: str) -> np.ndarray:
        return np.array([read_json(data.path("timing", method=method, seed=s))["weighting_share_of_training"]
                         for s in seeds])

    ours = shares(METHOD)
    mean, low, high = float(ours.mean()), float(ours.min()), float(ours.max())
    why = (f"weighting time / training time over {len(ours)} dynamic run(s); the same timer in the generic runs "
           f"(constant weights): {100 * shares(REFERENCE).mean():.2f}%")
    gap = evidence_gap(len(ours))
    verdict = judged_verdict(below_verdict(mean, low, high, claim.paper_value), gap)
    if verdict == INCONCLUSIVE:
        why = inconclusive_basis(gap, why)
    return _row(claim, data.name, measured=mean, low=low, high=high, interval=f"range over {len(ours)} run(s)",
                seeds=seeds_text(seeds), source=source, verdict=verdict, basis=why)


def baseline_claim(claim: Claim, data: Evidence) -> dict:
    run, k, label = data.run, data.run.k, BASELINES[claim.baseline]
    source = data.rel(data.path("per_case", method=f"{{{METHOD},{claim.baseline}}}", seed="*"))
    lacking = [m for m in (METHOD, claim.baseline) if not data.ran(m)]
    if lacking:
        return _not_measured(claim, data.name, f"{label} was not run ({', '.join(lacking)}: not among the run's "
                                                "methods)", source=source)
    paths = {(m, s): data.path("per_case", method=m, seed=s) for m in (claim.baseline, METHOD) for s in run.seeds}
    runs = load_runs(paths, [k])
    settings = run.config["aggregate"]
    cases = runs.loc[runs["method"] == claim.baseline].drop_duplicates("user")
    sparse = set(data.domains.loc[data.domains["is_sparse"].astype(bool), "domain"])
    in_sparse = cases["domains"].map(lambda ds: bool(sparse.intersection(map(str, ds))))
    pooled_users = cases.loc[in_sparse, "user"].to_numpy()
    where = "sparse-domain test cases" if len(pooled_users) else "all test cases (no sparse-domain test case)"

    def lifts(users) -> pd.DataFrame:
        table = pooled_lifts(runs, users, k, claim.baseline, settings["n_bootstrap"], settings["confidence"],
                             settings["seed"])
        return table.loc[table["method"] == METHOD].set_index("metric")

    focus, overall = lifts(pooled_users if len(pooled_users) else None), lifts(None)
    measured_on = "sparse domains" if len(pooled_users) else "the dataset"
    gaps = {m: evidence_gap(len(run.seeds), int(r.n_cases), measured_on, (r.ci_low, r.ci_high))
            for m, r in focus.iterrows()}
    verdicts = {m: judged_verdict(improvement_verdict(r.lift, r.ci_low, r.ci_high), gaps[m])
                for m, r in focus.iterrows()}
    verdict = weakest(verdicts.values())
    judged = focus.assign(strength=[STRENGTH.get(verdicts[m], 3) for m in focus.index])
    decider_metric = judged.sort_values(["strength", "ci_low"]).index[0]
    d = focus.loc[decider_metric]
    parts = [f"{metric_label(m, k)} {percent(r.lift)}% {ci_text(r.ci_low, r.ci_high)}" for m, r in focus.iterrows()]
    alls = [f"{metric_label(m, k)} {percent(r.lift)}%" for m, r in overall.iterrows()]
    why = f"{where} ({int(d['n_cases'])}): {'; '.join(parts)}. All test cases: {'; '.join(alls)}"
    if verdict == INCONCLUSIVE:
        why = inconclusive_basis(gaps[decider_metric], why)
    return _row(claim, data.name, domain="sparse domains" if len(pooled_users) else "all",
                metric=metric_label(decider_metric, k), measured=d["lift"], low=d["ci_low"], high=d["ci_high"],
                interval=_bootstrap_interval(data), n_cases=int(d["n_cases"]),
                seeds=seeds_text(run.seeds), source=source, verdict=verdict, basis=why)


JUDGES = {"lift": lift_claim, "maintained": maintained_claim, "overhead": overhead_claim, "baseline": baseline_claim}


def table(run: Run) -> pd.DataFrame:
    """One row per (claim, dataset) with the paper's value, this run's value, the verdict and the
    dynamic weighting it judged (none where the run did not train dynamic)."""
    rows = []
    for dataset in run.datasets:
        data = Evidence(run, dataset)
        rows += [JUDGES[claim.kind](claim, data) for claim in CLAIMS]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if METHOD in run.methods:
        frame["weighting"] = weighting(run.config["sparsity"]["dynamic"])
    return frame.astype({"measured": float, "low": float, "high": float, "paper_value": float, "n_cases": "Int64"})


def format_measured(row, plain: bool = False) -> str:
    """The measured value of a claims-table row as text: a lift with its CI, or a share with its range.

    plain: ASCII only (for LaTeX), e.g. "+12.3% [-5.0, +30.1]" or "+12.3% [-5.0, +inf)".
    """
    value = row.get("measured")
    if missing(value):
        return "-" if plain else "–"
    low, high = (float("nan") if missing(row.get(c)) else float(row.get(c)) for c in ("low", "high"))
    if str(row.get("claim", "")).startswith("d"):  # a share of the training time, with its range over runs
        text = f"{percent(value, False, plain)}%"
        if not (math.isnan(low) or math.isnan(high)):
            text += f" (runs: {percent(low, False, plain)}-{percent(high, False, plain)}%)"
        return text
    bounds = interval(low, high, plain)
    return f"{percent(value, True, plain)}%" + (f" {bounds}" if bounds else "")


def where(row) -> str:
    """Domain, metric, test cases and seeds of a measurement, as one cell."""
    parts = [str(row[c]) for c in ("domain", "metric") if isinstance(row[c], str) and row[c]]
    if not missing(row["n_cases"]):
        parts.append(f"{int(row['n_cases']):,} test cases")
    if isinstance(row["seeds"], str) and row["seeds"]:
        parts.append(f"seeds: {row['seeds']}")
    return ", ".join(parts) or "–"


def display_frame(table: pd.DataFrame, plain: bool = False) -> pd.DataFrame:
    """The claims table as the strings shown (plain: ASCII for LaTeX)."""
    records = table.to_dict("records")
    return pd.DataFrame({
        "Claim": table["claim"].map(CLAIM_LABELS),
        "Dataset": table["dataset"],
        "Paper": table["paper"].str.replace("≥", ">=") if plain else table["paper"],
        "This run": [format_measured(r, plain=plain) for r in records],
        "Where": [where(r) for r in records],
        "Verdict": table["verdict"],
        "Basis": table["basis"].fillna(""),
    })


def styled(run: Run, table: pd.DataFrame):
    return (
        display_frame(table).style.hide(axis="index")
        .map(lambda v: f"background-color: {COLORS.get(v, '')}; font-weight: bold", subset=["Verdict"])
        .set_properties(subset=["Basis", "Where"], **{"font-size": "85%"})
        .set_properties(**{"text-align": "left", "vertical-align": "top"})
        .set_table_styles([{"selector": "th", "props": "text-align: left"}])
        .set_caption(f"The paper's claims and this run's measurements (k = {run.k})")
    )


def weightings(table: pd.DataFrame) -> str:
    """The dynamic weighting(s) the claims table's verdicts judged, as one sentence."""
    used = list(pd.unique(table["weighting"].dropna()))
    if not used:
        return f"No verdict judges a dynamic weighting: the run did not train {METHOD}."
    return (f"Every verdict judges {METHOD} trained with the dynamic weighting of the run's config "
            f"(sparsity.dynamic): {'; '.join(used)}.")


def latex(run: Run, table: pd.DataFrame) -> str:
    """A booktabs table: claim, dataset, paper, this run, where, verdict."""
    from seqrec.report.format import latex_table, tex

    frame = display_frame(table, plain=True).drop(columns="Basis")
    frame["Where"] = frame["Where"].str.replace("–", "-")
    # "<" and ">" print as other glyphs in LaTeX text mode; the paper's bounds need math mode.
    cell = lambda v: tex(v).replace("<", "$<$").replace(">", "$>$")
    rows = [[cell(v) for v in values] for values in frame.to_numpy()]
    caption = ("The paper's claims next to this run's measurements. Lifts are relative changes over "
               "the generic model with a bootstrap confidence interval over users; the overhead is the "
               "mean share of training time spent on the dynamic weights, with its range over runs. "
               f"Verdicts follow the rules of src/seqrec/claims.py. {tex(weightings(table))}")
    return latex_table([frame.columns[0]], [("", list(frame.columns[1:]))], [(None, rows)], caption, "tab:claims")


def lift_figure(table: pd.DataFrame):
    """Each measured lift claim with its CI, the paper's value as a diamond; None if nothing to plot."""
    rows = table.loc[table["claim"].str[0].isin(["a", "b", "c", "e"]) & np.isfinite(table["measured"])]
    if rows.empty:
        return None
    rows = rows.iloc[::-1]
    finite = np.concatenate([rows["measured"], rows["low"], rows["high"], rows["paper_value"]])
    finite = 100 * finite[np.isfinite(finite)]
    span = max(finite.max() - finite.min(), 10.0)
    left, right = finite.min() - 0.08 * span, finite.max() + 0.08 * span
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.4), layout="constrained")
    for y, r in enumerate(rows.itertuples()):
        color = LINE_COLORS.get(r.verdict, "0.5")
        x, low, high = 100 * r.measured, 100 * r.low, 100 * r.high
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([low, high], [y, y], color=color, linewidth=2)
        elif np.isfinite(low):  # unbounded above: an arrow to the edge
            ax.annotate("", xy=(right, y), xytext=(low, y), arrowprops=dict(arrowstyle="->", color=color, linewidth=2))
        ax.plot([min(max(x, left), right)], [y], "o", color=color, ms=7)
        if r.claim in ("a", "b"):
            ax.plot([100 * r.paper_value], [y], "D", mfc="white", mec="black", ms=7)
    ax.axvline(0, color="black", linewidth=0.8)
    labels = [f"{r.dataset}: ({r.claim.split('-')[0]}) " + {
        "a": f"{r.domain} {r.metric}", "b": f"{r.domain} {r.metric}",
        "c": f"worst dense domain, {r.domain} {r.metric}",
    }.get(r.claim, f"vs {BASELINES.get(r.claim[2:], r.claim[2:])}, {r.domain}, {r.metric}") for r in rows.itertuples()]
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.set_xlim(left, right)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("lift (%): dynamic over generic (a-c) or over the baseline (e)")
    ax.grid(axis="x", color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    handles = [plt.Line2D([], [], color=c, marker="o", linewidth=2, label=v) for v, c in LINE_COLORS.items()]
    handles.append(plt.Line2D([], [], marker="D", mfc="white", mec="black", linestyle="", label="the paper's value"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    ax.set_title("Measured lifts with their confidence intervals, coloured by verdict", fontsize=11)
    return fig


TABLES = {"claims": Table(artifacts("metrics_table", "lift_table", "domains", "timing", "per_case"), table, latex)}

"""The rule that chooses the dynamic weighting's default (docs/weighting.md, "Choosing the default:
the selection rule"), applied to the validation split.

Candidates are the `dynamic` method and every ablation variant whose method is dynamic, each
compared with `generic` of its own seeds, case by case. Per dataset: the lift of NDCG@k on the
validation cases whose target is in a sparse domain (pooled), and the dense domain (not sparse, not
"other") whose lift interval has the lowest upper bound. The rows of dataset "all" apply the rule:
the score is the mean over datasets of the pooled sparse lift, its interval the percentile interval
of that mean over paired bootstrap resamples (users resampled within each dataset); a candidate is
admissible when no dense domain of any dataset has its upper bound below -2%; the rule chooses the
admissible candidate of the largest score (a tie within 0.1 percentage points goes to the one that
changes fewer settings of the run's `sparsity` section), else the one whose worst upper bound is
highest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqrec.config import ablation_config, run_of
from seqrec.datasets.base import OTHER_DOMAIN
from seqrec.io import InputError
from seqrec.report.format import DASH, TEX_DASH, count, lift_cell, tex, latex_table, metric_label
from seqrec.report.run import REFERENCE, Run
from seqrec.report.tables import Table
from seqrec.stats import bootstrap_lifts, lift_table, load_runs, percentile_interval

EVIDENCE = "valid_per_case"  # the per-case results the rule reads: those of the validation split
METRIC = "ndcg"
DENSE_FLOOR = -0.02  # a dense domain whose lift interval lies wholly below this makes a candidate inadmissible
TIE = 0.001  # scores within 0.1 percentage points are a tie
ALL = "all"  # the dataset of the rows that apply the rule over every dataset

COLUMNS = [
    "dataset", "candidate", "changes", "n_changes", "seeds", "n_seeds",
    "sparse_cases", "sparse_lift", "sparse_ci_low", "sparse_ci_high",
    "worst_dense_dataset", "worst_dense_domain", "worst_dense_cases",
    "worst_dense_lift", "worst_dense_ci_low", "worst_dense_ci_high", "admissible", "chosen",
]
WORST = ["worst_dense_dataset", "worst_dense_domain", "worst_dense_cases", "worst_dense_lift",
         "worst_dense_ci_low", "worst_dense_ci_high"]


@dataclass(frozen=True)
class Candidate:
    name: str  # `dynamic` or an ablation variant: the method of its runs' paths
    seeds: tuple[int, ...]
    changes: tuple[str, ...]  # the sparsity settings it changes from the run's, "dynamic.alpha=1.0"


def changed_settings(default: dict, variant: dict, prefix: str = "") -> list[str]:
    """The leaves of `variant` that differ from `default`, as "key.key=value"."""
    changes = []
    for key, value in variant.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            changes += changed_settings(default.get(key, {}), value, f"{name}.")
        elif default.get(key) != value:
            changes.append(f"{name}={value}")
    return changes


def applies(config: dict) -> bool:
    """Whether a run of `config` has a candidate of the rule: the `dynamic` method, or an enabled
    ablation variant with method dynamic."""
    ablations = config["ablations"]
    variants = ablations["variants"].values() if ablations["enabled"] else []
    return "dynamic" in config["methods"] or any(v["method"] == "dynamic" for v in variants)


def candidates(run: Run) -> list[Candidate]:
    """The candidates of the rule in this run: `dynamic` (if configured), then the dynamic variants."""
    found = [Candidate("dynamic", tuple(run.seeds), ())] if "dynamic" in run.methods else []
    ablations = run.config["ablations"]
    if ablations["enabled"]:
        seeds = tuple(int(s) for s in ablations["seeds"])
        for name, variant in ablations["variants"].items():
            if variant["method"] == "dynamic":
                changes = changed_settings(run.config["sparsity"], ablation_config(run.config, name)["sparsity"])
                found.append(Candidate(name, seeds, tuple(changes)))
    if not found:
        raise InputError("config: the weighting selection has no candidate; add `dynamic` to `methods` or an "
                         "ablation variant with method dynamic to `ablations.variants`")
    return found


def inputs(run: Run) -> list[Path]:
    """Every dataset's domain table and the per-case results of generic and of each candidate."""
    paths = [run.path("domains", dataset=d) for d in run.datasets]
    listed = candidates(run)
    reference_seeds = sorted({s for c in listed for s in c.seeds})
    for dataset in run.datasets:
        paths += run.layout.expand(EVIDENCE, dataset=dataset, method=REFERENCE, seed=reference_seeds)
        for candidate in listed:
            paths += run.layout.expand(EVIDENCE, dataset=dataset, method=run_of(run.config, candidate.name),
                                       seed=list(candidate.seeds))
    return list(dict.fromkeys(paths))


def _quantiles(run: Run) -> tuple[float, float]:
    tail = (1.0 - run.config["aggregate"]["confidence"]) / 2.0
    return tail, 1.0 - tail


def _worst_dense(lifts: pd.DataFrame, dense: set[str], dataset: str) -> pd.DataFrame:
    """Per candidate (method), its dense domain of the lowest upper bound, in the WORST columns."""
    rows = lifts.loc[(lifts["scope"] == "domain") & lifts["domain"].isin(dense) & lifts["ci_high"].notna()]
    worst = rows.sort_values(["ci_high", "domain"]).drop_duplicates("method").set_index("method")
    return pd.DataFrame({
        "worst_dense_dataset": dataset, "worst_dense_domain": worst["domain"],
        "worst_dense_cases": worst["n_cases"], "worst_dense_lift": worst["lift"],
        "worst_dense_ci_low": worst["ci_low"], "worst_dense_ci_high": worst["ci_high"],
    })


def dataset_rows(run: Run, dataset: str, group: list[Candidate], rng: np.random.Generator
                 ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The rows of `dataset` for candidates of the same seeds, and each one's bootstrap lifts on
    the pooled sparse cases (one per resample)."""
    names, seeds = [c.name for c in group], list(group[0].seeds)
    k, aggregate = run.k, run.config["aggregate"]
    paths = {(m, s): run.path(EVIDENCE, dataset=dataset, method=run_of(run.config, m), seed=s)
             for m in [REFERENCE, *names] for s in seeds}
    runs = load_runs(paths, [k])
    column = f"{METRIC}@{k}"

    domains = run.domains(dataset)
    sparse = set(domains.loc[domains["is_sparse"].astype(bool), "domain"]) - {OTHER_DOMAIN}
    dense = set(domains["domain"]) - sparse - {OTHER_DOMAIN}
    lifts = lift_table(runs, [k], REFERENCE, aggregate["n_bootstrap"], aggregate["confidence"], aggregate["seed"])
    worst = _worst_dense(lifts.loc[lifts["metric"] == METRIC], dense, dataset)

    # values[user, method]: the per-user mean over seeds of the sparse cases, generic first.
    per_user = runs.groupby(["user", "method"])[column].mean().unstack("method")[[REFERENCE, *names]]
    # A user's validation case is the same in every seed.
    cases = runs.loc[runs["method"] == REFERENCE].drop_duplicates("user").set_index("user")["domains"]
    in_sparse = cases.map(lambda target_domains: not sparse.isdisjoint(target_domains))
    values = per_user.loc[in_sparse[in_sparse].index].to_numpy(np.float64)
    if len(values):
        means = values.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = means[1:] / means[0] - 1.0
        draws = bootstrap_lifts(values, aggregate["n_bootstrap"], rng)
        low, high = percentile_interval(draws, _quantiles(run))
    else:  # no validation case in a sparse domain: the dataset has no say in the score
        lift = low = high = np.full(len(names), np.nan)
        draws = np.full((aggregate["n_bootstrap"], len(names)), np.nan)

    rows = pd.DataFrame({
        "dataset": dataset, "candidate": names, "sparse_cases": len(values),
        "sparse_lift": lift, "sparse_ci_low": low, "sparse_ci_high": high,
    }).join(worst, on="candidate")
    return rows, {name: draws[:, i] for i, name in enumerate(names)}


def choose(rule_rows: pd.DataFrame) -> str:
    """The candidate the rule chooses among the rows of dataset "all" (in candidate order)."""
    rows = rule_rows.assign(order=np.arange(len(rule_rows)))
    admissible = rows.loc[rows["admissible"] & rows["sparse_lift"].notna()]
    if admissible.empty:
        fallback = rows.sort_values(["worst_dense_ci_high", "order"], ascending=[False, True])
        return str(fallback["candidate"].iloc[0])
    tied = admissible.loc[admissible["sparse_lift"] >= admissible["sparse_lift"].max() - TIE]
    best = tied.sort_values(["n_changes", "sparse_lift", "order"], ascending=[True, False, True])
    return str(best["candidate"].iloc[0])


def table(run: Run) -> pd.DataFrame:
    """Per candidate, its rows of every dataset, then its row of dataset "all" (the rule)."""
    listed = candidates(run)
    rng = np.random.default_rng(run.config["aggregate"]["seed"])
    per_dataset, draws = [], {c.name: [] for c in listed}
    for dataset in run.datasets:
        for seeds in dict.fromkeys(c.seeds for c in listed):
            rows, sparse_draws = dataset_rows(run, dataset, [c for c in listed if c.seeds == seeds], rng)
            per_dataset.append(rows)
            for name, values in sparse_draws.items():
                draws[name].append(values)
    frame = pd.concat(per_dataset, ignore_index=True)
    frame["admissible"] = ~(frame["worst_dense_ci_high"] < DENSE_FLOOR)

    rule = []
    for candidate in listed:
        rows = frame.loc[frame["candidate"] == candidate.name]
        worst = rows.sort_values("worst_dense_ci_high", na_position="last").iloc[0]
        mean_draws = np.nanmean(np.stack(draws[candidate.name]), axis=0) if rows["sparse_lift"].notna().any() else None
        low, high = percentile_interval(mean_draws, _quantiles(run)) if mean_draws is not None else (np.nan, np.nan)
        rule.append({
            "dataset": ALL, "candidate": candidate.name, "sparse_cases": rows["sparse_cases"].sum(),
            "sparse_lift": rows["sparse_lift"].mean(), "sparse_ci_low": low, "sparse_ci_high": high,
            **{c: worst[c] for c in WORST}, "admissible": bool(rows["admissible"].all()),
        })
    rule = pd.DataFrame(rule)
    frame = pd.concat([frame, rule], ignore_index=True)

    described = {c.name: c for c in listed}
    frame["changes"] = frame["candidate"].map(lambda n: "; ".join(described[n].changes))
    frame["n_changes"] = frame["candidate"].map(lambda n: len(described[n].changes))
    frame["seeds"] = frame["candidate"].map(lambda n: " ".join(map(str, described[n].seeds)))
    frame["n_seeds"] = frame["candidate"].map(lambda n: len(described[n].seeds))
    frame["chosen"] = frame["candidate"] == choose(frame.loc[frame["dataset"] == ALL])
    order = {"candidate": list(described), "dataset": [*run.datasets, ALL]}
    frame = frame.sort_values(["candidate", "dataset"], key=lambda c: c.map(order[c.name].index), ignore_index=True)
    return frame.astype({"worst_dense_cases": "Int64"})[COLUMNS]


def shown(frame: pd.DataFrame, latex: bool = False) -> pd.DataFrame:
    """The table as text cells, one row per (candidate, dataset): lifts with their intervals."""
    dash = TEX_DASH if latex else DASH
    text = tex if latex else str
    changes = frame["changes"].fillna("")  # read back from the csv, no change is a missing value
    def lifts(prefix: str) -> list[str]:
        columns = [f"{prefix}_lift", f"{prefix}_ci_low", f"{prefix}_ci_high"]
        return [lift_cell(v, low, high, None, latex) for v, low, high in frame[columns].to_numpy()]

    worst = frame[["worst_dense_domain", "worst_dense_dataset", "dataset"]].to_numpy()
    cells = pd.DataFrame({
        "candidate": frame["candidate"], "dataset": frame["dataset"],
        "changes": [text(c) if c else "(default)" for c in changes],
        "seeds": frame["seeds"].astype(str),
        "sparse cases": [count(n, latex) for n in frame["sparse_cases"]],
        "sparse lift (score)": lifts("sparse"),
        # on the rows of every dataset, the worst domain's dataset is named
        "worst dense domain": [dash if pd.isna(d) else text(d if where == row else f"{d} ({where})")
                               for d, where, row in worst],
        "its cases": [count(n, latex) for n in frame["worst_dense_cases"]],
        "its lift": lifts("worst_dense"),
        "admissible": frame["admissible"].map({True: "yes", False: "no"}),
        "chosen": np.where(frame["chosen"] & (frame["dataset"] == ALL), "chosen", ""),
    })
    return cells.set_index(["candidate", "dataset"])


def _seeds(seeds) -> str:
    listed = str(seeds).split()  # "1 2"; read back from the csv, one seed is a number
    return f"seed{'s' if len(listed) > 1 else ''} {', '.join(listed)}"


def verdict(frame: pd.DataFrame) -> str:
    """A paragraph (Markdown) under the table: the candidate this run's rule chooses, on how many
    datasets and seeds, and how it stands beside `dynamic`, the weighting every table reports."""
    rule = frame.loc[frame["dataset"] == ALL].set_index("candidate")
    chosen = rule.index[rule["chosen"]][0]
    n_datasets = frame.loc[frame["dataset"] != ALL, "dataset"].nunique()
    evidence = f"{n_datasets} dataset{'s' if n_datasets != 1 else ''}, {_seeds(rule.loc[chosen, 'seeds'])}"
    how = ("the admissible candidate of the largest score" if rule.loc[chosen, "admissible"] else
           "by the fallback (no candidate is admissible; its worst dense domain's interval reaches highest)")

    def score(name: str) -> str:
        return lift_cell(*rule.loc[name, ["sparse_lift", "sparse_ci_low", "sparse_ci_high"]], None)

    if chosen == "dynamic":
        text = (f"On this run's validation split ({evidence}) the rule keeps `dynamic`, the weighting every "
                f"table reports, {how}: score {score(chosen)}.")
    else:
        changes = rule["changes"].fillna("").loc[chosen] or "the run's settings"
        text = (f"On this run's validation split ({evidence}) the rule chooses `{chosen}` ({changes}), {how}: "
                f"score {score(chosen)}.")
        if "dynamic" in rule.index:
            pair = rule.loc[[chosen, "dynamic"]]
            apart = pair["sparse_ci_low"].max() > pair["sparse_ci_high"].min()
            text += (f" `dynamic`, the weighting every table reports, scores {score('dynamic')} "
                     f"({_seeds(rule.loc['dynamic', 'seeds'])}); "
                     + ("the two intervals lie apart." if apart else
                        "the two intervals overlap, so which of them gains more on the sparse domains is "
                        "inconclusive on this run."))
    return text + " This run's choice changes no setting."


def latex(run: Run, frame: pd.DataFrame) -> str:
    cells = shown(frame, latex=True)
    blocks = [(None, [[tex(name), tex(dataset), *row] for (name, dataset), row in zip(part.index, part.to_numpy())])
              for _, part in cells.groupby(level="candidate", sort=False)]
    caption = (f"Selection of the dynamic weighting's default on the validation split: lift of "
               f"{metric_label(METRIC, run.k)} over generic on the pooled sparse-domain cases (on the rows "
               f"``{ALL}'', the score: its mean over datasets) and the dense domain of the lowest upper bound; "
               f"admissible when no dense domain lies wholly below {100 * DENSE_FLOOR:+g}\\%.")
    return latex_table(["candidate", "dataset"], [("", list(cells.columns))], blocks, caption,
                       "tab:weighting-selection")


TABLES = {"weighting_selection": Table(inputs, table, latex)}

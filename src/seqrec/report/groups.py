"""Sparse and dense blocks of the per-domain tables, and the lifts tested within each block."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqrec.report.format import lift_cell, mean_cell
from seqrec.stats import holm

METRICS = ("recall", "ndcg")
GROUP_ORDER = ["sparse", "dense", "unknown", "overall"]
GROUP_LABELS = {"sparse": "Sparse domains", "dense": "Dense domains",
                "unknown": "Domains missing from domains.parquet", "overall": "All test cases"}
LIFT_COLUMNS = ["reference", "lift", "ci_low", "ci_high", "confidence", "p_value", "p_holm", "significant"]


def with_groups(frame: pd.DataFrame, domains: pd.DataFrame) -> pd.DataFrame:
    """Adds `share` and `group` (sparse, dense, unknown, overall) to rows with scope and domain columns."""
    info = domains.set_index("domain")
    overall = frame["scope"].eq("overall")
    share = frame["domain"].map(info["share"]).astype(float).where(~overall, 1.0)
    sparse = frame["domain"].map(info["is_sparse"])
    group = np.select([overall, sparse.isna(), sparse.eq(True)], ["overall", "unknown", "sparse"], "dense")
    return frame.assign(share=share, group=group)


def sort_groups(frame: pd.DataFrame, methods: list) -> pd.DataFrame:
    """Sparse block, dense block, (unknown,) overall; sparsest domain first within a block."""
    keys = {"group": GROUP_ORDER.index, "metric": list(METRICS).index, "method": methods.index}
    return frame.sort_values(["group", "share", "domain", "metric", "method"],
                             key=lambda c: c.map(keys[c.name]) if c.name in keys else c,
                             na_position="last", ignore_index=True)


def tested(lifts: pd.DataFrame, family: list, alpha: float) -> pd.DataFrame:
    """`lifts` with Holm-adjusted p-values within each `family` (e.g. method, metric) and significance."""
    lifts = lifts.copy()
    lifts["p_holm"] = lifts.groupby(family)["p_value"].transform(holm)
    lifts["significant"] = lifts["p_holm"] < alpha
    return lifts


def mark_best(rows: pd.DataFrame, by: list) -> pd.Series:
    """The best mean of each row of the table; none where every method ties (e.g. all 0)."""
    means = rows.groupby(by)["mean"]
    best, worst = means.transform("max"), means.transform("min")
    return rows["mean"].notna() & (rows["mean"] == best) & (best > worst)


def shown_and_lifted(table: pd.DataFrame) -> tuple[list, list, str]:
    """The methods of a report table in its order, those with a lift, and the lifts' reference."""
    shown = list(pd.unique(table["method"].dropna()))
    with_lift = set(table.loc[table["reference"].notna(), "method"])
    references = table["reference"].dropna()
    return shown, [m for m in shown if m in with_lift], references.iloc[0] if len(references) else "generic"


def method_cells(cases: pd.DataFrame, shown: list, lifted: list, latex: bool, missing: str = "--"):
    """One table row's cells and bold flags: per metric, the mean +- std of each shown method (bold
    where best), then the lift cell of each lifted method; `missing` where a method has no value."""
    cells, bold = [], []
    for metric in METRICS:
        by_method = cases.loc[cases["metric"] == metric].set_index("method")
        for m in shown:
            r = by_method.loc[m] if m in by_method.index else None
            cells.append(missing if r is None else mean_cell(r["mean"], r["std"], bool(r["best"]), latex))
            bold.append(r is not None and bool(r["best"]))
        for m in lifted:
            r = by_method.loc[m] if m in by_method.index else None
            cells.append(lift_cell(*(r[["lift", "ci_low", "ci_high", "significant"]] if r is not None
                                   else (np.nan,) * 4), latex=latex))
            bold.append(False)
    return cells, bold

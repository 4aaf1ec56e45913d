"""The tables of the report by name, and the step that writes one as csv + tex.

Each table is a `Table` of a report module (that module's `TABLES`): the layout artifacts it reads
(most: layout artifacts of every dataset, method and seed, `artifacts`), how it is computed from the run, and its
LaTeX form. The workflow's `report` rule runs one job per table (`python -m seqrec report`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from seqrec.io import write_csv, write_text
from seqrec.report.run import Run

# Table name -> the report module defining it (imported only when the table is computed).
TABLES = {
    "datasets": "datasets",
    "main_results": "main_results",
    "power_users": "power_users",
    "robustness": "robustness",
    "domain_weights": "sparsity",
    "final_weights": "sparsity",
    "weight_trajectories": "sparsity",
    "convergence": "convergence",
    "training_time": "overhead",
    "overhead": "overhead",
    "benchmarks": "overhead",
    "claims": "claims",
    "notebooks": "index",
    "qualitative": "qualitative",
    "qualitative_history": "qualitative",
    "qualitative_top": "qualitative",
    "ablations": "ablations",
    "weighting_selection": "selection",
}


@dataclass(frozen=True)
class Table:
    inputs: Callable[[Run], list[Path]]  # the files the table reads in a run
    compute: Callable[[Run], pd.DataFrame]
    latex: Callable[[Run, pd.DataFrame], str]


def artifacts(*names: str) -> Callable[[Run], list[Path]]:
    """The inputs of a table that reads these layout artifacts of every dataset, method and seed."""
    def paths(run: Run) -> list[Path]:
        found = []
        for name in names:
            found += run.layout.expand(name, dataset=run.datasets, method=run.methods, seed=run.seeds)
        return list(dict.fromkeys(found))

    return paths


def get(name: str) -> Table:
    if name not in TABLES:
        raise ValueError(f"no report table {name!r}; the tables are: {', '.join(TABLES)}")
    return importlib.import_module(f"seqrec.report.{TABLES[name]}").TABLES[name]


def inputs(run: Run, name: str) -> list[Path]:
    """The files table `name` reads in this run."""
    return get(name).inputs(run)


def write(run: Run, name: str, csv: str | Path, tex: str | Path) -> None:
    """Compute table `name` of the run and write it to `csv` and `tex`."""
    table = get(name)
    frame = table.compute(run)
    write_csv(frame, csv)
    write_text(table.latex(run, frame), tex)

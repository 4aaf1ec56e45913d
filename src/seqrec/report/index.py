"""The notebooks of a run, in reading order, and the listing the index page shows."""

from __future__ import annotations

import pandas as pd

from seqrec.report.format import latex_table, tex
from seqrec.report.run import Run
from seqrec.report.tables import Table

# name, title, one line on what it shows
PAGES = [
    ("datasets", "Datasets",
     "Size and density of each dataset after preprocessing, and the long tail of its item domains."),
    ("sparsity", "Domain sparsity and weights",
     "Which domains are sparse, and the loss weight of each domain under the generic, fixed and dynamic "
     "weightings, with the dynamic weights' evolution during training."),
    ("main_results", "Main results",
     "The paper's headline table: Recall and NDCG per domain for every method, with the lift over the "
     "generic model, its confidence interval and its significance, and a heatmap of the lifts."),
    ("robustness", "Robustness: dense domains",
     "Whether the dense domains keep their accuracy: every domain's lift against its share, and the "
     "worst dense domain per dataset and method."),
    ("power_users", "Power users",
     "Accuracy and lift for the power users of each sparse domain (the PinnerFormerLite view)."),
    ("overhead", "Training overhead",
     "Training time of each weighting and the share spent computing the dynamic weights (the < 1% claim)."),
    ("ablations", "Ablations",
     "Variants of the weighting (sparsity scores, moving average, bounds, fixed-weight sweep) against the "
     "generic model."),
    ("convergence", "Convergence",
     "Validation accuracy and training loss over the epochs, and the epoch each run kept."),
    ("qualitative", "A qualitative example",
     "History and top-10 of the generic and dynamic models for one power user of the sparsest domain "
     "(Film-Noir on MovieLens)."),
    ("claims", "The paper's claims",
     "Each headline claim next to this run's measurement, with a verdict computed from the numbers."),
    ("results", "Per-domain results",
     "Per-domain accuracy and lift over the generic model of every method, and lift against domain share."),
]


def notebooks(config: dict) -> list[str]:
    """The notebooks a run of `config` renders, the index last (it links every other one)."""
    ablations = config["ablations"]["enabled"] and config["ablations"]["variants"]
    return [name for name, _, _ in PAGES if name != "ablations" or ablations] + ["index"]


def listing(run: Run) -> pd.DataFrame:
    """Every page, its HTML file (beside the index) and whether this run rendered it."""
    frame = pd.DataFrame(PAGES, columns=["name", "title", "summary"])
    frame["html"] = frame["name"] + ".html"
    frame["rendered"] = [run.path("notebook_html", name=n).exists() for n in frame["name"]]
    return frame


def latex(run: Run, frame: pd.DataFrame) -> str:
    rows = [[tex(r.title), tex(r.html), "rendered" if r.rendered else "not rendered", tex(r.summary)]
            for r in frame.itertuples()]
    return latex_table(["Title"], [("", ["Html", "Status", "Summary"])], [(None, rows)],
                       "The notebooks of the run and what each one shows.", "tab:notebooks")


def markdown(frame: pd.DataFrame) -> str:
    """The listing as a markdown table, linking the rendered pages."""
    lines = ["| Notebook | What it shows |", "| --- | --- |"]
    for r in frame.itertuples():
        name = f"[{r.title}]({r.html})" if r.rendered else f"{r.title} *(not rendered in this run)*"
        lines.append(f"| {name} | {r.summary} |")
    return "\n".join(lines)


def inputs(run: Run) -> list:
    """The pages the listing reports on: every other notebook of the run."""
    return [run.path("notebook_html", name=n) for n in notebooks(run.config) if n != "index"]


TABLES = {"notebooks": Table(inputs, listing, latex)}

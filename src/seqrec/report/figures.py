"""What every figure of the report shares: saving and showing, the methods' colours (from the method
registry, seqrec.methods), markers and the colours of sparse and dense domains."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from seqrec.io import atomic_path
from seqrec.methods import METHODS, get_method

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p"]
SPARSE_COLOR, DENSE_COLOR = "#dd8452", "#4c72b0"
SPARSE_TEXT = "#a0501e"  # the sparse colour, dark enough for text


def save(fig, folder: str | Path, name: str) -> None:
    """`fig` as folder/name.png and folder/name.pdf, each written atomically."""
    for suffix in ("png", "pdf"):
        with atomic_path(Path(folder) / f"{name}.{suffix}") as tmp:
            fig.savefig(tmp, format=suffix, dpi=150)


def show(fig, folder: str | Path, name: str, nothing: str = "") -> None:
    """In a notebook: `fig` saved as folder/name.png and .pdf, shown, then closed; where there is
    nothing to plot (`fig` is None), the line `nothing` instead, if any."""
    if fig is None:
        if nothing:
            display(Markdown(nothing))
        return
    save(fig, folder, name)
    display(fig)
    plt.close(fig)


def method_colors(methods) -> dict[str, str]:
    """Each method's colour of the registry, the same in every figure (grey for a name it lacks)."""
    return {m: METHODS[m].color if m in METHODS else "0.6" for m in methods}


def compared(methods) -> list[str]:
    """The methods a lift figure shows: all but the floors (pop), whose lifts near -100% would set the
    figure's scale and flatten the differences between the models compared; the tables keep them."""
    return [m for m in methods if not get_method(m).floor]


def dataset_markers(datasets) -> dict[str, str]:
    return {d: MARKERS[i % len(MARKERS)] for i, d in enumerate(datasets)}


def interval_errors(value, low, high) -> np.ndarray:
    """Error bars [2, n] (below, above) of values with intervals [low, high]. A percentile interval
    need not hold its point estimate (a degenerate one equals it up to rounding): the end on the
    wrong side is drawn as none, never as the negative length matplotlib refuses."""
    value, low, high = (np.asarray(a, dtype=float) for a in (value, low, high))
    return np.stack([value - low, high - value]).clip(min=0.0)


def escape_mathtext(name: str) -> str:
    """A name as matplotlib shows it literally (a $ would start math text)."""
    return str(name).replace("$", r"\$")

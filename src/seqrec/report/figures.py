"""What every figure of the report shares: saving, the methods' order and colours, markers.

The method registry (seqrec.methods) has no labels or colours yet, so they are kept here, in one
table: the paper's three methods have fixed colours, every other method the colour of its place in
the registry, the same in every figure.
"""

from __future__ import annotations

from pathlib import Path

from seqrec.io import atomic_path
from seqrec.methods import METHODS

METHOD_COLORS = {"generic": "0.35", "fixed": "#1f77b4", "dynamic": "#ff7f0e"}
OTHER_COLORS = ["#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#98df8a",
                "#ff9896", "#c5b0d5", "#c49c94", "#9edae5"]  # one per method of the registry but the three above
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p"]
SPARSE_COLOR, DENSE_COLOR = "#dd8452", "#4c72b0"
SPARSE_TEXT = "#a0501e"  # the sparse colour, dark enough for text


def save(fig, folder: str | Path, name: str) -> None:
    """`fig` as folder/name.png and folder/name.pdf, each written atomically."""
    for suffix in ("png", "pdf"):
        with atomic_path(Path(folder) / f"{name}.{suffix}") as tmp:
            fig.savefig(tmp, format=suffix, dpi=150)


def method_colors(methods) -> dict[str, str]:
    """A colour for each of `methods`, the same in every figure: the paper's three methods have fixed
    ones, every other method of the registry the colour of its place in it (others: grey)."""
    others = [m for m in METHODS if m not in METHOD_COLORS]
    return {m: METHOD_COLORS[m] if m in METHOD_COLORS else
            OTHER_COLORS[others.index(m) % len(OTHER_COLORS)] if m in others else "0.6" for m in methods}


def dataset_markers(datasets) -> dict[str, str]:
    return {d: MARKERS[i % len(MARKERS)] for i, d in enumerate(datasets)}


def escape_mathtext(name: str) -> str:
    """A name as matplotlib shows it literally (a $ would start math text)."""
    return str(name).replace("$", r"\$")

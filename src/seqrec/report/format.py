"""How the report writes numbers: percentages, lifts with their intervals, and one LaTeX writer.

Every cell function has a text form (for the notebooks' HTML, with a typographic minus and ∞) and a
LaTeX form. A lift's interval may be unbounded where the reference scored 0 in some bootstrap
resample; its open end is written "∞)", e.g. "+12.0% [−5.0%, +∞)".
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from seqrec.stats import METRIC_LABELS

DASH, TEX_DASH = "–", "--"


def missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def metric_label(metric: str, k: int) -> str:
    return f"{METRIC_LABELS[metric]}@{k}"


def pct(value: float, latex: bool = False, digits: int = 1) -> str:
    """A relative change in percent with its sign; ±inf as ±∞ (latex: math mode, without the $)."""
    if np.isinf(value):
        return ("+" if value > 0 else "-") + r"\infty" if latex else ("+∞" if value > 0 else "−∞")
    text = f"{round(100 * value, digits) + 0.0:+.{digits}f}"  # + 0.0: no "-0.0" from rounding
    return text if latex else text.replace("-", "−")


def percent(value: float, signed: bool = True, plain: bool = False) -> str:
    """100 * value with one decimal (signed) or two (unsigned); plain: ASCII minus and "inf"."""
    if math.isnan(value):
        return "-" if plain else DASH
    if math.isinf(value):
        return ("+inf" if value > 0 else "-inf") if plain else ("+∞" if value > 0 else "−∞")
    text = f"{100 * value:+.1f}" if signed else f"{100 * value:.2f}"
    return text if plain else text.replace("-", "−")


def interval(low: float, high: float, plain: bool = False, unit: str = "") -> str:
    """A lift's interval in percent, an unbounded end open: "[−5.0, +∞)"; "" if it is unknown.

    plain: ASCII only, "[-5.0, +inf)"; `unit` follows each finite bound ("%").
    """
    low, high = (float("nan") if missing(v) else float(v) for v in (low, high))
    if math.isnan(low) or math.isnan(high):
        return ""

    def bound(value: float) -> str:
        return percent(value, True, plain) + (unit if math.isfinite(value) else "")

    return f"{'(' if math.isinf(low) else '['}{bound(low)}, {bound(high)}{')' if math.isinf(high) else ']'}"


def ci_text(low: float, high: float) -> str:
    return interval(low, high, unit="%") or "(no CI)"


def lift_cell(lift, low, high, significant, latex: bool = False) -> str:
    """"+52.4%* [+10.1, +90.0]": lift, marker where significant after Holm, bootstrap CI (an unbounded
    end open: "+12.0% [−5.0, +∞)")."""
    if missing(lift):
        return TEX_DASH if latex else DASH
    mark = "*" if not missing(significant) and bool(significant) else ""
    ci = ""
    if not (missing(low) or missing(high)):
        ci = (f"{'(' if np.isinf(low) else '['}{pct(low, latex)}, {pct(high, latex)}"
              f"{')' if np.isinf(high) else ']'}")
    if latex:
        value = f"${pct(lift, True)}" + ("^{*}$" if mark else "$")
        return value + (f" {{\\scriptsize ${ci}$}}" if ci else "")
    value = pct(lift) + ("" if np.isinf(lift) else "%") + mark
    return value + (f" {ci}" if ci else "")


def mean_cell(mean: float, std: float, best: bool = False, latex: bool = False, fmt: str = ".4f") -> str:
    """mean ± std over seeds (std left out for a single seed); bold where best (LaTeX)."""
    if missing(mean):
        return TEX_DASH if latex else DASH
    if latex:
        value = f"\\textbf{{{mean:{fmt}}}}" if best else f"{mean:{fmt}}"
        return value if missing(std) else f"{value} $\\pm$ {std:{fmt}}"
    return f"{mean:{fmt}}" if missing(std) else f"{mean:{fmt}} ± {std:{fmt}}"


DETAIL_SEPARATORS = (" ± ", " [", " (")  # where a cell's value ends and its spread or interval begins
NO_BREAK = "white-space: nowrap"


def two_lines(cell):
    """An HTML table cell "value ± std", "lift [interval]" or "name (details)" as two lines, neither
    broken: the value, then its detail smaller and grey. Other cells are left as they are."""
    if not isinstance(cell, str):
        return cell
    starts = [i for i in (cell.find(s) for s in DETAIL_SEPARATORS) if i > 0]
    if not starts:
        return cell
    value, detail = cell[:min(starts)], cell[min(starts) + 1:]
    return (f'<span style="{NO_BREAK}">{html.escape(value)}</span><br>'
            f'<span style="{NO_BREAK}; font-size: 85%; color: #555">{html.escape(detail)}</span>')


def html_table(styler):
    """A report table as the notebooks show it: its text cells as `two_lines` (missing ones a dash),
    its caption where the table starts, and a one-level index kept in view when a wide table scrolls
    sideways (pandas gives each level of a sticky MultiIndex a fixed width that cuts long names)."""
    text = [c for c in styler.data.columns if not pd.api.types.is_numeric_dtype(styler.data[c])]
    styler = (styler.format(two_lines, subset=text, na_rep=DASH)
              .set_table_styles([{"selector": "caption", "props": "text-align: left"}], overwrite=False))
    return styler.set_sticky(axis="index") if styler.data.index.nlevels == 1 else styler


def share_label(share: float) -> str:
    if not np.isfinite(share):
        return DASH
    return f"{100 * share:.2g}%" if share < 0.01 else f"{100 * share:.1f}%"


def count(value, latex: bool = False) -> str:
    if missing(value):
        return TEX_DASH if latex else DASH
    text = f"{int(value):,}"
    return text.replace(",", "{,}") if latex else text


TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex(text) -> str:
    """`text` with LaTeX's special characters escaped."""
    return "".join(TEX_SPECIAL.get(c, c) for c in str(text))


def latex_table(lead: list, groups: list, blocks: list, caption: str, label: str) -> str:
    """A booktabs table: `lead` columns, then `groups` [(title, [columns])] under a spanning header,
    then `blocks` [(heading or None, rows of LaTeX cells)] separated by rules. Wider than the text, it
    shrinks to the text width. Headers are plain text (escaped here); cells are LaTeX already."""
    columns = [c for _, cs in groups for c in cs]
    n = len(lead) + len(columns)
    lines = [
        r"% Needs \usepackage{booktabs} and \usepackage{graphicx}; a table wider than the text shrinks to fit.",
        r"\begin{table*}", r"\centering", f"\\caption{{{caption}}}", f"\\label{{{label}}}",
        r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%",
        f"\\begin{{tabular}}{{l{'r' * (n - 1)}}}", r"\toprule",
    ]
    if any(title for title, _ in groups):
        top, rules, start = [""] * len(lead), [], len(lead) + 1
        for title, cs in groups:
            top.append(f"\\multicolumn{{{len(cs)}}}{{c}}{{{tex(title)}}}" if title else " & ".join([""] * len(cs)))
            if title:
                rules.append(f"\\cmidrule(lr){{{start}-{start + len(cs) - 1}}}")
            start += len(cs)
        lines += [" & ".join(top) + r" \\", " ".join(rules)]
    lines += [" & ".join(tex(c) for c in [*lead, *columns]) + r" \\", r"\midrule"]
    for i, (heading, rows) in enumerate(blocks):
        if i:
            lines.append(r"\midrule")
        if heading:
            lines.append(f"\\multicolumn{{{n}}}{{l}}{{\\emph{{{tex(heading)}}}}} \\\\")
        lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}}", r"\end{table*}", ""]
    return "\n".join(lines)


def frame_latex(frame: pd.DataFrame, caption: str, label: str, escape: bool = True) -> str:
    """`latex_table` of a display frame: its index levels lead, its columns follow (a two-level
    column index becomes the spanning header). Cells are escaped unless `escape` is False."""
    lead = [str(n or "") for n in frame.index.names]
    groups = []
    for column in frame.columns:
        title, name = column if frame.columns.nlevels > 1 else ("", column)
        if groups and groups[-1][0] == title:
            groups[-1][1].append(str(name))
        else:
            groups.append((title, [str(name)]))
    cell = tex if escape else str
    rows = [[*(tex(v) for v in (key if isinstance(key, tuple) else (key,))), *(cell(v) for v in values)]
            for key, values in zip(frame.index, frame.to_numpy())]
    return latex_table(lead, groups, [(None, rows)], caption, label)

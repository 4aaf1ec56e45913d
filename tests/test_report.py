"""seqrec.report: how numbers are written, figures saved, the run read, and the report step as a
user runs it (python -m seqrec report)."""

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from seqrec.config import validate_config
from seqrec.datasets.base import OTHER_DOMAIN
from seqrec.io import InputError, write_parquet
from seqrec.layout import Layout, split_artifact
from seqrec.metrics import case_metrics
from seqrec.report import Run, ablations, figures
from seqrec.methods import METHODS
from seqrec.report.figures import method_colors, save
from seqrec.report.format import frame_latex, html_table, interval, lift_cell, pct, percent, share_label, two_lines
from seqrec.report.tables import TABLES, get
from test_datasets_notebook import fake_dataset

ROOT = Path(__file__).resolve().parents[1]
INF, NAN = float("inf"), float("nan")


def test_lift_cells_keep_an_unbounded_end_open():
    assert lift_cell(0.524, 0.101, 0.9, True) == "+52.4%* [+10.1, +90.0]"
    assert lift_cell(0.12, -0.05, INF, False) == "+12.0% [−5.0, +∞)"
    assert lift_cell(INF, 0.3, INF, False) == "+∞ [+30.0, +∞)"  # the reference scored 0 on the domain
    assert lift_cell(NAN, NAN, NAN, False) == "–" and lift_cell(None, 0, 0, False, latex=True) == "--"
    assert lift_cell(0.12, -0.05, INF, True, latex=True) == "$+12.0^{*}$ {\\scriptsize $[-5.0, +\\infty)$}"
    assert lift_cell(0.12, NAN, NAN, False) == "+12.0%"  # no interval: the point estimate only


def test_percentages():
    assert pct(-0.0004) == "+0.0"  # rounding never shows "-0.0"
    assert pct(-0.25) == "−25.0" and pct(-0.25, latex=True) == "-25.0"
    assert percent(0.004, signed=False) == "0.40" and percent(NAN) == "–"
    assert interval(-0.05, INF, unit="%") == "[−5.0%, +∞)" and interval(-INF, 0.1, plain=True) == "(-inf, +10.0]"
    assert share_label(0.004) == "0.4%" and share_label(0.25) == "25.0%"


def test_html_cells_put_the_spread_or_interval_on_a_line_of_its_own():
    """A value and its spread or interval wrapped anywhere made cells of three ragged lines; now the
    value is one line and its detail, smaller, a second, neither broken."""
    value, detail = two_lines("+12.0%* [−5.0, +∞)").split("<br>")
    assert ">+12.0%*</span>" in value and "nowrap" in value
    assert ">[−5.0, +∞)</span>" in detail and "nowrap" in detail and "font-size" in detail
    assert two_lines("0.6290 ± 0.0085").split("<br>")[1].endswith(">± 0.0085</span>")
    assert two_lines("Children (3.7%, 439 cases)").split("<br>")[1].endswith(">(3.7%, 439 cases)</span>")
    assert two_lines("Children; Sci-Fi") == "Children; Sci-Fi"  # no detail: left to wrap as it may
    assert two_lines("Toys & Games [x]").startswith('<span style="white-space: nowrap">Toys &amp; Games<')
    assert two_lines(0.25) == 0.25

    frame = pd.DataFrame({"share": [0.25, NAN], "generic": ["0.6290 ± 0.0085", NAN]},
                         index=pd.Index(["Drama", "Film-Noir"], name="domain"))
    page = html_table(frame.style.format({"share": "{:.1%}"})).to_html()
    assert "25.0%" in page and "<br>" in page and "–" in page  # other formats kept, missing cells a dash
    assert "position: sticky" in page  # the domains stay in view when a wide table scrolls


def test_one_latex_writer_with_booktabs_and_escaped_cells():
    frame = pd.DataFrame({("Loss", "w_min"): ["0.5"], ("Loss", "w_max"): ["5"], ("", "Note"): ["a & b"]},
                         index=pd.Index(["Sci-Fi & Fantasy"], name="Domain"))
    text = frame_latex(frame, "Weights.", "tab:w")
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    assert "\\multicolumn{2}{c}{Loss}" in text and "w\\_min & w\\_max" in text
    assert "Sci-Fi \\& Fantasy & 0.5 & 5 & a \\& b \\\\" in text
    assert "\\caption{Weights.}" in text and "\\label{tab:w}" in text


def test_save_writes_png_and_pdf(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save(fig, tmp_path / "figures", "line")
    plt.close(fig)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["line.pdf", "line.png"]


def test_a_method_has_one_colour_in_every_figure():
    assert method_colors(["sigma"]) == {"sigma": method_colors(["pop", "calrec", "sigma"])["sigma"]}
    assert method_colors(["generic", "dynamic"]) == {m: METHODS[m].color for m in ("generic", "dynamic")}
    assert len(set(method_colors(METHODS).values())) == len(METHODS)  # the registry's, one each


def test_every_table_is_defined_once():
    for name in TABLES:
        table = get(name)
        assert callable(table.compute) and callable(table.latex) and callable(table.inputs)
    with pytest.raises(ValueError, match="no report table 'nope'; the tables are: datasets"):
        get("nope")


def test_run_takes_its_settings_from_the_config(tmp_path):
    config = validate_config({"methods": ["dynamic", "pop"], "seeds": [3], "evaluate": {"ks": [5, 20]},
                              "sparsity": {"sparse_share_threshold": 0.05}})
    run = Run(config, Layout(results=tmp_path))
    assert run.methods == ["generic", "dynamic", "pop"]  # the reference of every lift first
    assert run.k == 20 and run.seeds == [3] and run.sparse_share_threshold == 0.05
    assert "below 5%" in run.summary()
    with pytest.raises(InputError, match="config.json: the run's config file is missing"):
        Run.load(tmp_path / "config.json", tmp_path)
    with pytest.raises(InputError, match="run the workflow's report step first"):
        run.table("claims")


def report_step(cwd, *args):
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": ""}
    return subprocess.run([sys.executable, "-m", "seqrec", "report", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_report_step_writes_csv_and_tex_of_the_config_given(tmp_path):
    fake_dataset(tmp_path / "results", "movielens-1m", 8, 0.6, {"ratings.dat": 1000})
    config = json.dumps({"datasets": ["movielens-1m"], "sparsity": {"sparse_share_threshold": 0.05}})
    result = report_step(tmp_path, "--config", config, "--table", "datasets", "--out", "results/tables/datasets.csv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "results" / "tables" / "datasets.csv")
    assert table["dataset"].tolist() == ["movielens-1m"] and table["sparse_domains"].iloc[0] == 3  # the sparsity step's
    assert "below 0.05" in (tmp_path / "results" / "tables" / "datasets.tex").read_text()


def test_report_step_with_a_bad_table_or_missing_input_is_one_line(tmp_path):
    result = report_step(tmp_path, "--table", "nope", "--out", "t.csv")
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: no report table 'nope'; the tables are: {', '.join(TABLES)}")
    result = report_step(tmp_path, "--table", "datasets", "--out", "t.csv")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "dataset.json" in result.stderr


def write_split_cases(results: Path, method: str, split: str, hit) -> None:
    """Per-case results of `method` (seed 1) on `split` where the evaluate step writes them: user u's
    target is in Noir (sparse) if u % 3 == 0, else in Drama, or the catch-all "other" if u % 10 == 1."""
    users = np.arange(120)
    domains = [["Noir"] if u % 3 == 0 else [OTHER_DOMAIN] if u % 10 == 1 else ["Drama"] for u in users]
    ranks = np.where([hit(u) for u in users], 0, 100)
    frame = pd.DataFrame({"user": users, "item": users + 1, "rank": ranks, "domains": domains,
                          "power_domains": [[] for _ in users], **case_metrics(ranks, [10])})
    write_parquet(frame, Layout(results=results).path(split_artifact("per_case", split), dataset="synthetic",
                                                      method=method, seed=1))


def test_error_bars_are_never_negative():
    # a degenerate interval (5 cases, every resample the same) a rounding error off its point, one
    # interval that excludes its point, and an unbounded end
    rows = pd.DataFrame({"lift": [-0.039747, 0.20, 0.10], "ci_low": [-0.0397469999999, 0.25, -0.1],
                         "ci_high": [-0.0397469999999, 0.40, np.inf]})
    lift, error = ablations._lift_and_error(rows)  # the other figures' bars: figures.interval_errors
    assert (error >= 0).all()
    assert error[:, 1].tolist() == pytest.approx([0.0, 20.0])  # the interval's far end only
    assert error[:, 2].tolist() == pytest.approx([20.0, 0.0])
    assert (figures.interval_errors(100 * rows["lift"], 100 * rows["ci_low"], 100 * rows["ci_high"])[:, :2] >= 0).all()


def test_ablations_lift_per_domain_group_on_validation_and_test_side_by_side(tmp_path):
    results = tmp_path / "results"
    write_parquet(pd.DataFrame({"domain": ["Drama", "Noir", OTHER_DOMAIN], "share": [0.9, 0.01, 0.09],
                                "is_sparse": [False, True, False]}),
                  results / "synthetic" / "sparsity" / "domains.parquet")
    generic = lambda u: u % 2 == 0  # noqa: E731
    for split in ("valid", "test"):
        write_split_cases(results, "generic", split, generic)
        write_split_cases(results, "fixed_4", split, generic)
    # no_ema hits every sparse case on validation (+100% over generic's half), as generic on test
    write_split_cases(results, "no_ema", "valid", lambda u: u % 3 == 0 or generic(u))
    write_split_cases(results, "no_ema", "test", generic)
    variants = {"no_ema": {"method": "dynamic", "sparsity": {"dynamic": {"ema_decay": 1.0}}},
                "fixed_4": {"method": "fixed", "sparsity": {"fixed": {"weight": 4.0}}}}
    run = Run(validate_config({"datasets": ["synthetic"], "ablations": {"seeds": [1], "variants": variants},
                               "aggregate": {"n_bootstrap": 200}}), Layout(results=results))
    assert len(get("ablations").inputs(run)) == 1 + 2 * 3  # domains; per-case of generic and 2 variants x 2 splits
    table = get("ablations").compute(run).set_index(["variant", "split", "group"])
    assert table.loc[("no_ema", "valid", "sparse"), "lift"] == pytest.approx(1.0)
    assert table.loc[("no_ema", "valid", "sparse"), "ci_low"] > 0.5  # an interval, from the paired bootstrap
    assert table.loc[("no_ema", "test", "sparse"), "lift"] == 0.0
    assert table.loc[("no_ema", "valid", "dense"), "lift"] == 0.0
    assert table.loc[("fixed_4", "valid", "sparse"), "n_cases"] == 40
    assert table.loc[("fixed_4", "valid", "dense"), "n_cases"] == 120 - 40 - 8  # "other" is in neither group
    assert table.loc[("fixed_4", "test", "all"), "n_cases"] == 120
    shown = ablations.side_by_side(table.reset_index(), ["variant"], counts=True)
    assert list(shown.columns[:2]) == [("sparse domains", "validation (40)"), ("sparse domains", "test (40)")]
    assert shown.loc["no_ema", ("sparse domains", "validation (40)")].startswith("+100.0% [")
    tex = get("ablations").latex(run, table.reset_index())
    assert "validation" in tex and "$+100.0$" in tex
    for figure in (ablations.bars(run, table.reset_index(), "synthetic"),
                   ablations.sweep(run, table.reset_index(), "synthetic")):
        assert len(figure.axes) == 2  # one panel per split
        plt.close(figure)

"""seqrec.report: how numbers are written, figures saved, the run read, and the report step as a
user runs it (python -m seqrec report)."""

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from seqrec.config import validate_config
from seqrec.io import InputError, write_csv, write_parquet
from seqrec.layout import Layout
from seqrec.report import Run
from seqrec.methods import METHODS
from seqrec.report.figures import method_colors, save
from seqrec.report.format import frame_latex, interval, lift_cell, pct, percent, share_label
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


def test_ablations_summary_of_the_variants(tmp_path):
    results = tmp_path / "results"
    write_parquet(pd.DataFrame({"domain": ["Drama", "Noir"], "share": [0.9, 0.01], "is_sparse": [False, True]}),
                  results / "synthetic" / "sparsity" / "domains.parquet")
    rows = [{"method": v, "reference": "generic", "scope": scope, "domain": d, "metric": "ndcg", "k": 10,
             "lift": lift, "ci_low": lift - 0.1, "ci_high": lift + 0.1}
            for v, lifts in {"no_ema": (0.05, 0.4, -0.02), "fixed_4": (0.01, 0.2, 0.0)}.items()
            for scope, d, lift in zip(("overall", "domain", "domain"), ("all", "Noir", "Drama"), lifts)]
    write_csv(pd.DataFrame(rows), results / "synthetic" / "ablations" / "tables" / "lift.csv")
    run = Run(validate_config({}), Layout(results=results))
    table = get("ablations").compute(run).set_index("variant")
    assert table.loc["no_ema", "overall lift"] == 0.05
    assert table.loc["no_ema", "mean lift, sparse domains"] == 0.4
    assert table.loc["fixed_4", "mean lift, dense domains"] == 0.0
    assert "+40.0\\%" in get("ablations").latex(run, table.reset_index())

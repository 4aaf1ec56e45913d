"""Every step of `python -m seqrec`, run as the workflow runs it, ends bad input and a full disk with
one clear line (the file or setting and the fix), no traceback and nothing half-written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import write_per_case

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"synthetic": {"n_users": 200, "n_items": 150, "n_interactions": 6000, "n_domains": 8},
         "train": {"max_len": 20, "d_model": 16, "n_heads": 2, "n_layers": 1, "max_epochs": 1, "batch_size": 64,
                   "n_uniform_negatives": 32, "n_inbatch_negatives": 32, "device": "cpu"}}


def train_files(run: Path) -> list[str]:
    """The train step's arguments for the prepared data and sparsity tables and a run folder `run`."""
    return ["--interactions", "data/interactions.parquet", "--items", "data/items.parquet",
            "--domains", "sparsity/domains.parquet", "--model", str(run / "model.pt"),
            "--history", str(run / "history.csv"), "--timing", str(run / "timing.json"),
            "--weights", str(run / "weights.csv"), "--checkpoint", str(run / "checkpoint.pt")]


def sparsity_files(out) -> list[str]:
    """The sparsity step's arguments for the prepared data and an output folder `out`."""
    return ["--interactions", "data/interactions.parquet", "--items", "data/items.parquet",
            "--domains", f"{out}/domains.parquet", "--table", f"{out}/domains.csv",
            "--power-users", f"{out}/power_users.parquet"]


# Faults injected into the step's own process before it starts: what a full disk does to each kind
# of write (a partial file, then the error the library raises; the torch message is the real one).
PARQUET_DISK_FULL = """
import errno, pyarrow.parquet as pq
def write_table(table, where, *args, **kwargs):  # pandas passes an open file, others a path
    (where if hasattr(where, "write") else open(where, "wb")).write(b"PAR1 partial")
    raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
pq.write_table = write_table
"""
TORCH_DISK_FULL = """
import torch
def save(obj, where, *args, **kwargs):
    open(where, "wb").write(b"PK partial")
    raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
                       "data/0: file write failed")
torch.save = save
"""


def seqrec(cwd, *args, fault=None):
    """`python -m seqrec ARGS` in `cwd`; `fault` is Python run first in the same process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if fault is None:
        command = [sys.executable, "-m", "seqrec", *args]
    else:
        command = [sys.executable, "-c", fault + "\nimport runpy\nrunpy.run_module('seqrec', run_name='__main__')",
                   *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def assert_one_clear_line(result, *fragments):
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1], result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def assert_nothing_written(folder):
    assert not [p for p in Path(folder).rglob("*") if p.is_file()], list(Path(folder).rglob("*"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A small synthetic dataset, prepared and with its sparsity step done, by the command line."""
    root = tmp_path_factory.mktemp("steps")
    config = json.dumps(SMALL)
    for step in (["synthesize", "--out", "raw"],
                 ["prepare", "--dataset", "synthetic", "--raw", "raw", "--out", "data"],
                 ["sparsity", "--dataset", "synthetic", *sparsity_files("sparsity")]):
        result = seqrec(root, *step, "--config", config)
        assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    (tmp_path / "mine.yaml").write_text("train:\n  lr: [0.1\n  max_epochs: 3\n")
    result = seqrec(tmp_path, "synthesize", "--config", "mine.yaml", "--out", "raw")
    assert_one_clear_line(result, "mine.yaml, line 3", "not valid YAML", "fix the syntax")


def test_missing_config_file_is_one_line(tmp_path):
    result = seqrec(tmp_path, "synthesize", "--config", "missing.yaml", "--out", "raw")
    assert_one_clear_line(result, "missing.yaml: config file not found")


def test_exponent_in_a_config_file_is_a_number(tmp_path):
    (tmp_path / "mine.yaml").write_text("synthetic: {n_users: 1e2, n_items: 50, n_interactions: 2000}\n")
    result = seqrec(tmp_path, "synthesize", "--config", "mine.yaml", "--out", "raw")
    assert_one_clear_line(result, "mine.yaml: synthetic.n_users: '1e2' is not of type 'integer'")  # counts are integers
    (tmp_path / "mine.yaml").write_text("synthetic: {n_users: 100, n_items: 50, n_interactions: 2000, zipf_exponent: 1e0}\n")
    result = seqrec(tmp_path, "synthesize", "--config", "mine.yaml", "--out", "raw")
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("device, available", [("cuda", torch.cuda.is_available()),
                                               ("mps", torch.backends.mps.is_available())])
def test_unavailable_device_names_the_setting_and_the_fix(prepared, tmp_path, device, available):
    if available:
        pytest.skip(f"this machine has {device}")
    config = json.dumps({**SMALL, "train": {**SMALL["train"], "device": device}})
    result = seqrec(prepared, "train", "--config", config, "--dataset", "synthetic", "--method", "generic",
                    "--seed", "1", *train_files(tmp_path / "run"))
    assert_one_clear_line(result, f"train.device is {device}", "set train.device: auto (or cpu)")


@pytest.mark.parametrize("step", [
    lambda out: ["prepare", "--dataset", "synthetic", "--raw", "raw", "--out", str(out)],
    lambda out: ["sparsity", "--dataset", "synthetic", *sparsity_files(out)],
], ids=["prepare", "sparsity"])
def test_full_disk_during_a_step_is_one_line_and_leaves_nothing(prepared, tmp_path, step):
    out = tmp_path / "out"
    result = seqrec(prepared, *step(out), "--config", json.dumps(SMALL), fault=PARQUET_DISK_FULL)
    assert_one_clear_line(result, f"{out}/", ".parquet: no space left on its disk", "free space and rerun")
    assert_nothing_written(out)


def test_full_disk_while_saving_a_model_is_one_line_and_leaves_nothing(prepared, tmp_path):
    run = tmp_path / "run"
    result = seqrec(prepared, "train", "--config", json.dumps(SMALL), "--dataset", "synthetic", "--method", "generic",
                    "--seed", "1", *train_files(run), fault=TORCH_DISK_FULL)
    line = assert_one_clear_line(result, f"{run}/", ".pt: could not be written", "PytorchStreamWriter failed",
                                 "free space and rerun")
    assert not list(run.glob("*.pt")) and not list(run.glob(".*.tmp")), line


def test_full_disk_on_a_real_small_filesystem(prepared, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        result = seqrec(prepared, "prepare", "--dataset", "synthetic", "--raw", "raw", "--out", str(full / "data"),
                        "--config", json.dumps(SMALL))
        assert_one_clear_line(result, f"{full}/data/", "no space left on its disk", "free space and rerun")
        assert_nothing_written(full)
    finally:
        subprocess.run(["umount", str(full)], check=True)


def notebook_template(path, cell):
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("config_path = results_dir = figures_dir = None")
    parameters.metadata["tags"] = ["parameters"]
    hidden = nbformat.v4.new_code_cell("import json\nHIDDEN_INPUT = json.load(open(config_path))\n"
                                       "print('shown output', HIDDEN_INPUT['datasets'])")
    hidden.metadata["tags"] = ["remove_input"]
    notebook.cells = [parameters, hidden, nbformat.v4.new_code_cell(cell)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def notebook_step(tmp_path, *extra):
    return seqrec(tmp_path, "notebook", "--template", "t.ipynb", "--out", "results/notebooks/t.ipynb",
                  "--figures", "results/figures/t", "--config", json.dumps({"datasets": ["synthetic"]}), *extra)


def aggregate_files(out) -> list[str]:
    return ["--metrics", f"{out}/m.csv", "--metrics-tex", f"{out}/m.tex", "--lift", f"{out}/l.csv",
            "--lift-tex", f"{out}/l.tex"]


@pytest.fixture
def per_case(tmp_path):
    """Per-case results of generic and dynamic over two seeds, as the evaluate step writes them (paths relative
    to tmp_path, as the rule passes them)."""
    rng = np.random.default_rng(0)
    paths = [write_per_case(tmp_path / "results", "synthetic", method, seed, rng.integers(0, 30, 40),
                            [["A"] if u % 3 else ["B"] for u in range(40)], [[] for _ in range(40)], rng)
             for method in ("generic", "dynamic") for seed in (1, 2)]
    return [str(path.relative_to(tmp_path)) for path in paths]


def test_aggregate_reads_each_run_from_its_path_and_writes_the_named_tables(tmp_path, per_case):
    config = json.dumps({"evaluate": {"ks": [5, 10]}, "aggregate": {"n_bootstrap": 100}})
    result = seqrec(tmp_path, "aggregate", "--config", config, "--dataset", "synthetic",
                    "--per-case", *per_case, *aggregate_files("out"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["l.csv", "l.tex", "m.csv", "m.tex"]
    metrics = pd.read_csv(tmp_path / "out" / "m.csv")
    assert set(metrics["method"]) == {"generic", "dynamic"} and set(metrics["n_seeds"]) == {2}


def test_aggregate_lists_a_method_s_runs_under_the_variant_that_repeats_it(tmp_path, per_case):
    config = json.dumps({"evaluate": {"ks": [10]}, "aggregate": {"n_bootstrap": 100}})
    result = seqrec(tmp_path, "aggregate", "--config", config, "--dataset", "synthetic", "--per-case", *per_case,
                    "--as-variant", "composite=dynamic", *aggregate_files("out"))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = pd.read_csv(tmp_path / "out" / "m.csv")
    assert set(metrics["method"]) == {"generic", "composite"}
    assert set(pd.read_csv(tmp_path / "out" / "l.csv")["method"]) == {"composite"}


@pytest.mark.parametrize("setting, fragments", [
    ("composite", ["--as-variant composite: expected VARIANT=METHOD", "e.g. fixed_2=fixed"]),
    ("composite=sigma", ["--as-variant composite=sigma: no --per-case file is of sigma",
                         "pass sigma's per-case results"]),
])
def test_aggregate_with_a_bad_variant_setting_is_one_line_and_writes_nothing(tmp_path, per_case, setting,
                                                                           fragments):
    result = seqrec(tmp_path, "aggregate", "--dataset", "synthetic", "--per-case", *per_case,
                    "--as-variant", setting, *aggregate_files("out"))
    assert_one_clear_line(result, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where, fragments", [
    ("elsewhere/synthetic/eval/dynamic/seed1/per_case.parquet",
     ["elsewhere/synthetic/eval/dynamic/seed1/per_case.parquet: not a path of the results layout's 'per_case', "
      "results/{dataset}/eval/{method}/seed{seed}/per_case.parquet"]),
    ("results/movielens-1m/eval/dynamic/seed1/per_case.parquet",
     ["results/movielens-1m/eval/dynamic/seed1/per_case.parquet: per-case results of movielens-1m, "
      "not of --dataset synthetic"]),
])
def test_aggregate_of_a_file_outside_the_layout_is_one_line_and_writes_nothing(tmp_path, per_case, where,
                                                                               fragments):
    moved = tmp_path / where
    moved.parent.mkdir(parents=True)
    (tmp_path / per_case[-1]).rename(moved)
    result = seqrec(tmp_path, "aggregate", "--dataset", "synthetic", "--per-case", *per_case[:-1], where,
                    *aggregate_files("out"))
    assert_one_clear_line(result, *fragments)
    assert not (tmp_path / "out").exists()


def test_notebook_step_executes_and_renders_without_the_code(tmp_path):
    notebook_template(tmp_path / "t.ipynb", "from pathlib import Path\nPath(figures_dir, 'f.txt').write_text('x')")
    result = notebook_step(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tmp_path / "results" / "notebooks" / "t.html").read_text()
    assert "shown output" in html and "synthetic" in html and "<title>t</title>" in html
    assert "HIDDEN_INPUT" not in html and "write_text" not in html  # no cell's code, only its output
    executed = nbformat.read(tmp_path / "results" / "notebooks" / "t.ipynb", as_version=4)
    assert "results_dir = \"results\"" in executed.cells[1].source  # papermill's injected parameters
    assert (tmp_path / "results" / "figures" / "t" / "f.txt").read_text() == "x"


def test_full_disk_inside_a_notebook_is_one_line_and_leaves_no_notebook(tmp_path):
    notebook_template(tmp_path / "t.ipynb", "import errno\nraise OSError(errno.ENOSPC, 'No space left on device')")
    result = notebook_step(tmp_path)
    assert_one_clear_line(result, "results/notebooks/t.ipynb: the notebook could not write its output",
                          "No space left on device", "free space and rerun")
    assert_nothing_written(tmp_path / "results" / "notebooks")

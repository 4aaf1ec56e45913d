"""The command line documents itself: every option of every step has help text, and --version."""

import argparse
import subprocess
import sys
from pathlib import Path

from seqrec import __version__
from seqrec.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def test_every_option_of_every_step_has_help_text():
    steps = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    undocumented = [f"{name} {'/'.join(action.option_strings)}"
                    for name, sub in steps.choices.items() for action in sub._actions
                    if action.option_strings and not action.help]
    assert not undocumented
    assert all(sub.description for sub in steps.choices.values())


def test_version():
    result = subprocess.run([sys.executable, "-m", "seqrec", "--version"], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "src")}, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"seqrec {__version__}"


def test_a_training_log_has_one_line_per_epoch_and_no_progress_bar(tiny_dataset, tmp_path):
    """As in a job log: the output goes to a file, so no carriage-return progress bars."""
    import json

    config, data, sparsity = tiny_dataset
    log, run = tmp_path / "train.log", tmp_path / "run"
    with open(log, "w") as handle:
        subprocess.run([sys.executable, "-m", "seqrec", "train", "--config", json.dumps(config), "--dataset",
                        "synthetic", "--method", "generic", "--seed", "1",
                        "--interactions", str(data / "interactions.parquet"), "--items", str(data / "items.parquet"),
                        "--domains", str(sparsity / "domains.parquet"), "--model", str(run / "model.pt"),
                        "--history", str(run / "history.csv"), "--timing", str(run / "timing.json"),
                        "--weights", str(run / "weights.csv"), "--checkpoint", str(run / "checkpoint.pt")],
                       stdout=handle, stderr=subprocess.STDOUT,
                       env={"PYTHONPATH": str(ROOT / "src")}, timeout=300, check=True)
    text = log.read_text()
    assert "\r" not in text
    epochs = [line for line in text.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == config["train"]["max_epochs"]

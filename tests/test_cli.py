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

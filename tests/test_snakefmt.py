"""The Snakefile and the rules are formatted as snakefmt writes them (settings in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_rules_are_snakefmt_formatted():
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]

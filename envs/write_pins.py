"""Pins every package of each conda env (envs/*.yaml) at the version of requirements.lock.

An env lists the packages its rules import (pyproject.toml's pins) above the marker line; below it,
this script writes everything those need, as the lock resolved it, so a conda env holds the same
versions as `make`'s environment. `make lock` runs it after pip-compile:

    python envs/write_pins.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
MARKER = "# and everything these need, at the versions of requirements.lock (make lock writes them)"
PIN = re.compile(r"^\s*-\s*([A-Za-z0-9_.\-]+)==(\S+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> tuple[dict[str, str], dict[str, set[str]]]:
    """The lock's versions, and for each package the packages that need it (pip-compile's `via`)."""
    versions, needed_by, current = {}, {}, None
    for line in path.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split("==")
            current = normalise(name)
            versions[current], needed_by[current] = version.strip(), set()
        elif current and line.startswith("    #"):  # "# via a" or "# via" then "#   a", "#   b"
            via = line.strip()[1:].strip()
            via = via[len("via"):].strip() if via == "via" or via.startswith("via ") else via
            if via and not via.endswith("(pyproject.toml)"):
                needed_by[current].add(normalise(via))
    return versions, needed_by


def dependencies(direct: set[str], needed_by: dict[str, set[str]]) -> set[str]:
    """Every package the direct ones need, directly or not."""
    env = set(direct)
    while grown := {name for name, parents in needed_by.items() if parents & env} - env:
        env |= grown
    return env - direct


def split_env(text: str) -> tuple[list[str], list[str]]:
    """The env file's lines down to the marker (kept as they are) and the pins below it."""
    lines = text.splitlines()
    marker = next(i for i, line in enumerate(lines) if line.strip() == MARKER)
    return lines[: marker + 1], lines[marker + 1:]


def direct_pins(text: str) -> dict[str, str]:
    head, _ = split_env(text)
    return {normalise(m.group(1)): m.group(2) for line in head if (m := PIN.match(line))}


def write_env(path: Path, versions: dict[str, str], needed_by: dict[str, set[str]]) -> None:
    head, _ = split_env(path.read_text())
    indent = head[-1][: len(head[-1]) - len(head[-1].lstrip())]
    direct = set(direct_pins(path.read_text()))
    rest = [f"{indent}- {name}=={versions[name]}" for name in sorted(dependencies(direct, needed_by))]
    path.write_text("\n".join(head + rest) + "\n")


if __name__ == "__main__":
    lock_versions, lock_needed_by = read_lock()
    for env_file in sorted((ROOT / "envs").glob("*.yaml")):
        write_env(env_file, lock_versions, lock_needed_by)

"""envs/*.yaml, environment.yml and pyproject.toml pin the same packages at the same versions."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GPU_ONLY_EXTRAS = {"cuda"}  # built against a CUDA toolkit: in no environment file
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def pins(requirements):
    out = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{requirement!r} is not pinned exactly (name==version)"
        out[match.group(1).lower()] = match.group(2)
    return out


def conda_pins(path):
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"], f"{path.name}: python must be pinned to 3.11"
    return pins(pip)


def test_every_environment_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pins(project["dependencies"])
    for name, extra in project["optional-dependencies"].items():
        if name not in GPU_ONLY_EXTRAS:
            declared.update(pins(extra))
    union = {}
    for path in sorted((ROOT / "envs").glob("*.yaml")):
        env = conda_pins(path)
        for name, version in env.items():
            assert declared.get(name) == version, f"{path.name}: {name}=={version} but pyproject.toml has {declared.get(name)}"
        union.update(env)
    everything = conda_pins(ROOT / "environment.yml")
    assert everything == declared, "environment.yml must pin exactly the packages of pyproject.toml"
    assert set(union) <= set(everything)


def test_rules_use_existing_envs():
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'"\.\./\.\./(envs/[^"]+)"', rules.read_text()):
            assert (ROOT / env).exists(), f"{rules.name} names {env}, which does not exist"

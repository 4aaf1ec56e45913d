"""One locked environment: requirements.lock, and pyproject.toml, envs/*.yaml and environment.yml
pinning the same packages at its versions; each conda env provides what its rules import."""

import ast
import importlib.metadata
import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GPU_ONLY_EXTRAS = {"cuda"}  # built against a CUDA toolkit: in no environment file
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")
_spec = importlib.util.spec_from_file_location("write_pins", ROOT / "envs" / "write_pins.py")
write_pins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(write_pins)


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements):
    out = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{requirement!r} is not pinned exactly (name==version)"
        out[normalise(match.group(1))] = match.group(2)
    return out


def conda_pip(path):
    env = yaml.safe_load(path.read_text())
    assert "python=3.11" in env["dependencies"], f"{path.name}: python must be pinned to 3.11"
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def conda_pins(path):
    return pins(conda_pip(path))


def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared_pins():
    declared = pins(project()["dependencies"])
    for name, extra in project()["optional-dependencies"].items():
        if name not in GPU_ONLY_EXTRAS:
            declared.update(pins(extra))
    return declared


def locked_pins():
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return pins([line for line in lines if line and not line.startswith((" ", "#"))])


def test_every_environment_agrees_with_pyproject():
    declared = declared_pins()
    for path in sorted((ROOT / "envs").glob("*.yaml")):
        for name, version in write_pins.direct_pins(path.read_text()).items():
            assert declared.get(name) == version, f"{path.name}: {name}=={version} but pyproject.toml has {declared.get(name)}"
    assert conda_pip(ROOT / "environment.yml") == ["-r requirements.lock"], "environment.yml installs the lock"


def test_the_lock_holds_every_pin_at_its_version():
    locked = locked_pins()
    for name, version in declared_pins().items():
        assert locked.get(name) == version, (f"requirements.lock has {name}=={locked.get(name)} but pyproject.toml "
                                             f"pins {version}: run `make lock`")
    # torch without a local label: the CPU build where an index offers it, PyPI's elsewhere.
    assert locked["torch"] == "2.13.0"
    for extra in GPU_ONLY_EXTRAS:
        assert not set(pins(project()["optional-dependencies"][extra])) & set(locked), f"the {extra} extra is locked"


def test_each_conda_env_pins_everything_at_the_versions_of_the_lock():
    versions, needed_by = write_pins.read_lock()
    for path in sorted((ROOT / "envs").glob("*.yaml")):
        pinned = conda_pins(path)
        for name, version in pinned.items():
            assert versions.get(name) == version, f"{path.name}: {name}=={version}, the lock has {versions.get(name)}"
        missing = write_pins.dependencies(set(write_pins.direct_pins(path.read_text())), needed_by) - set(pinned)
        assert not missing, f"{path.name} leaves {sorted(missing)} unpinned: run `make lock`"


def test_the_environment_is_the_lock():
    # What `make` installed (and CI tests with) is the lock, version for version.
    installed = {normalise(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    for name, version in locked_pins().items():
        assert name in installed, f"{name} of requirements.lock is not installed: rerun `make`"
        assert installed[name].split("+")[0] == version.split("+")[0], f"{name} {installed[name]} is installed, the lock has {version}"


def imported_modules(source):
    """Top-level names of the modules a piece of code imports (relative imports excluded)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def package_file(module):
    path = ROOT / "src" / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def third_party_imports(sources):
    """The distributions the code imports, following its imports of seqrec's modules."""
    pending, seen, modules = list(sources), set(), set()
    while pending:
        for name in imported_modules(pending.pop()):
            if name.split(".")[0] != "seqrec":
                modules.add(name.split(".")[0])
                continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
                path = package_file(".".join(parts[:depth]))
                if path.exists() and path not in seen:
                    seen.add(path)
                    pending.append(path.read_text())
    modules -= set(sys.stdlib_module_names) | {"__future__"}
    providers = importlib.metadata.packages_distributions()
    optional = {normalise(name) for extra in GPU_ONLY_EXTRAS
                for name in pins(project()["optional-dependencies"][extra])}
    needed = {}
    for module in modules - {name.replace("-", "_") for name in optional}:
        assert module in providers, f"{module} is imported but no installed distribution provides it"
        for distribution in map(normalise, providers[module]):
            if distribution not in optional:
                needed[distribution] = module
    return needed


def notebook_code(path):
    cells = json.loads(path.read_text())["cells"]
    # IPython magics and shell escapes are not Python
    return "\n".join(line for cell in cells if cell["cell_type"] == "code"
                      for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))


def step_code(step):
    """What `python -m seqrec <step>` runs: the CLI module and its `_<step>` function."""
    tree = ast.parse((ROOT / "src" / "seqrec" / "cli.py").read_text())
    module_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == f"_{step}")
    return ast.unparse(ast.Module(body=[*module_level, function], type_ignores=[]))


def rule_code(rule):
    """The code a rule's shell command runs: seqrec steps, and the notebooks they execute."""
    steps = re.findall(r"python -m seqrec (\w+)", rule)
    code = [step_code(step) for step in steps]
    if "notebook" in steps or "papermill " in rule:  # the notebooks run in the python3 kernel of the env
        code += [notebook_code(path) for path in (ROOT / "notebooks").glob("*.ipynb")] + ["import ipykernel"]
    if "papermill " in rule:
        code.append("import papermill, nbconvert")
    return code


def test_each_conda_env_provides_what_its_rules_import():
    for rules in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for rule in re.split(r"^(?=rule |    rule:)", rules.read_text(), flags=re.M)[1:]:
            env = re.search(r'conda:\s+"\.\./\.\./(envs/[^"]+)"', rule)
            if not env:
                continue
            code = rule_code(rule)
            assert code, f"{rules.name}: a rule with a conda env runs neither a seqrec step nor a notebook"
            provided = write_pins.direct_pins((ROOT / env.group(1)).read_text())
            for distribution, module in third_party_imports(code).items():
                assert distribution in provided, (f"{env.group(1)} lacks {distribution}, which {rules.name} imports "
                                                  f"(module {module}): pin it there as in pyproject.toml")


def test_rules_use_existing_envs():
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'"\.\./\.\./(envs/[^"]+)"', rules.read_text()):
            assert (ROOT / env).exists(), f"{rules.name} names {env}, which does not exist"

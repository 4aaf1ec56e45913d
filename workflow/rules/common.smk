# Config validation, wildcard constraints and path helpers shared by every rule.

import json
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

ROOT = Path(workflow.basedir)
sys.path.insert(0, str(ROOT / "src"))

from seqrec.config import ConfigError, ablation_config, load_schema, run_of, validate_config
from seqrec.datasets import get as get_dataset, raw_files
from seqrec.layout import SPLITS, Layout, split_artifact
from seqrec.methods import get_method
from seqrec.report.index import notebooks
from seqrec.report import selection

# Errors name what the config came from: the one config file (see the Snakefile) and any --config.
_config_source = " + ".join(
    [*map(str, workflow.configfiles), *(["--config"] if workflow.config_settings.config else [])]
)
try:
    _validated = validate_config(config, source=_config_source or "config")
except ConfigError as err:
    raise WorkflowError(str(err))
config.clear()
config.update(_validated)
for _name in config["datasets"]:
    try:
        get_dataset(_name)
    except ValueError as err:
        raise WorkflowError(f"config: dataset {_name} has no parser yet ({err})")
ABLATIONS = config["ablations"]["variants"] if config["ablations"]["enabled"] else {}
try:
    _ablation_configs = {name: ablation_config(config, name) for name in ABLATIONS}
except ConfigError as err:
    raise WorkflowError(str(err))
# The run whose results are each variant's: its own, or its method's when it repeats that config.
ABLATION_RUNS = {name: run_of(config, name) for name in ABLATIONS}

# Each step is one call of the package's command line (`python -m seqrec <step>`) with src/ on the
# path, so the same call works in a plain virtual environment and in the per-rule conda
# environments, locally and on a cluster, without installing the package.
shell.prefix(f"set -euo pipefail; export PYTHONPATH={ROOT / 'src'}; ")

_schema = load_schema()["properties"]
LAYOUT = Layout()  # every artifact's path (seqrec.layout)
NOTEBOOKS = notebooks(config)  # seqrec.report.index: the pages of a run, the index last


# The `method` of a run (results/{dataset}/runs/{method}/...) is a method of the registry or an
# ablation variant: one train and one evaluate rule serve both (seqrec.config keeps the names apart).
wildcard_constraints:
    dataset="|".join(_schema["datasets"]["items"]["enum"]),
    method="|".join(map(re.escape, [*_schema["methods"]["items"]["enum"], *ABLATIONS])),
    seed=r"\d+",
    name="|".join(NOTEBOOKS),


# What a job asks the scheduler for follows from the config and the method registry, never from
# the machine that parses the workflow (on a cluster, the login node); each job picks its device
# when it runs. A neural training holds a GPU whenever train.device allows one (auto, cuda): the
# default profile's gpu=1 then runs one training at a time on one machine, and a cluster sends it
# to a GPU node. pop is fitted on counts and holds none. Evaluations and item texts are short:
# they hold a GPU only when train.device demands one and otherwise run where they land.
def training_gpus(method):
    return int(not get_method(method).fitted and config["train"]["device"] in ("auto", "cuda"))


STEP_GPUS = int(config["train"]["device"] == "cuda")

# A training stopped by its time limit or preempted is resubmitted up to TRAINING_RETRIES times,
# each time with one more share of time (`attempt` counts from 1), and resumes from its checkpoint.
TRAINING_RETRIES = 2


def training_runtime(method, attempt):
    """Time limit of a training in minutes (the `runtime` the SLURM profile submits)."""
    return (60 if get_method(method).fitted else 720) * attempt


# Light jobs run where Snakemake runs, never queued: checksums, tables (the aggregate rules say so
# themselves) and notebooks.
localrules:
    synthesize,
    verify_raw,
    notebook,


def step_config(*sections, run_config=config):
    """The config sections a step reads, as the JSON its --config option takes."""
    return json.dumps({section: run_config[section] for section in sections}, sort_keys=True)


def run_method(run):
    """The registry method a run trains: the run's own name, or an ablation variant's method."""
    return ABLATIONS[run]["method"] if run in ABLATIONS else run


def train_config(wildcards):
    """What a training reads: the main config, or an ablation variant's (its sparsity overrides merged in)."""
    run_config = _ablation_configs.get(wildcards.method, config)
    return step_config("train", "sparsity", "evaluate", run_config=run_config)


def split_rule(name, split):
    """The name for `split` of a step named `name` on the test split: aggregate, aggregate_valid, ..."""
    return name if split == "test" else f"{name}_{split}"


def ablation_per_case(wildcards, split="test"):
    # The generic runs of the ablation seeds are the reference of every variant's lift; a variant
    # that repeats a method's config reads that method's runs (seqrec.config.run_of).
    per_case = LAYOUT.expand(
        split_artifact("per_case", split),
        dataset=wildcards.dataset,
        method=["generic", *ABLATION_RUNS.values()],
        seed=config["ablations"]["seeds"],
    )
    return list(dict.fromkeys(map(str, per_case)))


def variants_sharing_runs():
    """The aggregate step's settings that list a method's runs under the variant repeating it."""
    return " ".join(f"--as-variant {name}={run}" for name, run in ABLATION_RUNS.items() if run != name)


def raw_path(dataset, member):
    return str(LAYOUT.path("raw_member", dataset=dataset, member=member))


def fetched_raw_files(dataset):
    """The outputs of the fetch job of `dataset`, none while every required member is there
    (placed by hand or fetched by an earlier run), else every member still missing.

    Only files missing when the workflow starts are ever outputs, so no job can delete or recreate
    a file that is already there; on the next run the fetched files are inputs like placed ones.
    """
    spec = get_dataset(dataset)
    if all(Path(raw_path(dataset, m)).exists() for m in spec.raw_files):
        return []
    return [m for m in spec.raw_files + spec.optional_files if not Path(raw_path(dataset, m)).exists()]


def raw_members(wildcards):
    """What the verification of a dataset reads: its required members and the optional ones that
    are there or will be fetched (the same list before and after a fetch, so nothing reruns)."""
    spec = get_dataset(wildcards.dataset)
    fetched = fetched_raw_files(wildcards.dataset)
    optional = [m for m in spec.optional_files if m in fetched or Path(raw_path(wildcards.dataset, m)).exists()]
    return [raw_path(wildcards.dataset, m) for m in spec.raw_files + optional]


def raw_inputs(wildcards):
    """What prepare reads: the verification record of a real dataset; synthetic's generated files."""
    if wildcards.dataset == "synthetic":
        return [raw_path("synthetic", m) for m in raw_files("synthetic")]
    return str(LAYOUT.path("raw_verified", dataset=wildcards.dataset))


def train_inputs(wildcards):
    names = ["interactions", "items", "domains"]
    if get_method(run_method(wildcards.method)).needs_item_text:
        names.append("item_embeddings")
    # `items` is a name Snakemake reserves: the input is `item_table`.
    return {
        "item_table" if name == "items" else name: str(LAYOUT.path(name, dataset=wildcards.dataset)) for name in names
    }


def all_per_case(wildcards, split="test"):
    per_case = LAYOUT.expand(
        split_artifact("per_case", split), dataset=wildcards.dataset, method=all_methods(), seed=config["seeds"]
    )
    return [str(path) for path in per_case]


DOMAINS = LAYOUT.pattern("domains")
TABLES = [LAYOUT.pattern("metrics_table"), LAYOUT.pattern("lift_table"), DOMAINS]

# What each notebook reads: tables of the report step (results/tables/{table}.csv) and run outputs,
# patterns expanded over the configured datasets, methods and seeds.
NOTEBOOK_TABLES = {
    "datasets": ["datasets"],
    "main_results": ["main_results"],
    "power_users": ["power_users"],
    "robustness": ["main_results", "robustness"],
    "sparsity": ["domain_weights", "final_weights", "weight_trajectories"],
    "convergence": ["convergence"],
    "overhead": ["training_time", "overhead", "benchmarks"],
    "claims": ["claims"],
    "qualitative": ["qualitative", "qualitative_history", "qualitative_top"],
    # the selection rule of docs/weighting.md, where the run has a candidate (a dynamic weighting)
    "ablations": ["ablations"] + (["weighting_selection"] if selection.applies(config) else []),
    "index": ["notebooks", "claims"],  # the listing of every other rendered notebook: the index comes last
}
NOTEBOOK_INPUTS = {
    "datasets": [LAYOUT.pattern("dataset_summary"), DOMAINS],
    "sparsity": [],
    "results": TABLES,
    "main_results": [],
    "robustness": [],
    "power_users": [],
    "convergence": [LAYOUT.pattern("history")],
    "overhead": [
        LAYOUT.pattern("timing"),
        LAYOUT.pattern("train_benchmark"),
        LAYOUT.pattern("evaluate_benchmark"),
    ],
    "ablations": [],
    "qualitative": [],
    "claims": [],
    "index": [],
}


def all_methods():
    """The configured methods, generic first: it is the reference of every lift, so always run."""
    return ["generic"] + [m for m in config["methods"] if m != "generic"]


def notebook_inputs(wildcards):
    paths = expand(
        NOTEBOOK_INPUTS[wildcards.name], dataset=config["datasets"], method=all_methods(), seed=config["seeds"]
    )
    tables = [str(p) for p in LAYOUT.expand("report_table", table=NOTEBOOK_TABLES.get(wildcards.name, []))]
    return list(dict.fromkeys(paths + tables))

"""The SLURM profile plans every job of config/paper.yaml with what its step needs.

A dry run (`-n`) plans without submitting anything and needs no SLURM commands; the real datasets
are absent, so their fetch jobs are in the plan too.
"""

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from seqrec.config import load_config, run_of
from seqrec.methods import get_method

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the SLURM plugin is in the test extra")
from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
PAPER = ROOT / "config" / "paper.yaml"
ACCOUNT = "proj_42"
JOB = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", re.M)


def planned_jobs(profile, workdir):
    # A dry run caps threads at --cores (1 unless given); a submission does not, so --cores 64
    # shows the threads the jobs are submitted with.
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--workflow-profile", str(profile), "--configfile", str(PAPER), "-n", "--cores", "64"]
    # The account comes from SBATCH_ACCOUNT, as for sbatch.
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "SBATCH_ACCOUNT": ACCOUNT})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = []
    for rule, body in JOB.findall(result.stdout):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        jobs.append(SimpleNamespace(
            name=rule,
            wildcards=dict(item.split("=", 1) for item in fields.get("wildcards", "").split(", ") if item),
            threads=int(fields.get("threads", 1)),
            resources={key: int(value) if value.isdigit() else value
                       for key, value in (item.split("=", 1) for item in fields["resources"].split(", "))},
        ))
    return jobs


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    profile = PROFILE
    if shutil.which("conda") is None:
        # Planning with conda environments asks conda for their platform; without conda, the same
        # profile minus that one setting plans the same jobs.
        profile = tmp_path_factory.mktemp("profile") / "slurm"
        shutil.copytree(PROFILE, profile)
        settings = yaml.safe_load((PROFILE / "config.yaml").read_text())
        assert settings.pop("software-deployment-method") == "conda"
        (profile / "config.yaml").write_text(yaml.safe_dump(settings))
    return planned_jobs(profile, tmp_path_factory.mktemp("workdir"))


def of(jobs, *rules):
    selected = [job for job in jobs if job.name in rules]
    assert selected, f"no {rules} job in the plan"
    return selected


def test_every_neural_training_holds_a_gpu_and_pop_none(jobs):
    paper = load_config(PAPER)
    variants = paper["ablations"]["variants"]
    trainings = of(jobs, "train")  # the methods' and the ablation variants'
    # the variants that repeat a method's config (log_inverse_frequency, fixed_2) share its runs: no training
    own_runs = {name for name in variants if run_of(paper, name) == name}
    assert own_runs == set(variants) - {"log_inverse_frequency", "fixed_2"}
    assert {job.wildcards["method"] for job in trainings} == set(paper["methods"]) | {"generic"} | own_runs
    for job in trainings:
        method = variants[job.wildcards["method"]]["method"] if job.wildcards["method"] in variants else job.wildcards["method"]
        fitted = get_method(method).fitted
        assert job.resources["gpu"] == (0 if fitted else 1), job
        assert job.resources["runtime"] == (60 if fitted else 720), job
        assert job.resources["mem_mb"] == 16000 and job.threads == paper["train"]["threads"], job


def test_evaluations_and_texts_hold_no_gpu(jobs):
    threads = yaml.safe_load(PAPER.read_text())["train"]["threads"]
    for job in of(jobs, "evaluate"):
        assert (job.resources["gpu"], job.resources["mem_mb"], job.resources["runtime"], job.threads) == \
            (0, 16000, 240, threads), job
    for job in of(jobs, "item_text"):
        assert (job.resources["gpu"], job.resources["mem_mb"], job.resources["runtime"], job.threads) == \
            (0, 8000, 60, threads), job
    holding = {job.name for job in jobs if job.resources.get("gpu", 0)}
    assert holding == {"train"}


def test_every_job_is_submitted_under_the_account_of_sbatch_account(jobs):
    assert {job.resources.get("slurm_account") for job in jobs} == {ACCOUNT}


def test_fetch_jobs_are_planned_for_the_absent_datasets(jobs):
    fetched = {job.name for job in jobs if job.name.startswith("fetch_")}
    datasets = yaml.safe_load(PAPER.read_text())["datasets"]
    assert fetched == {f"fetch_{name.replace('-', '_')}" for name in datasets}


def test_gpu_jobs_go_to_the_gpu_partition_and_the_others_do_not(jobs):
    partitions = read_partition_file(PROFILE / "partitions.yaml")
    logger = logging.getLogger("partitions")
    for job in jobs:
        expected = "gpu" if job.resources.get("gpu", 0) else "cpu"
        assert get_best_partition(partitions, job, logger) == expected, job


def test_trainings_are_resubmitted_with_more_time_and_light_jobs_stay_local():
    # A dry run does not say which jobs would run locally, nor the retries: ask the parsed workflow.
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=ROOT / "Snakefile", workdir=ROOT,
                                config_settings=ConfigSettings(configfiles=[PAPER]))._workflow
        rules = {rule.name: rule for rule in workflow.rules}
        assert rules["train"]._restart_times >= 1, "train is not resubmitted when killed"
        assert workflow.globals["training_runtime"]("generic", 2) == 2 * workflow.globals["training_runtime"]("generic", 1)
        local = {name for name, rule in rules.items() if name in workflow._localrules or rule.norun}
        assert {"verify_raw", "aggregate", "aggregate_ablations", "notebook", "all"} <= local
        fetches = {name for name in rules if name.startswith("fetch_")}
        assert len(fetches) == 4 and fetches <= local  # downloads need the login node's network
        assert not local & {"train", "evaluate", "item_text", "prepare"}


@pytest.mark.parametrize(("gpu_machine", "slots"), [(True, 1), (False, os.cpu_count())])
def test_the_local_profile_runs_one_gpu_training_at_a_time_and_cpu_trainings_side_by_side(tmp_path, gpu_machine, slots):
    # The local profile describes the machine it runs on: NVIDIA's driver tools mean a GPU.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if gpu_machine:
        (bin_dir / "nvidia-smi").write_text("#!/bin/sh\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    path = ":".join([str(bin_dir), str(Path(sys.executable).parent)]
                    + [p for p in os.environ["PATH"].split(":") if not (Path(p) / "nvidia-smi").exists()])
    code = "from snakemake.cli import parse_args; print(parse_args(['-n'])[1].resources['gpu'].value)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PATH": path}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) == slots

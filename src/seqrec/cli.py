"""`python -m seqrec <step>`: one sub-command per workflow step.

Every Snakemake rule is one call of these, so each step also runs by hand, e.g.

    python -m seqrec evaluate --config config/config.yaml --dataset synthetic \
        --interactions results/synthetic/data/interactions.parquet \
        --items results/synthetic/data/items.parquet \
        --power-users results/synthetic/sparsity/power_users.parquet \
        --model results/synthetic/runs/dynamic/seed1/model.pt \
        --per-case results/synthetic/eval/dynamic/seed1/per_case.parquet \
        --metrics results/synthetic/eval/dynamic/seed1/metrics.parquet \
        --valid-per-case results/synthetic/eval/dynamic/seed1/valid_per_case.parquet \
        --valid-metrics results/synthetic/eval/dynamic/seed1/valid_metrics.parquet

(`snakemake -n -p` prints each job's call.)

`--config` takes a YAML file or an inline JSON object (what the rules pass); either way it is
validated against workflow/schemas/config.schema.yaml with its defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seqrec import __version__
from seqrec.config import ConfigError, load_config, validate_config
from seqrec.io import DISK_FULL, InputError, OutputError, disk_full
from seqrec.layout import SPLITS, Layout, split_artifact


def _config(value: str | None) -> dict:
    if value is None:
        return validate_config({})
    if value.lstrip().startswith("{"):
        return validate_config(json.loads(value), source="--config")
    return load_config(value)


def _synthesize(args: argparse.Namespace) -> None:
    from seqrec.datasets import synthetic

    synthetic.write_raw(args.out, **args.config["synthetic"])


def _fetch(args: argparse.Namespace) -> None:
    from seqrec.fetch import fetch_dataset

    print(fetch_dataset(args.dataset, raw_root=args.out, archive_root=args.archives), flush=True)


def _verify(args: argparse.Namespace) -> None:
    from seqrec.fetch import verify_dataset

    verify_dataset(args.dataset, args.raw, args.out)


def _prepare(args: argparse.Namespace) -> None:
    from seqrec.prepare import prepare

    prepare(args.dataset, args.raw, args.out, k_core=args.config["prepare"]["k_core"], options=args.config["prepare"])


def _sparsity(args: argparse.Namespace) -> None:
    from seqrec.weighting import SparsityFiles, sparsity_step

    outputs = SparsityFiles(args.domains, args.table, args.power_users)
    sparsity_step(args.interactions, args.items, outputs, args.dataset, args.config["sparsity"])


def _train(args: argparse.Namespace) -> None:
    from seqrec.train import RunFiles, train

    outputs = RunFiles(args.model, args.history, args.timing, args.weights, args.checkpoint)
    train(args.interactions, args.items, args.domains, outputs, args.dataset, args.method, args.seed, args.config,
          args.threads, text_embeddings=args.text)


def _text(args: argparse.Namespace) -> None:
    from seqrec.device import configure_threads, pick_device
    from seqrec.text import write_item_embeddings

    configure_threads(args.threads)
    settings = args.config["text"]
    write_item_embeddings(args.items, args.out, settings["encoder"], settings["batch_size"],
                          pick_device(args.config["train"]["device"]))


def _evaluate(args: argparse.Namespace) -> None:
    from seqrec.evaluate import EvalFiles, evaluate

    outputs = EvalFiles(args.per_case, args.metrics, args.valid_per_case, args.valid_metrics)
    evaluate(args.interactions, args.items, args.power_users, args.model, outputs, args.config, args.threads)


def _aggregate(args: argparse.Namespace) -> None:
    from seqrec.stats import TableFiles, aggregate

    layout, runs = Layout(results=args.results), {}
    for path in args.per_case:
        run = layout.wildcards(split_artifact("per_case", args.split), path)
        if run["dataset"] != args.dataset:
            raise ValueError(f"{path}: per-case results of {run['dataset']}, not of --dataset {args.dataset}")
        runs[(run["method"], int(run["seed"]))] = path
    runs = _as_variants(runs, args.as_variant)
    settings = args.config["aggregate"]
    outputs = TableFiles(args.metrics, args.metrics_tex, args.lift, args.lift_tex)
    aggregate(args.dataset, runs, outputs, ks=args.config["evaluate"]["ks"], reference="generic",
              n_bootstrap=settings["n_bootstrap"], confidence=settings["confidence"], seed=settings["seed"],
              split=args.split)


def _as_variants(runs: dict[tuple[str, int], Path], settings: list[str]) -> dict[tuple[str, int], Path]:
    """`runs` with the runs of each METHOD of a VARIANT=METHOD setting listed as VARIANT instead."""
    names: dict[str, list[str]] = {}
    for setting in settings:
        variant, _, method = setting.partition("=")
        if not (variant and method):
            raise ValueError(f"--as-variant {setting}: expected VARIANT=METHOD, e.g. fixed_2=fixed")
        if not any(run_method == method for run_method, _ in runs):
            raise ValueError(f"--as-variant {setting}: no --per-case file is of {method}; pass {method}'s "
                             "per-case results too")
        names.setdefault(method, []).append(variant)
    return {(name, seed): path for (method, seed), path in runs.items() for name in names.get(method, [method])}


def _report(args: argparse.Namespace) -> None:
    from seqrec.report import Run
    from seqrec.report.tables import write

    write(Run(args.config, Layout(results=args.results)), args.table, args.out, args.out.with_suffix(".tex"))


def _notebook(args: argparse.Namespace) -> None:
    from seqrec.io import write_json
    from seqrec.render import render_notebook

    args.figures.mkdir(parents=True, exist_ok=True)
    # The whole validated config reaches the notebook as a file beside it: no notebook reads a default.
    config_path = args.out.with_suffix(".config.json")
    write_json(args.config, config_path)
    parameters = {"config_path": str(config_path), "results_dir": str(args.results), "figures_dir": str(args.figures)}
    try:
        render_notebook(args.template, args.out, args.out.with_suffix(".html"), parameters)
    except BaseException:
        config_path.unlink(missing_ok=True)  # a failed step leaves none of its outputs
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seqrec", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"seqrec {__version__}")
    steps = parser.add_subparsers(dest="step", required=True)

    def step(name: str, func, help: str, *, dataset: bool = True, out: str | None = "output folder") -> argparse.ArgumentParser:
        """A step's parser; out=None for a step whose outputs are named one by one."""
        sub = steps.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        sub.add_argument("--config", help="YAML file or inline JSON (default: all defaults)")
        if dataset:
            sub.add_argument("--dataset", required=True, help="dataset name, e.g. movielens-1m (see the config schema)")
        if out is not None:
            sub.add_argument("--out", type=Path, required=True, help=out)
        return sub

    def required_path(sub: argparse.ArgumentParser, name: str, help: str) -> None:
        sub.add_argument(name, type=Path, required=True, help=help)

    def threads(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--threads", type=int, default=1, help="CPU threads (the rule's threads; default 1)")

    data = "the prepared tables' folder, results/{dataset}/data"
    raw = "the dataset's raw files, resources/raw/{dataset}"
    step("synthesize", _synthesize, "generate the embedded synthetic dataset's raw files", dataset=False,
         out="resources/raw/synthetic")
    sub = step("fetch", _fetch, "download (or reuse) and extract the raw files of a dataset that are missing",
               out="the root of the raw folders, resources/raw")
    sub.add_argument("--archives", type=Path, default=Path("resources/archives"), help="where archives are kept")
    sub = step("verify", _verify, "check a dataset's raw files against every known checksum; write the record",
               out="the record to write, results/{dataset}/data/raw_verified.json")
    required_path(sub, "--raw", raw)
    sub = step("prepare", _prepare, "k-core filter, split and write the canonical tables", out=data)
    required_path(sub, "--raw", raw)
    layout = Layout()
    sub = step("sparsity", _sparsity, "domain statistics, power users and weights", out=None)
    required_path(sub, "--interactions", f"the prepared interactions, {layout.pattern('interactions')}")
    required_path(sub, "--items", f"the prepared items, {layout.pattern('items')}")
    required_path(sub, "--domains", f"the domain table to write, {layout.pattern('domains')}")
    required_path(sub, "--table", f"the domain table to write as csv, {layout.pattern('domains_csv')}")
    required_path(sub, "--power-users", f"the power users to write, {layout.pattern('power_users')}")
    sub = step("text", _text, "encode every item's text (title, domains) with the frozen sentence encoder",
               out=f"the embeddings file to write, {layout.pattern('item_embeddings')}")
    required_path(sub, "--items", f"the prepared items, {layout.pattern('items')}")
    threads(sub)
    sub = step("train", _train, "train one (dataset, method, seed)", out=None)
    sub.add_argument("--method", required=True, help="method name, e.g. dynamic or sigma+dynamic (see the config schema)")
    sub.add_argument("--seed", type=int, required=True, help="random seed of the run")
    required_path(sub, "--interactions", f"the prepared interactions, {layout.pattern('interactions')}")
    required_path(sub, "--items", f"the prepared items, {layout.pattern('items')}")
    required_path(sub, "--domains", f"the domain table, {layout.pattern('domains')}")
    sub.add_argument("--text", type=Path, help=f"item text embeddings (the text step's output), for CALRec: "
                                                f"{layout.pattern('item_embeddings')}")
    required_path(sub, "--model", f"the trained model to write, {layout.pattern('model')}")
    required_path(sub, "--history", f"the history to write, one row per epoch, {layout.pattern('history')}")
    required_path(sub, "--timing", f"the timing to write, {layout.pattern('timing')}")
    required_path(sub, "--weights", f"the domain weights to write after every epoch, {layout.pattern('weights')}")
    required_path(sub, "--checkpoint", "the checkpoint kept while training runs (a rerun resumes from it), "
                                       f"{layout.pattern('checkpoint')}")
    threads(sub)
    sub = step("evaluate", _evaluate, "full-ranking test and validation evaluation of one trained run", out=None)
    required_path(sub, "--interactions", f"the prepared interactions, {layout.pattern('interactions')}")
    required_path(sub, "--items", f"the prepared items, {layout.pattern('items')}")
    required_path(sub, "--power-users", f"the power users, {layout.pattern('power_users')}")
    required_path(sub, "--model", f"the train step's model, {layout.pattern('model')}")
    required_path(sub, "--per-case", f"the per-case results to write, {layout.pattern('per_case')}")
    required_path(sub, "--metrics", f"the metrics to write, {layout.pattern('metrics')}")
    required_path(sub, "--valid-per-case",
                  f"the validation split's per-case results to write, {layout.pattern('valid_per_case')}")
    required_path(sub, "--valid-metrics", f"the validation split's metrics to write, {layout.pattern('valid_metrics')}")
    threads(sub)
    sub = step("aggregate", _aggregate, "statistics over seeds and lifts over generic; csv + LaTeX tables", out=None)
    sub.add_argument("--per-case", type=Path, nargs="+", required=True,
                     help=f"the evaluate step's per-case results, {layout.pattern('per_case')} (the method and seed "
                          "are read from each path)")
    sub.add_argument("--as-variant", action="append", default=[], metavar="VARIANT=METHOD",
                     help="list METHOD's per-case results as the ablation variant VARIANT, whose config is "
                          "METHOD's own (it shares METHOD's runs, seqrec.config.run_of); repeatable")
    sub.add_argument("--split", choices=SPLITS, default="test",
                     help="the split the per-case results are of (default test; valid: "
                          f"{layout.pattern('valid_per_case')})")
    sub.add_argument("--results", type=Path, default=Path("results"), help="the results folder of the run")
    required_path(sub, "--metrics", f"the metrics over seeds to write, {layout.pattern('metrics_table')}")
    required_path(sub, "--metrics-tex", f"their LaTeX table, {layout.pattern('metrics_tex')}")
    required_path(sub, "--lift", f"the lifts over generic to write, {layout.pattern('lift_table')}")
    required_path(sub, "--lift-tex", f"their LaTeX table, {layout.pattern('lift_tex')}")
    sub = step("report", _report, "compute one table of the report from the run's outputs; csv + LaTeX beside it",
               dataset=False, out="the csv to write, results/tables/{table}.csv (the .tex goes beside it)")
    sub.add_argument("--table", required=True, help="the table's name, e.g. main_results (see seqrec.report.tables)")
    sub.add_argument("--results", type=Path, default=Path("results"), help="the results folder of the run")
    sub = step("notebook", _notebook, "execute a notebook template with papermill and render it to HTML beside it",
               dataset=False, out="the executed notebook, results/notebooks/{name}.ipynb (the HTML and the "
                                  "run's config, {name}.config.json, go beside it)")
    sub.add_argument("--template", type=Path, required=True, help="notebooks/{name}.ipynb")
    sub.add_argument("--figures", type=Path, required=True, help="folder the notebook writes its figures into")
    sub.add_argument("--results", type=Path, default=Path("results"), help="the results folder of the run")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.config = _config(args.config)
        args.func(args)
    except (ConfigError, InputError, OutputError, ValueError) as err:
        _fail(err)
    except OSError as err:
        if err.errno not in DISK_FULL:
            raise
        # A write that does not go through seqrec.io; a disk-full error without a file names the step.
        _fail(disk_full(err.filename or f"python -m seqrec {args.step}"))


def _fail(err: Exception) -> None:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(1)

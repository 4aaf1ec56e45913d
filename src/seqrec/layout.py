"""The results layout: where every artifact of the workflow lives, spelled once.

Rules, steps and notebooks all take paths from here. Each pattern names its wildcards
(`{dataset}`, `{method}`, `{seed}`, `{name}`, ...): `Layout.path(name, **wildcards)` fills
them (a wildcard left out stays a `{...}` placeholder, which is what a Snakemake rule wants), and
`Layout.expand` lists every combination. The layout is relative to the workflow's working
directory, as Snakemake's paths are; notebooks and scripts can root it elsewhere.
"""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass
from pathlib import Path

RUN = "{dataset}/runs/{method}/seed{seed}"
EVAL = "{dataset}/eval/{method}/seed{seed}"

# Artifact name -> path under the results folder.
RESULTS = {
    # data: the canonical tables (rule prepare) and the raw files' verification record
    "raw_verified": "{dataset}/data/raw_verified.json",
    "interactions": "{dataset}/data/interactions.parquet",
    "items": "{dataset}/data/items.parquet",
    "dataset_summary": "{dataset}/data/dataset.json",
    "item_embeddings": "{dataset}/text/item_embeddings.parquet",
    # sparsity: domain statistics and weights, power users
    "domains": "{dataset}/sparsity/domains.parquet",
    "domains_csv": "{dataset}/sparsity/domains.csv",
    "power_users": "{dataset}/sparsity/power_users.parquet",
    # one training run ({method}: a method of the registry or an ablation variant)
    "model": f"{RUN}/model.pt",
    "history": f"{RUN}/history.csv",
    "timing": f"{RUN}/timing.json",
    "weights": f"{RUN}/weights.csv",
    "checkpoint": f"{RUN}/checkpoint.pt",
    # its evaluation on the test split, and on the validation split (`split_artifact`)
    "metrics": f"{EVAL}/metrics.parquet",
    "per_case": f"{EVAL}/per_case.parquet",
    "valid_metrics": f"{EVAL}/valid_metrics.parquet",
    "valid_per_case": f"{EVAL}/valid_per_case.parquet",
    # aggregated over seeds, lifts over generic; the same tables of the validation split
    "metrics_table": "tables/{dataset}/metrics.csv",
    "metrics_tex": "tables/{dataset}/metrics.tex",
    "lift_table": "tables/{dataset}/lift.csv",
    "lift_tex": "tables/{dataset}/lift.tex",
    "valid_metrics_table": "tables/{dataset}/valid_metrics.csv",
    "valid_metrics_tex": "tables/{dataset}/valid_metrics.tex",
    "valid_lift_table": "tables/{dataset}/valid_lift.csv",
    "valid_lift_tex": "tables/{dataset}/valid_lift.tex",
    # ablations: each variant's runs and evaluations are those above, aggregated against generic
    "ablation_metrics_table": "{dataset}/ablations/tables/metrics.csv",
    "ablation_metrics_tex": "{dataset}/ablations/tables/metrics.tex",
    "ablation_lift_table": "{dataset}/ablations/tables/lift.csv",
    "ablation_lift_tex": "{dataset}/ablations/tables/lift.tex",
    "valid_ablation_metrics_table": "{dataset}/ablations/tables/valid_metrics.csv",
    "valid_ablation_metrics_tex": "{dataset}/ablations/tables/valid_metrics.tex",
    "valid_ablation_lift_table": "{dataset}/ablations/tables/valid_lift.csv",
    "valid_ablation_lift_tex": "{dataset}/ablations/tables/valid_lift.tex",
    # notebooks and what they write
    "notebook": "notebooks/{name}.ipynb",
    "notebook_html": "notebooks/{name}.html",
    "notebook_figures": "figures/{name}",
    "notebook_config": "notebooks/{name}.config.json",
    # the report's tables (rule report), read by the notebooks
    "report_table": "tables/{table}.csv",
    "report_tex": "tables/{table}.tex",
    # Snakemake benchmark files of the jobs
    "train_benchmark": "benchmarks/{dataset}/train/{method}/seed{seed}.tsv",
    "evaluate_benchmark": "benchmarks/{dataset}/evaluate/{method}/seed{seed}.tsv",
}

# The evaluated splits: the test split's artifacts have the plain names, the validation split's
# (the second-to-last item of each user, scored by the same evaluate job) the same names prefixed.
SPLITS = ("test", "valid")


def split_artifact(name: str, split: str) -> str:
    """The name of artifact `name` (a test-split name, e.g. "lift_table") for `split`."""
    if split not in SPLITS:
        raise ValueError(f"no split {split!r}; the evaluated splits are {', '.join(SPLITS)}")
    twin = name if split == "test" else f"{split}_{name}"
    if twin not in RESULTS:
        raise KeyError(f"artifact {name!r} has no {split} twin in the results layout")
    return twin


# Raw files: a dataset's archive and its members as inside it (DESIGN.md, "Names").
RESOURCES = {
    "raw_dir": "raw/{dataset}",
    "raw_member": "raw/{dataset}/{member}",
    "archives": "archives",
}


# What a wildcard matches when a path is read back (`Layout.wildcards`); any other: one path component.
WILDCARD_REGEX = {"seed": r"\d+"}


def wildcards_of(pattern: str) -> list[str]:
    """The wildcard names of a pattern, in order."""
    return [field for _, field, _, _ in string.Formatter().parse(pattern) if field]


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Layout:
    """Every artifact's path under `results` (and the raw files' under `resources`)."""

    results: Path = Path("results")
    resources: Path = Path("resources")

    def path(self, name: str, /, **wildcards) -> Path:
        """The path of artifact `name`; wildcards not given stay `{...}` placeholders."""
        if name in RESULTS:
            root, pattern = self.results, RESULTS[name]
        elif name in RESOURCES:
            root, pattern = self.resources, RESOURCES[name]
        else:
            raise KeyError(f"no artifact {name!r} in the results layout; known: {', '.join([*RESULTS, *RESOURCES])}")
        return root / pattern.format_map(_KeepMissing({k: str(v) for k, v in wildcards.items()}))

    def pattern(self, name: str) -> str:
        """The path of `name` with every wildcard left in place, as a Snakemake rule writes it."""
        return str(self.path(name))

    def expand(self, name: str, /, **values) -> list[Path]:
        """The paths of `name` for every combination of the given wildcard values (lists or scalars)."""
        keys = list(values)
        lists = [v if isinstance(v, (list, tuple)) else [v] for v in values.values()]
        return [self.path(name, **dict(zip(keys, combo))) for combo in itertools.product(*lists)]

    def wildcards(self, name: str, path: str | Path) -> dict[str, str]:
        """The wildcard values of `path`, a path of artifact `name` (the reverse of `path`)."""
        pattern = self.pattern(name)
        regex, seen = "", set()
        for literal, field, _, _ in string.Formatter().parse(pattern):
            regex += re.escape(literal)
            if field:
                regex += f"(?P={field})" if field in seen else f"(?P<{field}>{WILDCARD_REGEX.get(field, '[^/]+')})"
                seen.add(field)
        match = re.fullmatch(regex, Path(path).as_posix())
        if match is None:
            raise ValueError(f"{path}: not a path of the results layout's {name!r}, {pattern}")
        return match.groupdict()

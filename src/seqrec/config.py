"""The workflow configuration: validation against the JSON schema, with its defaults filled in.

Snakemake's own `validate` fills defaults too, but its messages for an unknown key do not say which
keys are valid. Both the Snakefile and the command line go through `validate_config`, so a bad
config fails the same way everywhere.
"""

from __future__ import annotations

import contextlib
import copy
import math
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration does not match workflow/schemas/config.schema.yaml."""


def load_schema() -> dict:
    """The schema, with the names the registries declare as the enums of `methods` and of
    `train.target_domain_stage.architectures` (the trained ones)."""
    from seqrec.methods import METHODS
    from seqrec.models import ARCHITECTURES, architecture_class

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    properties = schema["properties"]
    # Each method alone first, then the baselines with a weighting.
    properties["methods"]["items"]["enum"] = sorted(METHODS, key=lambda name: METHODS[name].weighting != "generic"
                                                    and METHODS[name].baseline)
    stage = properties["train"]["properties"]["target_domain_stage"]["properties"]
    stage["architectures"]["items"]["enum"] = [a for a in ARCHITECTURES if not architecture_class(a).fitted]
    return schema


def _fill_defaults(config: dict, schema: dict) -> None:
    """Insert schema defaults for missing keys, recursing into nested objects."""
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(config[key], sub)


def _types(schema: dict) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _parse(value: str, schema: dict):
    """`value` read as the schema's type, or unchanged when it is not one (validation then says so)."""
    types = _types(schema)
    if "integer" in types:
        with contextlib.suppress(ValueError):
            return int(value)
    if "number" in types:
        # float() because YAML 1.1 reads 1e-3 (no dot) as a string
        with contextlib.suppress(ValueError):
            number = float(value)
            if math.isfinite(number):
                return number
    if types & {"boolean", "array", "object", "null"}:
        with contextlib.suppress(yaml.YAMLError):
            return yaml.safe_load(value)
    return value


def _coerce(value, schema: dict):
    """`value` with strings parsed where the schema wants a number, boolean, list or mapping.

    `snakemake --config seeds=[1]` hands over ["1"], `--config train='{"lr": 1e-3}'` {"lr": "1e-3"},
    and YAML 1.1 reads `lr: 1e-3` in a config file as the string "1e-3".
    """
    if isinstance(value, str):
        value = _parse(value, schema)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {key: _coerce(item, properties.get(key, extra if isinstance(extra, dict) else {}))
                for key, item in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(item, schema["items"]) for item in value]
    return value


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "top level"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (f"{source}: unknown key(s) {', '.join(unknown)} at {where}; "
                f"valid keys are: {', '.join(allowed)}")
    if error.validator == "enum":
        return (f"{source}: {error.instance!r} at {where} is not a valid choice; "
                f"valid ones are: {', '.join(map(str, error.validator_value))}")
    return f"{source}: {where}: {error.message}"


def validate_config(config: dict | None, source: str = "config") -> dict:
    """Return a validated copy of `config` with every default filled in; raise ConfigError if invalid."""
    schema = load_schema()
    config = _coerce(copy.deepcopy(config or {}), schema)
    _fill_defaults(config, schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("\n".join(_describe(e, source) for e in errors))
    dynamic = config["sparsity"]["dynamic"]
    if dynamic["w_min"] > dynamic["w_max"]:
        raise ConfigError(f"{source}: sparsity.dynamic.w_min ({dynamic['w_min']}) exceeds "
                          f"w_max ({dynamic['w_max']}); make w_min <= w_max")
    from seqrec.methods import METHODS

    named_like_methods = sorted(set(config["ablations"]["variants"]) & set(METHODS))
    if named_like_methods:
        raise ConfigError(f"{source}: ablations.variants.{named_like_methods[0]} has the name of a method; rename "
                          "the variant (its runs are kept beside the methods', under that name)")
    if config["train"]["d_model"] % config["train"]["n_heads"]:
        raise ConfigError(f"{source}: train.d_model ({config['train']['d_model']}) must be divisible "
                          f"by train.n_heads ({config['train']['n_heads']})")
    return config


def merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` merged in, nested dictionaries key by key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def ablation_config(config: dict, variant: str) -> dict:
    """The config of an ablation variant: its `sparsity` overrides merged in, validated."""
    overrides = config["ablations"]["variants"][variant].get("sparsity", {})
    return validate_config(merge(config, {"sparsity": overrides}), source=f"ablations.variants.{variant}")


def run_of(config: dict, name: str) -> str:
    """The run (results/{dataset}/runs/{run}/...) whose results are those of `name`, a method or an
    enabled ablation variant. A variant whose config is the main one (the variant that repeats the
    default weighting, the reference line of the fixed-weight sweep) is the same training as its
    method, so it shares that method's run and is trained once; any other variant has its own run."""
    ablations = config["ablations"]
    if not ablations["enabled"] or name not in ablations["variants"]:
        return name
    return ablations["variants"][name]["method"] if ablation_config(config, name) == config else name


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(yaml_error_message(path, err)) from err
    return validate_config(raw, source=str(path))


def yaml_error_message(path: str | Path, err: yaml.YAMLError) -> str:
    """One line naming the file, the line and what is wrong there."""
    mark = getattr(err, "problem_mark", None)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    problem = " ".join(filter(None, [getattr(err, "context", None), getattr(err, "problem", None)])) or str(err)
    return f"{where}: not valid YAML ({problem}); fix the syntax there and rerun"

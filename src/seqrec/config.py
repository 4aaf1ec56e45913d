"""The workflow configuration: validation against the JSON schema, with its defaults filled in.

Snakemake's own `validate` fills defaults too, but its messages for an unknown key do not say which
keys are valid. Both the Snakefile and the command line go through `validate_config`, so a bad
config fails the same way everywhere.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration does not match workflow/schemas/config.schema.yaml."""


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def _fill_defaults(config: dict, schema: dict) -> None:
    """Insert schema defaults for missing keys, recursing into nested objects."""
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(config[key], sub)


def _coerce(config: dict, schema: dict) -> None:
    """Parse strings where the schema wants a number, boolean or list.

    `snakemake --config section='{"key": 5}'` hands nested values over as strings ("5").
    """
    for key, sub in schema.get("properties", {}).items():
        value = config.get(key)
        if isinstance(value, dict) and sub.get("type") == "object":
            _coerce(value, sub)
        elif isinstance(value, str) and sub.get("type") in ("integer", "number", "boolean", "array"):
            try:
                config[key] = yaml.safe_load(value)
            except yaml.YAMLError:
                pass  # left as it is: validation names the key and the expected type


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
    config = copy.deepcopy(config or {})
    schema = load_schema()
    _coerce(config, schema)
    _fill_defaults(config, schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("\n".join(_describe(e, source) for e in errors))
    dynamic = config["sparsity"]["dynamic"]
    if dynamic["w_min"] > dynamic["w_max"]:
        raise ConfigError(f"{source}: sparsity.dynamic.w_min ({dynamic['w_min']}) exceeds "
                          f"w_max ({dynamic['w_max']}); make w_min <= w_max")
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


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    return validate_config(raw, source=str(path))

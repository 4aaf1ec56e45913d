"""The schema fills defaults and rejects bad configs with a message that names the problem."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqrec.config import ConfigError, ablation_config, load_config, load_schema, run_of, validate_config
from seqrec.layout import Layout
from seqrec.report.ablations import default_variant
from seqrec.report.run import Run

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_filled():
    config = validate_config({})
    assert config["datasets"] == ["synthetic"]
    assert config["methods"] == ["pop", "generic", "fixed", "dynamic", "sigma", "calrec", "sparseennet"]
    assert config["sparsity"]["dynamic"]["w_max"] == 5.0
    assert config["evaluate"]["ks"] == [5, 10, 20]


def test_embedded_default_config_is_valid():
    config = load_config(ROOT / "config" / "config.yaml")
    assert config["seeds"] == [1, 2]
    assert config["methods"] == ["pop", "generic", "fixed", "dynamic", "sigma", "calrec", "sparseennet"]


@pytest.mark.parametrize("bad, message", [
    ({"datasets": ["netflix"]}, r"'netflix' at datasets\.0 is not a valid choice; valid ones are: synthetic, movielens-100k"),
    ({"methods": ["generic", "magic"]}, r"'magic' at methods\.1 .*valid ones are: pop, generic, fixed, dynamic, sigma, calrec, sparseennet, sigma\+fixed"),
    ({"trian": {}}, r"unknown key\(s\) trian at top level; valid keys are: ablations, aggregate, datasets"),
    ({"train": {"lr": 0.1, "epochs": 3}}, r"unknown key\(s\) epochs at train; valid keys are: .*max_epochs"),
    ({"seeds": []}, r"seeds: \[\] should be non-empty"),
    ({"sparsity": {"dynamic": {"w_min": 3, "w_max": 2}}}, r"w_min \(3\) exceeds w_max \(2\)"),
    ({"train": {"d_model": 10, "n_heads": 3}}, r"divisible"),
])
def test_bad_configs_are_rejected(bad, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(bad)


def test_config_file_errors_name_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"datasets": ["nope"]}))
    with pytest.raises(ConfigError, match="mine.yaml"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_strings_from_the_command_line_are_parsed():
    # snakemake --config train='{"max_epochs": 5}' ablations='{"enabled": false}' passes strings
    config = validate_config({"train": {"max_epochs": "5", "lr": "0.01"}, "ablations": {"enabled": "false"}})
    assert config["train"]["max_epochs"] == 5 and config["train"]["lr"] == 0.01
    assert config["ablations"]["enabled"] is False
    with pytest.raises(ConfigError, match="max_epochs: 'many' is not of type 'integer'"):
        validate_config({"train": {"max_epochs": "many"}})


def test_yaml_1_1_exponents_and_command_line_list_items_are_numbers():
    # YAML 1.1 reads `lr: 1e-3` as the string "1e-3"; `snakemake --config seeds=[1]` hands over ["1"]
    config = validate_config({"train": {"lr": "1e-3"}, "seeds": ["1", "2"], "prepare": {"min_rating": "null"}})
    assert config["train"]["lr"] == 0.001 and config["seeds"] == [1, 2] and config["prepare"]["min_rating"] is None
    with pytest.raises(ConfigError, match=r"seeds\.0: 'one' is not of type 'integer'"):
        validate_config({"seeds": ["one"]})


def test_exponent_in_a_config_file_is_a_number(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("train:\n  lr: 1e-3\nablations:\n  variants:\n"
                    "    small_alpha: {method: dynamic, sparsity: {dynamic: {alpha: 5e-1}}}\n")
    config = load_config(path)
    assert config["train"]["lr"] == 0.001
    assert ablation_config(config, "small_alpha")["sparsity"]["dynamic"]["alpha"] == 0.5


def test_a_variant_that_repeats_its_method_s_config_shares_that_method_s_run():
    config = validate_config({})  # the schema's variants: log_inverse_frequency repeats dynamic, fixed_2 fixed
    assert run_of(config, "log_inverse_frequency") == "dynamic" and run_of(config, "fixed_2") == "fixed"
    assert run_of(config, "composite") == "composite" and run_of(config, "fixed_4") == "fixed_4"
    assert run_of(config, "generic") == "generic"  # a method is its own run
    other_weight = validate_config({"sparsity": {"fixed": {"weight": 3.0}}})
    assert run_of(other_weight, "fixed_2") == "fixed_2"  # no longer the main fixed weight: its own run
    disabled = validate_config({"ablations": {"enabled": False}})
    assert run_of(disabled, "log_inverse_frequency") == "log_inverse_frequency"


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("datasets: [synthetic]\ntrain:\n  lr: [0.1\n  max_epochs: 3\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, line 4") and "\n" not in message, message


# The effective config the workflow runs with, built by Snakemake's own API from the same settings
# its command line builds (`--configfile FILE --config KEY=VALUE`), in the repository like a user.
EFFECTIVE_CONFIG = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.cli import parse_config
from snakemake.settings.enums import Quietness
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

configfiles, overrides = json.loads(sys.argv[1]), json.loads(sys.argv[2])
settings = ConfigSettings(configfiles=[Path(f) for f in configfiles], config=parse_config(overrides))
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow = api.workflow(ResourceSettings(cores=1), settings, snakefile=Path("Snakefile"))
    print(json.dumps(workflow._workflow.config))
"""


def effective_config(configfiles: list[str], overrides: list[str] = ()) -> dict:
    result = subprocess.run([sys.executable, "-c", EFFECTIVE_CONFIG, json.dumps(configfiles), json.dumps(list(overrides))],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_same_keys(actual: dict, expected: dict, where: str = "") -> None:
    assert sorted(actual) == sorted(expected), where or "top level"
    for key, value in expected.items():
        if isinstance(value, dict) and isinstance(actual[key], dict):
            assert_same_keys(actual[key], value, f"{where}{key}.")
        else:
            assert actual[key] == value, f"{where}{key}: {actual[key]!r} != {value!r}"


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml", "config/selection.yaml",
                                        "config/cpu-day.yaml", "tests/configs/tiny.yaml"])
def test_each_config_file_stands_alone_on_the_schema_defaults(configfile):
    expected = validate_config(yaml.safe_load((ROOT / configfile).read_text()))
    assert_same_keys(effective_config([configfile]), expected)


def test_paper_config_takes_nothing_from_the_default():
    config = effective_config(["config/paper.yaml"])
    assert "max_len" not in config["train"]["sigma"] and "max_epochs" not in config["train"]["sigma"]
    assert config["ablations"]["variants"] == load_schema()["properties"]["ablations"]["properties"]["variants"]["default"]


def test_without_a_config_file_the_default_is_used_and_overrides_layer_on_the_file():
    assert_same_keys(effective_config([]), load_config(ROOT / "config" / "config.yaml"))
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    expected = validate_config({**paper, "seeds": [1], "train": {**paper["train"], "lr": 0.01}})
    assert_same_keys(effective_config(["config/paper.yaml"], ["seeds=[1]", 'train={"lr": 1e-2}']), expected)


def test_the_reference_line_of_the_fixed_weight_sweep_is_the_variant_that_repeats_the_default():
    assert default_variant(Run(validate_config({}), Layout())) == "log_inverse_frequency"
    first_default = {"sparsity": {"dynamic": {"score": "inverse_frequency", "alpha": 0.5}}}
    assert default_variant(Run(validate_config(first_default), Layout())) == "square_root"
    only_fixed = {"ablations": {"variants": {"fixed_2": {"method": "fixed", "sparsity": {"fixed": {"weight": 2.0}}}}}}
    assert default_variant(Run(validate_config(only_fixed), Layout())) is None


def test_a_variant_that_names_a_score_names_its_alpha_too():
    # so that a former default (composite, downweight_dense, ...) stays itself when the default changes
    variants = load_schema()["properties"]["ablations"]["properties"]["variants"]["default"]
    for name, variant in variants.items():
        dynamic = variant["sparsity"].get("dynamic", {})
        assert "score" not in dynamic or "alpha" in dynamic, name


def test_the_dynamic_default_agrees_in_the_schema_both_config_files_and_the_docs():
    schema_default = validate_config({})["sparsity"]["dynamic"]
    docs = (ROOT / "docs" / "weighting.md").read_text()
    block = docs.split("### The default in use", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    documented = yaml.safe_load(block)["dynamic"]
    chosen = {key: schema_default[key] for key in documented}
    assert documented == chosen
    for configfile in ["config/config.yaml", "config/paper.yaml"]:
        written = yaml.safe_load((ROOT / configfile).read_text())["sparsity"]["dynamic"]
        assert validate_config({"sparsity": {"dynamic": written}})["sparsity"]["dynamic"] == schema_default, configfile

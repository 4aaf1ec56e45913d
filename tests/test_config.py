"""The schema fills defaults and rejects bad configs with a message that names the problem."""

import pytest
import yaml

from seqrec.config import ConfigError, load_config, validate_config


def test_defaults_are_filled():
    config = validate_config({})
    assert config["datasets"] == ["synthetic"]
    assert config["methods"] == ["pop", "generic", "fixed", "dynamic", "sigma", "calrec", "sparseennet"]
    assert config["sparsity"]["dynamic"]["w_max"] == 5.0
    assert config["evaluate"]["ks"] == [5, 10, 20]


def test_embedded_default_config_is_valid():
    config = load_config("config/config.yaml")
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

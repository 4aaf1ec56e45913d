# Two entry points that do their own set-up on a fresh machine:
#   make run    the whole workflow on the embedded default (config/config.yaml), offline, CPU or GPU
#   make test   the test suite
# Both create .venv with the exact pins of pyproject.toml on first use.

VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run test benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[notebooks,workflow,test]"
	touch $(STAMP)

run: $(STAMP)
	snakemake --cores all

test: $(STAMP)
	python -m pytest

benchmark: $(STAMP)
	PYTHONPATH=src python benchmarks/throughput.py

clean:
	rm -rf results .snakemake

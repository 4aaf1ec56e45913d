# Two entry points that do their own set-up on a fresh machine:
#   make run    the whole workflow on the embedded default (config/config.yaml), offline, CPU or GPU
#   make test   the test suite
# Both create .venv on first use from requirements.lock: every package at one version, then the
# package itself (editable, without resolving anything again).
#   make lock   rewrites requirements.lock from pyproject.toml (after changing a pin there), and
#               the conda envs' pins from it

VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run test benchmark clean lock

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	snakemake --cores all

test: $(STAMP)
	python -m pytest

benchmark: $(STAMP)
	PYTHONPATH=src python benchmarks/throughput.py

# Every extra but cuda (built against a CUDA toolkit), resolved on Python 3.11. torch is written
# without its local label (+cpu), so pip takes the CPU build where an index offers it (here, or with
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu) and PyPI's build of 2.13.0 elsewhere.
lock:
	$(PYTHON) -m venv $(VENV)/pip-tools
	$(VENV)/pip-tools/bin/pip install --quiet --disable-pip-version-check pip-tools==7.6.2
	$(VENV)/pip-tools/bin/pip-compile --quiet --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra notebooks --extra workflow --extra slurm --extra test --output-file requirements.lock pyproject.toml
	sed -i 's/^torch==\(.*\)+cpu$$/torch==\1/' requirements.lock
	$(PYTHON) envs/write_pins.py

clean:
	rm -rf results .snakemake

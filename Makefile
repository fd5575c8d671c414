# Skyway's two front doors: `make demo` and `make test`. Both set up a
# fresh machine on their own: the virtualenv, the Python packages and the
# system packages (Slurm, munge) the demo and the tests need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CHECKPOINT_DISABLE := 1

.PHONY: help venv system test lint typecheck unit demo bench clean

help:
	@echo "make demo   run Skyway's demo on the embedded defaults"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  run the benchmarks in bench/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

system:
	bash scripts/install-system.sh

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

unit: venv system
	$(BIN)/python -m pytest

test: lint typecheck unit

demo: venv system
	$(BIN)/python -m skyway.demo

bench: venv system
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

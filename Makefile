# Every target sets itself up: a fresh machine needs only python3.11, node/npm and make.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := 0

.PHONY: setup frontend-tools run test test-unit lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# bun from the npm registry (Reflex's own download needs the internet); see scripts/ensure-bun.sh
frontend-tools:
	bash scripts/ensure-bun.sh

# Embedded default: SQLite, in-process worker, demo Graph, demo users.
run: setup frontend-tools
	bash scripts/run-embedded.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup frontend-tools lint
	bash scripts/test.sh

bench: setup
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .web .states .tools data

# pva: every target sets itself up (virtualenv, install) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HYPOTHESIS_PROFILE ?= fast

.PHONY: help install services test test-deep lint typecheck unit bench serve schema screenshots clean

help:
	@echo "make serve      run the sidecar on 127.0.0.1:8000 (store var/projects, SQLite), printing the admin token"
	@echo "                (kept in var/state/admin-token; make serve ROTATE=1 replaces it)"
	@echo "make test       lint, type check and the fast test suite"
	@echo "make test-deep  the test suite with thorough hypothesis runs"
	@echo "make bench      benchmarks with their baselines (bench/README.md)"
	@echo "make schema     regenerate schema/plan.v1.schema.json from the models"
	@echo "make screenshots  refresh docs/img from the approval page's end-to-end test"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "pva needs Python 3.11 or later ($(PYTHON) is older)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

services:
	@bash .ci/ensure-postgres
	@bash .ci/ensure-chromium

unit: $(STAMP) services
	$(BIN)/pytest -q -m "not slow"

test: lint typecheck unit

test-deep: HYPOTHESIS_PROFILE = deep
test-deep: $(STAMP) services
	$(BIN)/pytest -q

bench: $(STAMP) services
	$(BIN)/python -m bench
	$(BIN)/python -m bench.audit_history

screenshots: $(STAMP) services
	PVA_SCREENSHOTS=docs/img $(BIN)/pytest -q tests/e2e -k "approver_signs_in or 390_px"

schema: $(STAMP)
	$(BIN)/python -m planner.cli.main schema > schema/plan.v1.schema.json

serve: $(STAMP)
	$(BIN)/pva serve --init $(if $(ROTATE),--rotate)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

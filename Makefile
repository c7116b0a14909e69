# FedForge developer entry points. `make demo` runs the whole pipeline; `make test` runs the tests.
# Both set up the environment first (idempotent: re-installs only when requirements.lock or pyproject.toml changes).

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
export FLWR_TELEMETRY_ENABLED := 0
export FLWR_DISABLE_UPDATE_CHECK := 1
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup lock demo test test-fast lint dashboard help docs docs-serve docs-ref

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The exact versions of requirements.lock (runtime + dev + simulation extras, pip included), then fedforge alone.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.lock
	$(BIN)/python -m pip install -e . --no-deps
	touch $@

# Keeps the current pins where pyproject.toml still allows them; `make lock UPGRADE=1` moves every package to the
# newest allowed release. The Python patch level is this platform's (some locked releases need >= 3.11.5).
LOCK_TARGET := --python-version 3.11.7 --python-platform x86_64-manylinux_2_28
lock: $(VENV)/.installed  ## re-resolve requirements.lock from pyproject.toml + constraints.txt (needs PyPI)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra simulation --extra docs -c constraints.txt $(LOCK_TARGET) \
	  $(if $(UPGRADE),--upgrade) -o requirements.lock

DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/scripts dashboard/index.html dashboard/package.json \
                       dashboard/vite.config.ts -type f 2>/dev/null)
dashboard/dist/index.html: dashboard/package-lock.json $(DASHBOARD_SOURCES)
	cd dashboard && npm ci --no-audit --no-fund && npm run build

dashboard: dashboard/dist/index.html  ## install and build the dashboard (served by `fedforge monitor`)

setup: $(VENV)/.installed  ## create .venv, install the locked versions + fedforge, build the dashboard
	@if [ -f dashboard/package-lock.json ]; then $(MAKE) --no-print-directory dashboard; fi

demo: setup  ## the main job: the whole DVC pipeline on the default params (synthetic data, offline)
	$(BIN)/dvc repro

test: setup  ## the whole test suite on every core (tiny synthetic data; browser tests need /usr/bin/chromium)
	$(BIN)/python -m pytest -n auto

test-fast: setup  ## tests without the slow end-to-end runs
	$(BIN)/python -m pytest -m "not slow and not browser"

lint: setup  ## ruff over the Python code
	$(BIN)/ruff check fedforge stages tests benchmarks

docs: $(VENV)/.installed  ## build the documentation site offline into site/ (mkdocs --strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(VENV)/.installed  ## serve the documentation site on http://127.0.0.1:8000 (rebuilds on save)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

docs-ref: $(VENV)/.installed  ## regenerate docs/reference/{params,cli,api}.md from the config models, parser and API
	$(BIN)/python docs/gen_reference.py

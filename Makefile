# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint docs bench install dev browser postgis clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)

dev: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/sitescore demo

browser: $(DEV_STAMP)
	bash tools/install_browser.sh

postgis:
	bash tools/install_postgis.sh

test: $(DEV_STAMP) browser postgis
	$(BIN)/python -m pytest

# ruff (style, bugs) and mypy (types; stricter on the public API), as configured in pyproject.toml
lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# docs/reference.md from the registries of readers, metrics, value functions and methods
docs: $(STAMP)
	$(BIN)/python -m sitescore.reference docs/reference.md

# the dev extras hold the bench ones (dask, rasterstats); the map benchmark needs Chromium
bench: $(DEV_STAMP) browser
	$(BIN)/python benchmarks/read_state_extract.py
	$(BIN)/python benchmarks/sensitivity_demo.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/network.py
	$(BIN)/python benchmarks/map.py

clean:
	rm -rf $(VENV) runs maps/*/ data/demo test-output .pytest_cache

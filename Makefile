# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# Dependencies install from committed, hash-pinned lock files (uv pip compile, universal).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 -q

.PHONY: demo test unit integration lint bench clean lock lock-upgrade

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(DEV_STAMP): pyproject.toml $(DEV_LOCK) | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $@ $(STAMP)

# After editing dependencies in pyproject.toml: re-pin (keeps existing pins where they still fit).
lock: | $(BIN)/python
	$(BIN)/pip install -q uv
	$(COMPILE) --extra dev -o $(DEV_LOCK)
	$(COMPILE) -c $(DEV_LOCK) -o $(LOCK)

# Move every pin to the newest release that fits (the scheduled refresh runs this, then `make test`).
lock-upgrade: | $(BIN)/python
	$(BIN)/pip install -q uv
	$(COMPILE) --extra dev --upgrade -o $(DEV_LOCK)
	$(COMPILE) -c $(DEV_LOCK) --upgrade -o $(LOCK)

demo: $(STAMP)
	$(BIN)/alertpilot demo

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

unit: $(DEV_STAMP)
	$(BIN)/pytest -q -m "not integration"

integration: $(DEV_STAMP)
	$(BIN)/pytest -q -m integration

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/graph_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache

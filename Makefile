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
# Deployment checks (chart render, schema validation, IaC linters) use tools whose pins
# clash with the project's lock: their own venv, their own hash-pinned requirements.
# .ci/run points TOOLS_VENV at a cache keyed by the requirements file, so CI installs once.
TOOLS_VENV ?= .venv-tools
TOOLS_REQ := deploy/tools/requirements.txt
TOOLS_STAMP := $(TOOLS_VENV)/.installed
NODE_TOOLS := deploy/tools/node_modules
NODE_STAMP := $(NODE_TOOLS)/.installed
CHECK_ENV = ALERTPILOT_TOOLS_VENV=$(abspath $(TOOLS_VENV)) ALERTPILOT_NODE_TOOLS=$(abspath $(NODE_TOOLS))

.PHONY: demo test unit integration model-tier lint bench clean lock lock-upgrade deploy-tools deploy-check tools-lock image

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

$(TOOLS_STAMP): $(TOOLS_REQ)
	$(PY) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install -q --require-hashes -r $(TOOLS_REQ)
	touch $@

# dclint (Compose-spec schema) from the committed package-lock.json; skipped without npm
# (its test then skips locally and fails under CI).
$(NODE_STAMP): deploy/tools/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix deploy/tools --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the compose schema check will be skipped"; fi

deploy-tools: $(TOOLS_STAMP) $(NODE_STAMP)

# Render + validate + lint every deployment artefact (also part of `make test`).
deploy-check: $(DEV_STAMP) deploy-tools
	$(CHECK_ENV) $(BIN)/pytest -q tests/deploy

# Re-pin the deployment tools (deploy/tools/requirements.in -> requirements.txt).
tools-lock: | $(BIN)/python
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile deploy/tools/requirements.in --universal --generate-hashes --python-version 3.11 -q \
	  -o $(TOOLS_REQ)

# Build the image with buildah on a base made from Debian packages (no registry needed).
image:
	sh deploy/build-image.sh

demo: $(STAMP)
	$(BIN)/alertpilot demo

test: $(DEV_STAMP) deploy-tools
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(CHECK_ENV) $(BIN)/pytest -q

unit: $(DEV_STAMP) deploy-tools
	$(CHECK_ENV) $(BIN)/pytest -q -m "not integration"

integration: $(DEV_STAMP) deploy-tools
	$(CHECK_ENV) $(BIN)/pytest -q -m integration

# The LLM tiers: a scripted OpenAI-compatible server (protocol) and a real llama-server with
# SmolLM2-135M (built once and cached by .ci/model-server.sh; `make test` runs both too).
model-tier: $(DEV_STAMP)
	@eval "$$(bash .ci/model-server.sh | sed 's/^/export /')"; \
	  $(BIN)/pytest -q tests/integration/test_llm_protocol.py tests/integration/test_real_model.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/graph_overhead.py

clean:
	rm -rf $(VENV) .venv-tools $(NODE_TOOLS) .pytest_cache

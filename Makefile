# The two entry points the README promises, plus the pieces they are made of.
#   make demo   the main job: a real local cluster (and, as the project grows, a metric-gated canary on it)
#   make test   lint + type check + every test tier CI runs (unit and integration on the real local cluster)
# Both install everything they need on a fresh machine: virtualenv, Python packages, cluster binaries, Prometheus.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all demo test lint typecheck unit integration cluster-bin prometheus deps clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

cluster-bin:
	tools/cluster/build.sh >/dev/null

prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus package"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus >/dev/null; \
	  $(SUDO) systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true; }
	@prometheus --version 2>&1 | head -1

deps: $(STAMP) cluster-bin prometheus

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: deps
	$(BIN)/pytest tests/integration -q

# The tiers CI runs; the kind-based e2e tier is opt-in (`$(BIN)/pytest tests/e2e --e2e` against a kind cluster).
test: deps lint typecheck
	$(BIN)/pytest tests/unit tests/integration -q

demo: deps
	$(BIN)/python -m rollouts.demo

clean:
	-$(BIN)/rollouts cluster down
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis

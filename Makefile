# The two entry points the README promises, plus the pieces they are made of.
#   make demo   the main job: a real local cluster (and, as the project grows, a metric-gated canary on it)
#   make test   lint + type check + every test tier CI runs (unit and integration on the real local cluster)
#   make conformance      Argo Rollouts' own e2e suite against Argo's controller and ours (hours; not in `make test`)
#   make conformance-ci   its fixed subset, at most 10 minutes, that must pass (docs/conformance.md)
# Both install everything they need on a fresh machine: virtualenv, Python packages, cluster binaries, Prometheus.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all demo test lint typecheck unit integration cluster-bin helm-bin prometheus deps clean conformance conformance-ci argo-shapes bench-vs-argo ha image manifests

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

cluster-bin:
	tools/cluster/build.sh >/dev/null

# helm from the Go module proxy (the chart's tests lint, render and install it), cached like the cluster's binaries.
helm-bin:
	tools/helm/build.sh >/dev/null

prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus package"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus >/dev/null; \
	  $(SUDO) systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true; }
	@prometheus --version 2>&1 | head -1

deps: $(STAMP) cluster-bin helm-bin prometheus

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
	$(MAKE) conformance-ci

demo: deps
	$(BIN)/python -m rollouts.demo

# Argo's e2e binary, controller and plugin are built from the pinned Go module on first use (~25 min, cached in
# ~/.cache/rollouts/argo-rollouts-<version>). The CI subset runs against CONFORMANCE_CI_AGAINST (ours; `argo` for
# the peer) and is part of `make test`; its run bound keeps it within 10 minutes, cluster start included.
CONFORMANCE_CI_AGAINST ?= ours

conformance: $(STAMP) cluster-bin
	$(BIN)/python -m tools.conformance --against both --report docs/conformance.md

conformance-ci: $(STAMP) cluster-bin
	$(BIN)/python -m tools.conformance --against $(CONFORMANCE_CI_AGAINST) --subset ci --timeout 600

# Argo Rollouts' controller and ours side by side on identical Rollouts (N = 50 and 200 by default; BENCH_N=...);
# writes the table into docs/performance.md. Not part of `make test` (tens of minutes). BENCH_FLAGS=--fast-kcm
# raises the kube-controller-manager's client limit so the controllers, not the cluster, are the bottleneck.
BENCH_N ?= 50 200
BENCH_FLAGS ?=
bench-vs-argo: $(STAMP) cluster-bin
	$(BIN)/python bench/bench_vs_argo.py --n $(BENCH_N) $(BENCH_FLAGS) --write docs/performance.md

# Leader election with Argo's default durations (15 s lease) and 20 SIGKILLs of the leader, printing the failover
# times; `make test` runs the same test with a 3 s lease and 6 kills.
ha: deps
	ROLLOUTS_HA_KILLS=20 ROLLOUTS_HA_LEASE_DURATION=15 $(BIN)/pytest -s -q tests/integration/rollouts/test_leader_election.py

# The controller's container image, built with buildah (as root) on a Debian base made by mmdebstrap, from a wheelhouse
# of this tree; prints the image, its size and the build time. The integration tests run the same script.
image: $(STAMP)
	tools/image/build.sh

# The kustomize base's copies of the package's manifests (kustomize reads no file outside its folder); a test fails
# when they are stale.
manifests: $(STAMP)
	$(BIN)/python -m tools.manifests

# The shapes of Argo's Go types (corev1.PodTemplateSpec, []CanaryStep) that rollouts/core/gojson.py encodes, generated
# from the Go types inside Argo's pinned module (built by the conformance harness on first use).
argo-shapes:
	tools/argo/run.sh podshape > rollouts/core/go_shapes/argo.json

clean:
	-$(BIN)/rollouts cluster down
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis

"""The architecture is enforced, not just drawn: imports are checked against the layering in docs/architecture.md.

- ``workflows`` depends on nothing of ours; ``analysis`` may use ``workflows``; ``rollouts`` may use both.
- Inside ``workflows``, the model (``workflows.model*``: spec, compiler, plan, scheduler, status) imports nothing of
  the runtime (executor, runners, Jobs, controller), not even for type checking: the runtime drives the model.
- Only ``workflows.runtime.kube`` imports ``kubernetes``: every request of the product goes through its ``Kube``.
- Only the kopf shells import ``kopf``.
- Decision modules (the pure core) import no I/O library at all: no clients, sockets, subprocesses or clocks.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("workflows", "analysis", "rollouts")
# Which of our packages each package may import.
ALLOWED_OWN = {
    "workflows": {"workflows"},
    "analysis": {"analysis", "workflows"},
    "rollouts": {"rollouts", "analysis", "workflows"},
}
KUBE_LIBRARIES = {"kubernetes", "kopf"}
# The one door to the Kubernetes API: plain dicts in and out, typed errors (everything else uses its ``Kube``).
KUBERNETES_MODULES = ("workflows.runtime.kube",)
# The kopf shells: they register handlers and log kopf in (with credentials from ``Kube.credentials()``).
KOPF_MODULES = (
    "workflows.runtime.controller",  # Workflows
    "analysis.controller",  # AnalysisRuns
    "rollouts.controller",  # the operator process: login, engine lifecycle, every handler
    "rollouts.controller.*",  # Rollouts
)
IO_LIBRARIES = KUBE_LIBRARIES | {
    "requests",
    "httpx",
    "prometheus_api_client",
    "urllib3",
    "socket",
    "subprocess",
    "http",
    "aiohttp",
    "time",
}
# The decision core: pure functions of their inputs (time is passed in as ``now``).
PURE_MODULES = (
    "analysis.spec",
    "analysis.assess",
    "analysis.args",
    "analysis.durations",
    "analysis.status",
    "workflows.api",
    "workflows.errors",
    "workflows.model",  # the engine's model and the shared primitives: spec, compiler, plan, expressions, ...
    "workflows.model.*",
    "rollouts.core",
    "rollouts.core.*",
    "rollouts.routers.base",  # traffic routers: the routing spec and managed-route values
    "rollouts.routers.nginx",  # pure builders: desired object from the current one
    "rollouts.routers.istio",
    "rollouts.routers.gateway",
    "rollouts.routers.alb",
    "rollouts.devcluster.podsim",  # the simulated kubelet's decisions: a pod spec -> its plan (names, images, programs)
    "rollouts.devcluster.podsim.names",
    "rollouts.devcluster.podsim.images",
    "rollouts.devcluster.podsim.programs",
    "rollouts.devcluster.podsim.plan",
    "rollouts.notifications",  # notifications: everything but the sender (config, templates, services, plan, ...)
    "rollouts.notifications.catalog",
    "rollouts.notifications.config",
    "rollouts.notifications.errors",
    "rollouts.notifications.plan",
    "rollouts.notifications.record",
    "rollouts.notifications.services",
    "rollouts.notifications.subscriptions",
    "rollouts.notifications.templates",
)


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def imported_roots(path: Path, module: str) -> set[str]:
    """Top-level names of everything ``path`` imports, including lazy imports inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays within the module's own package
                roots.add(module.split(".", maxsplit=1)[0])
            elif node.module:
                roots.add(node.module.split(".")[0])
    return roots


# Layers inside a package: modules matching the key may not import modules matching any of the values.
INNER_LAYERS = {
    ("workflows.model", "workflows.model.*"): ("workflows.runtime", "workflows.runtime.*"),
}


def imported_modules(path: Path, module: str) -> set[str]:
    """Full dotted names of everything ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``),
    including lazy and ``TYPE_CHECKING`` imports; relative imports are resolved against ``module``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns)


ALL_MODULES = list(modules())


def test_the_packages_exist() -> None:
    assert {name.split(".")[0] for name, _ in ALL_MODULES} == set(PACKAGES)


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_package_layering(module: str, path: Path) -> None:
    package = module.split(".", maxsplit=1)[0]
    own = imported_roots(path, module) & set(PACKAGES)
    forbidden = own - ALLOWED_OWN[package]
    assert not forbidden, f"{module} imports {sorted(forbidden)}; {package} may only use {sorted(ALLOWED_OWN[package])}"


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_only_the_kube_module_imports_the_kubernetes_client(module: str, path: Path) -> None:
    if "kubernetes" in imported_roots(path, module):
        assert matches(module, KUBERNETES_MODULES), (
            f"{module} imports kubernetes; use workflows.runtime.kube.Kube (extend it if something is missing)"
        )


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_only_the_kopf_shells_import_kopf(module: str, path: Path) -> None:
    if "kopf" in imported_roots(path, module):
        assert matches(module, KOPF_MODULES), (
            f"{module} imports kopf but is not a kopf shell ({', '.join(KOPF_MODULES)})"
        )


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_decision_core_does_no_io(module: str, path: Path) -> None:
    if not matches(module, PURE_MODULES):
        return
    used = imported_roots(path, module) & IO_LIBRARIES
    assert not used, f"{module} is part of the pure decision core but imports {sorted(used)}"


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_inner_layers(module: str, path: Path) -> None:
    for lower, forbidden in INNER_LAYERS.items():
        if matches(module, lower):
            used = sorted(name for name in imported_modules(path, module) if matches(name, forbidden))
            assert not used, f"{module} imports {used}; the model never depends on the runtime that drives it"


def test_the_inner_layer_checker_sees_type_checking_and_relative_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from workflows.runtime.executor import Run\n"
        "from ..runtime import jobs\n"
    )
    found = imported_modules(sample, "workflows.model.sample")
    assert {"workflows.runtime.executor", "workflows.runtime.executor.Run", "workflows.runtime.jobs"} <= found
    assert any(matches(name, INNER_LAYERS[("workflows.model", "workflows.model.*")]) for name in found)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from . import x\ndef f():\n    import kubernetes.client\n    from requests import get\n")
    assert imported_roots(sample, "analysis.sample") == {"analysis", "kubernetes", "requests"}

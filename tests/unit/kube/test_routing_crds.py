"""``install_routing_crds``' pure parts: which manifests a CRD set means, and what a failed fetch tells the user.

The fetch itself is a subprocess (tools/cluster/crds/fetch.sh): here ``subprocess.run`` and ``shutil.which`` are
replaced, so nothing runs; the real fetch and apply run in the demo's integration test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollouts.kube.install import RoutingCrdsUnavailableError, fetch_routing_crds, routing_crd_files


def _layout(root: Path) -> Path:
    (root / "gateway-api").mkdir(parents=True)
    (root / "istio").mkdir()
    for name in ("gateway.networking.k8s.io_httproutes.yaml", "gateway.networking.k8s.io_gateways.yaml"):
        (root / "gateway-api" / name).write_text("kind: CustomResourceDefinition\n")
    (root / "istio" / "customresourcedefinitions.gen.yaml").write_text("kind: CustomResourceDefinition\n")
    return root


def test_gateway_api_means_every_file_of_its_folder_sorted(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    assert [p.name for p in routing_crd_files(root, ["gateway-api"])] == [
        "gateway.networking.k8s.io_gateways.yaml",
        "gateway.networking.k8s.io_httproutes.yaml",
    ]
    both = routing_crd_files(root, ["gateway-api", "istio"])
    assert both[-1] == root / "istio" / "customresourcedefinitions.gen.yaml"


def test_an_unknown_set_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    known = "argo-rollouts, gateway-api, istio"
    with pytest.raises(ValueError, match=rf"unknown routing CRD set 'linkerd'; known: {known}"):
        routing_crd_files(_layout(tmp_path), ["linkerd"])


def test_an_empty_cache_directory_says_to_fetch_again(tmp_path: Path) -> None:
    with pytest.raises(RoutingCrdsUnavailableError, match="no gateway-api CRD manifests"):
        routing_crd_files(tmp_path, ["gateway-api"])


class _Runs:
    """Stands in for ``subprocess.run``: answers by whether ``--print`` was asked, records every call."""

    def __init__(self, *, cached: str | None, fetched: subprocess.CompletedProcess[str] | None = None) -> None:
        self.cached = cached
        self.fetched = fetched
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        if args[-1] == "--print":
            return subprocess.CompletedProcess(args, 0 if self.cached else 1, stdout=self.cached or "", stderr="")
        assert self.fetched is not None, "fetch.sh must not run"
        return self.fetched


def test_a_cached_directory_needs_no_go(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = _Runs(cached="/cache/crds-abc\n")
    monkeypatch.setattr("subprocess.run", runs)
    monkeypatch.setattr("shutil.which", lambda _: None)
    assert fetch_routing_crds(script=Path("/repo/fetch.sh")) == Path("/cache/crds-abc")
    assert runs.calls == [["/repo/fetch.sh", "--print"]]


def test_without_go_and_cache_the_error_names_go_and_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("subprocess.run", _Runs(cached=None))
    monkeypatch.setattr("shutil.which", lambda _: None)
    with pytest.raises(RoutingCrdsUnavailableError, match=r"Go is needed once .*/repo/fetch\.sh"):
        fetch_routing_crds(script=Path("/repo/fetch.sh"))


def test_a_failed_fetch_carries_the_scripts_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = subprocess.CompletedProcess(["fetch.sh"], 1, stdout="", stderr="go: proxy.golang.org: 503\n")
    monkeypatch.setattr("subprocess.run", _Runs(cached=None, fetched=failed))
    monkeypatch.setattr("shutil.which", lambda _: "/usr/bin/go")
    with pytest.raises(RoutingCrdsUnavailableError, match=r"could not fetch the routing CRDs: go: proxy.golang.org"):
        fetch_routing_crds(script=Path("/repo/fetch.sh"))


def test_a_fresh_fetch_gives_the_last_line(monkeypatch: pytest.MonkeyPatch) -> None:
    done = subprocess.CompletedProcess(["fetch.sh"], 0, stdout="/cache/crds-new\n", stderr="[crds] ...\n")
    monkeypatch.setattr("subprocess.run", _Runs(cached=None, fetched=done))
    monkeypatch.setattr("shutil.which", lambda _: "/usr/bin/go")
    assert fetch_routing_crds(script=Path("/repo/fetch.sh")) == Path("/cache/crds-new")

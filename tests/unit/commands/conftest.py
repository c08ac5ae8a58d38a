"""The commands' fixtures: the plugin run in-process against an in-memory API (``tests.support.fake_kube``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fake_kube import FakeKube, Plugin
from workflows.runtime.kube import Kube


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    """The API every ``kubectl_main`` call of the test talks to (its kubeconfig's namespace is ``shop``)."""
    fake = FakeKube(namespace="shop")

    def from_kubeconfig(kubeconfig: str | None = None, context: str | None = None, **_: Any) -> FakeKube:
        fake.connections.append((kubeconfig, context))
        return fake

    monkeypatch.setattr(Kube, "from_kubeconfig", from_kubeconfig)
    monkeypatch.delenv("ROLLOUTS_API_GROUP", raising=False)
    return fake


@pytest.fixture
def plugin(api: FakeKube, capsys: pytest.CaptureFixture[str]) -> Plugin:
    """``plugin("get", "rollout", "web")`` -> (exit code, stdout, stderr)."""
    from rollouts.cli import kubectl_main

    def run(*argv: str) -> tuple[int, str, str]:
        code = kubectl_main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run

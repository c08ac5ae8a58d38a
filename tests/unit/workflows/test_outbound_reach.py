"""Where outbound requests of http steps and web metrics may go: http(s) only, and the operator's host allow-list
(``--web-metric-allowed-hosts``). Refusals happen before any connection, so no server is needed here; redirects are
checked against a real server in tests/integration/workflows/test_outbound_reach.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.providers.base import ProviderError
from analysis.providers.web import WebProvider
from rollouts.cli import main
from rollouts.controller import ControllerConfig
from workflows.errors import HostNotAllowedError, RequestError
from workflows.model.phases import NodePhase
from workflows.runtime.http import HttpRunner
from workflows.runtime.httpio import ALLOWED_HOSTS_FLAG, HostAllowList, check_url, fetch
from workflows.runtime.runners import NodeContext

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("patterns", "host", "allowed"),
    [
        ((), "anything.example.com", True),  # no list: every host, as Argo
        (("metrics.example.com",), "metrics.example.com", True),
        (("metrics.example.com",), "METRICS.example.com.", True),  # case and a trailing dot do not matter
        (("metrics.example.com",), "evil.example.com", False),
        (("*.monitoring.svc.cluster.local",), "prometheus.monitoring.svc.cluster.local", True),
        (("*.monitoring.svc.cluster.local",), "monitoring.svc.cluster.local", False),
        (("*.example.com",), "a.b.example.com", True),  # '*' spans dots
        (("10.0.0.*",), "10.0.0.7", True),
        (("10.0.0.*",), "169.254.169.254", False),
        (("a.example.com", "b.example.com"), "b.example.com", True),
    ],
)
def test_allow_list_matches_host_names_by_glob(patterns: tuple[str, ...], host: str, allowed: bool) -> None:
    assert HostAllowList(patterns).allows(host) is allowed


def test_allow_list_parses_commas_and_repeats_and_ignores_blanks() -> None:
    parsed = HostAllowList.parse(["a.example.com, *.svc ", "", "B.example.com,"])
    assert parsed.patterns == ("a.example.com", "*.svc", "b.example.com")


def test_a_refusal_names_the_host_and_the_flag() -> None:
    with pytest.raises(HostNotAllowedError) as refused:
        HostAllowList(("*.svc",)).check("169.254.169.254")
    assert "'169.254.169.254'" in refused.value.reason
    assert ALLOWED_HOSTS_FLAG in refused.value.reason


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "provider.web.url must be an http:// or https:// URL (scheme 'file')"),
        ("gopher://host/", "provider.web.url must be an http:// or https:// URL (scheme 'gopher')"),
        ("ftp://host/x", "provider.web.url must be an http:// or https:// URL (scheme 'ftp')"),
        ("//host/x", "provider.web.url must be an http:// or https:// URL (no scheme)"),
        ("http:///x", "provider.web.url must name a host"),
    ],
)
def test_only_http_and_https_urls_are_accepted(url: str, message: str) -> None:
    with pytest.raises(RequestError) as refused:
        check_url(url, field="provider.web.url")
    assert refused.value.reason == message


def test_check_url_accepts_http_and_https() -> None:
    assert check_url("HTTPS://metrics.example.com:8443/x", field="f") == "HTTPS://metrics.example.com:8443/x"


async def test_fetch_refuses_a_host_outside_the_list_before_connecting() -> None:
    # .invalid never resolves: reaching DNS would be an UnreachableError, not this refusal
    with pytest.raises(HostNotAllowedError):
        await fetch("GET", "http://blocked.invalid/", timeout=1, allowed_hosts=HostAllowList(("*.svc",)))


async def test_fetch_refuses_other_schemes() -> None:
    with pytest.raises(RequestError, match="scheme 'file'"):
        await fetch("GET", "file:///etc/passwd", timeout=1)


async def test_web_metric_refusals_name_the_field_or_the_host_and_flag() -> None:
    provider = WebProvider(allowed_hosts=HostAllowList(("*.svc",)))
    with pytest.raises(ProviderError, match=r"^provider\.web\.url must be an http:// or https:// URL"):
        await provider.observe({"url": "file:///etc/passwd"})
    with pytest.raises(ProviderError) as refused:
        await provider.observe({"url": "http://169.254.169.254/latest/meta-data"})
    assert str(refused.value).startswith("request refused: host '169.254.169.254' is not allowed by")
    assert ALLOWED_HOSTS_FLAG in str(refused.value)


def http_node(payload: dict[str, Any]) -> NodeContext:
    return NodeContext(
        run_id="uid",
        workflow_name="wf",
        namespace="ns",
        node_id="wf-1",
        node_name="wf.a",
        display_name="a",
        template_name="call",
        kind="http",
        payload=payload,
        inputs={},
        attempt=1,
    )


async def test_http_step_refusals_are_errors_that_are_not_retried_as_transient() -> None:
    runner = HttpRunner(allowed_hosts=HostAllowList(("*.svc",)))
    refused = await runner.run(http_node({"url": "http://169.254.169.254/"}))
    assert refused.phase is NodePhase.ERROR
    assert not refused.transient
    assert "host '169.254.169.254' is not allowed by --web-metric-allowed-hosts (*.svc)" in refused.message
    scheme = await runner.run(http_node({"url": "ftp://files.svc/x"}))
    assert scheme.phase is NodePhase.ERROR
    assert not scheme.transient
    assert "http.url must be an http:// or https:// URL (scheme 'ftp')" in scheme.message


def test_the_controller_flag_reaches_the_operator_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ControllerConfig] = []

    def run_controller(*, config: ControllerConfig, **_: object) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr("rollouts.controller.run_controller", run_controller)
    argv = ["controller", "--no-leader-elect", "--web-metric-allowed-hosts", "*.svc,metrics.example.com"]
    assert main([*argv, "--web-metric-allowed-hosts", "10.0.0.*"]) == 0
    assert seen[0].web_metric_allowed_hosts == ("*.svc,metrics.example.com", "10.0.0.*")
    patterns = HostAllowList.parse(seen[0].web_metric_allowed_hosts).patterns
    assert patterns == ("*.svc", "metrics.example.com", "10.0.0.*")

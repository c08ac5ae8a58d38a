"""Outbound requests against real loopback servers: the host allow-list holds across redirects, and response bodies
past their documented caps (web metrics and http steps 8 MiB, Prometheus 16 MiB) are refused while read, with the
limit in the message (docs/security.md). No cluster needed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from analysis.providers.base import ProviderError
from analysis.providers.prometheus import MAX_BODY_BYTES as PROMETHEUS_MAX
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.web import MAX_BODY_BYTES as WEB_MAX
from analysis.providers.web import WebProvider
from tests.support.http import JsonServer, json_server
from workflows.model.phases import NodePhase
from workflows.runtime.http import MAX_BODY_BYTES as STEP_MAX
from workflows.runtime.http import HttpRunner
from workflows.runtime.httpio import HostAllowList
from workflows.runtime.runners import NodeContext


@pytest.fixture
def web() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server


@contextmanager
def redirecting_to(target: str) -> Iterator[str]:
    """A loopback server answering every GET with a 302 to ``target``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def http_node(payload: dict[str, object]) -> NodeContext:
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


async def test_an_allowed_host_is_reached_and_a_redirect_to_another_host_is_refused(web: JsonServer) -> None:
    only_loopback_ip = HostAllowList(("127.0.0.1",))
    url = web.route("/ok", {"ok": True})
    assert (await WebProvider(allowed_hosts=only_loopback_ip).observe({"url": url})).value == {"ok": True}
    # the same server by another name: a redirect there is refused before any request reaches it
    elsewhere = url.replace("127.0.0.1", "localhost")
    before = len(web.seen)
    with redirecting_to(elsewhere) as bouncer:
        with pytest.raises(ProviderError) as refused:
            await WebProvider(allowed_hosts=only_loopback_ip).observe({"url": bouncer})
        assert "host 'localhost' is not allowed by --web-metric-allowed-hosts (127.0.0.1)" in str(refused.value)
        step = await HttpRunner(allowed_hosts=only_loopback_ip).run(http_node({"url": bouncer}))
    assert step.phase is NodePhase.ERROR
    assert "host 'localhost' is not allowed" in step.message
    assert len(web.seen) == before
    # without a list the same redirect is followed (Argo's behaviour)
    with redirecting_to(elsewhere) as bouncer:
        assert (await WebProvider().observe({"url": bouncer})).value == {"ok": True}


async def test_a_web_metric_body_past_8_mib_is_refused(web: JsonServer) -> None:
    assert WEB_MAX == 8 * 1024 * 1024
    url = web.route("/huge", raw=b"[" + b"1," * (WEB_MAX // 2) + b"1]")
    with pytest.raises(ProviderError, match=r"response body is larger than 8 MiB"):
        await WebProvider().observe({"url": url})
    # just under the cap is read and parsed
    fits = web.route("/fits", raw=b'"' + b"a" * (WEB_MAX - 2) + b'"')
    assert len(str((await WebProvider().observe({"url": fits})).value)) == WEB_MAX - 2


async def test_an_http_step_body_past_8_mib_is_refused(web: JsonServer) -> None:
    assert STEP_MAX == 8 * 1024 * 1024
    url = web.route("/huge", raw=b"a" * (STEP_MAX + 1))
    result = await HttpRunner().run(http_node({"url": url}))
    assert result.phase is NodePhase.ERROR
    assert "response body is larger than 8 MiB" in result.message


async def test_a_prometheus_answer_past_16_mib_is_refused(web: JsonServer) -> None:
    assert PROMETHEUS_MAX == 16 * 1024 * 1024
    web.route(
        "/api/v1/query",
        raw=b'{"status":"success","data":{"resultType":"vector","result":[' + b" " * PROMETHEUS_MAX + b"]}}",
    )
    with pytest.raises(ProviderError, match=r"response body is larger than 16 MiB"):
        await PrometheusProvider().observe({"query": "up", "address": web.url})

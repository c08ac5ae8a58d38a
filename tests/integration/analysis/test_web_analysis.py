"""Web metrics against real loopback HTTP servers: JSONPath values, methods and bodies, error statuses, secrets,
and concurrency (20 metrics whose endpoints take 1 s each finish in about 1 s, not 20)."""

from __future__ import annotations

import json
import time

from analysis.assess import AnalysisPhase, MetricResult
from tests.support.analysis_manifests import web_metric
from tests.support.http import JsonServer
from tests.support.metric_runner import run_for_real


async def test_json_path_values_are_judged(web: JsonServer) -> None:
    url = web.route("/health", {"data": {"ok": True, "rate": 0.97, "version": "v2"}})
    outcome = await run_for_real(
        {
            "metrics": [
                web_metric("ok", url, web={"jsonPath": "{$.data.ok}"}, successCondition="result == true"),
                web_metric("rate", url, web={"jsonPath": "{$.data.rate}"}, successCondition="result >= 0.95"),
                web_metric("version", url, web={"jsonPath": "{.data.version}"}, successCondition="result == 'v2'"),
                web_metric("whole", url, successCondition="result.data.ok"),
            ]
        }
    )
    assert outcome.phase is AnalysisPhase.SUCCESSFUL, outcome.message
    values = {name: result.measurements[0].value for name, result in outcome.results.items()}
    assert values["rate"] == "0.97"
    assert values["version"] == '"v2"'
    assert json.loads(values["whole"] or "") == {"data": {"ok": True, "rate": 0.97, "version": "v2"}}


async def test_post_with_json_body_and_headers_reaches_the_server(web: JsonServer) -> None:
    url = web.route("/score", {"score": 3})
    outcome = await run_for_real(
        {
            "metrics": [
                web_metric(
                    "score",
                    url,
                    web={
                        "method": "POST",
                        "jsonBody": {"service": "checkout", "window": "5m"},
                        "headers": [{"key": "X-Team", "value": "payments"}],
                        "jsonPath": "{$.score}",
                    },
                    failureCondition="result > 5",
                )
            ]
        }
    )
    assert outcome.phase is AnalysisPhase.SUCCESSFUL, outcome.message
    seen = web.seen[-1]
    assert seen.method == "POST"
    assert json.loads(seen.body) == {"service": "checkout", "window": "5m"}
    assert seen.headers["X-Team"] == "payments"
    assert seen.headers["Content-Type"] == "application/json"


async def test_non_2xx_and_non_json_answers_are_errors(web: JsonServer) -> None:
    down = web.route("/down", {"error": "overloaded"}, status=503)
    html = web.route("/html", raw=b"<html>proxy login</html>")
    down_outcome = await run_for_real({"metrics": [web_metric("down", down, consecutiveErrorLimit=0)]})
    html_outcome = await run_for_real({"metrics": [web_metric("html", html, consecutiveErrorLimit=0)]})
    assert down_outcome.phase is AnalysisPhase.ERROR
    assert html_outcome.phase is AnalysisPhase.ERROR
    assert down_outcome.results["down"].measurements[0].message == "received non 2xx response code: 503"
    assert "could not parse JSON body" in html_outcome.results["html"].measurements[0].message


async def test_secret_headers_are_sent_but_an_echoed_secret_is_redacted(web: JsonServer) -> None:
    secret = "sk-live-3b1f0e"
    url = web.route("/echo", {"authorization": f"Bearer {secret}", "ok": 1})
    updates: list[tuple[str, MetricResult]] = []
    outcome = await run_for_real(
        {
            "args": [{"name": "key", "valueFrom": {"secretKeyRef": {"name": "api", "key": "key"}}}],
            "metrics": [
                web_metric(
                    "echo",
                    url + "?key={{args.key}}",
                    web={"headers": [{"key": "Authorization", "value": "Bearer {{args.key}}"}]},
                    successCondition="result.ok == 1",
                )
            ],
        },
        secrets={("api", "key"): secret},
        updates=updates,
    )
    assert outcome.phase is AnalysisPhase.SUCCESSFUL, outcome.message
    assert web.seen[-1].headers["Authorization"] == f"Bearer {secret}"
    assert "*****" in (outcome.results["echo"].measurements[0].value or "")
    assert secret not in repr(outcome)
    assert secret not in repr(updates)


async def test_twenty_one_second_metrics_finish_in_about_one_second(web: JsonServer) -> None:
    url = web.route("/slow", {"ok": True}, delay=1.0)
    started = time.monotonic()
    outcome = await run_for_real(
        {"metrics": [web_metric(f"m{i}", url, successCondition="result.ok") for i in range(20)]}, max_threads=32
    )
    elapsed = time.monotonic() - started
    assert outcome.phase is AnalysisPhase.SUCCESSFUL, outcome.message
    assert len(web.seen) == 20
    assert 1.0 <= elapsed < 3.0, f"20 concurrent 1 s metrics took {elapsed:.2f}s"

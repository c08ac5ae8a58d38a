"""A secret used by an analysis never shows anywhere a user or an operator can read: after a run whose measurements
succeed, fail, error and echo the secret back, the whole AnalysisRun object, every Event in the namespace (both
Event APIs) and the controller's debug log are searched for the value (docs/security.md, secrets handling)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from kubernetes import client

from tests.support.analysis_manifests import analysis_run, web_metric
from tests.support.cluster import ControllerProcess, Kube, wait_for
from tests.support.cluster_analysis_runs import concluded, create, read
from tests.support.http import JsonServer

TOKEN = "s3cr3t-Tok3n-4a7c1e"


def test_a_secret_never_shows_in_status_events_or_debug_logs_whatever_the_measurements_do(
    kube: Kube, namespace: str, crds_installed: list[str], web: JsonServer, tmp_path: Path
) -> None:
    controller = ControllerProcess(kube=kube, namespace=namespace, log=tmp_path / "controller.log", args=("--verbose",))
    controller.start()
    try:
        client.CoreV1Api(kube.api_client).create_namespaced_secret(
            namespace,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name="creds"),
                data={"token": base64.b64encode(TOKEN.encode()).decode()},
            ),
        )
        web.route("/ok", {"ok": True})
        web.route("/echo", {"echo": TOKEN})  # the server echoes the secret in its answer
        web.route("/down", {"error": TOKEN}, status=500)  # and in an error page
        token_arg = "{{args.token}}"
        create(
            kube,
            namespace,
            analysis_run(
                "leaky",
                [
                    web_metric(
                        "header",
                        f"{web.url}/ok",
                        web={"headers": [{"key": "Authorization", "value": f"Bearer {token_arg}"}]},
                        successCondition="result.ok",
                    ),
                    # the secret in the URL of a request that succeeds, one that fails and one that cannot connect:
                    # the URL is quoted by the measurement's message
                    web_metric("echo", f"{web.url}/echo?t={token_arg}", successCondition="result.echo == ''"),
                    web_metric("error", f"{web.url}/down?t={token_arg}", consecutiveErrorLimit=0),
                    web_metric("refused", f"http://127.0.0.1:9/?t={token_arg}", consecutiveErrorLimit=0),
                ],
                # dry-run: each one measures and is reported, none ends the run before the others have measured
                dryRun=[{"metricName": name} for name in ("echo", "error", "refused")],
                args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
            ),
        )
        final = concluded(kube, namespace, "leaky")
        assert final["phase"] == "Successful", final
        assert {result["name"] for result in final["metricResults"]} == {"header", "echo", "error", "refused"}
        assert any(TOKEN in seen.path for seen in web.seen)  # the secret did reach the server
        stored = json.dumps(read(kube, namespace, "leaky"))  # status, metadata, annotations: the whole object
        assert TOKEN not in stored
        assert "*****" in stored

        def events_text() -> str:
            core = client.CoreV1Api(kube.api_client).list_namespaced_event(namespace)
            new = client.EventsV1Api(kube.api_client).list_namespaced_event(namespace)
            return json.dumps([kube.api_client.sanitize_for_serialization(item) for item in [*core.items, *new.items]])

        wait_for(lambda: "leaky" in events_text(), timeout=15, what="the run's Events")
        assert TOKEN not in events_text()
        log = controller.output()
        assert "DEBUG" in log or "debug" in log.lower()  # the log searched is the verbose one
        assert TOKEN not in log
    finally:
        controller.stop()

"""Taking over from Argo Rollouts' own controller in the middle of updates (drop-in mode).

Argo's real ``rollouts-controller`` (v1.10.1, built from its Go module by ``tools/conformance/build.sh``; cached, so
a no-op after the first build) brings three Rollouts into the middle of an update: a canary with nginx routing paused
at a step, a canary paused while its background analysis runs, and a blue-green update waiting for promotion. Argo's
controller is then stopped and ours (``--api-group argoproj.io``) started. What must hold, as a migrating team would
check it:

- nothing moves at the hand-over: the same pods (by uid; none restarted), the same ReplicaSets (none new for the
  unchanged template, found although Argo named them with its own hash), the same AnalysisRun (adopted, measuring
  on), the same Service selectors and canary Ingress weight, the same step;
- each update then continues from its step under our controller and our kubectl plugin, to Healthy on the new
  version, still without a new ReplicaSet; the adopted background analysis ends when the update does;
- the hashes Argo's controller gave the updates' ReplicaSets are what ``argo_pod_template_hash`` computes for the
  same stored templates, and a further update made under our controller gets a ReplicaSet with the name and
  ``rollouts-pod-template-hash`` Argo's controller would have given it;
- and back: with those updates paused by ours, our controller stopped and Argo's started again, nothing moves (same
  pods, ReplicaSets, AnalysisRuns, selectors, weights, steps), Argo measures on the AnalysisRun ours created, and
  Argo's own kubectl plugin promotes the updates to Healthy without a new ReplicaSet.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rollouts.core.hashing import argo_pod_template_hash
from tests.support.cluster import ControllerProcess, Kube, apply, get_custom, list_custom, patch_custom, wait_for
from tests.support.cluster_rollouts import kubectl_rollouts
from tools.conformance.controllers import free_port
from tools.conformance.peer import ensure_peer
from workflows.api import ARGO

ARGO_API = (ARGO.group, ARGO.version)
HASH = "rollouts-pod-template-hash"


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def metric_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class ArgoController:
    """Argo Rollouts' controller binary, namespaced to the test's namespace, without leader election."""

    def __init__(self, kube: Kube, namespace: str, log: Path) -> None:
        self.peer = ensure_peer(build=True)
        self.kube, self.namespace, self.log = kube, namespace, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        healthz = free_port()
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    str(self.peer.controller_binary),
                    f"--kubeconfig={self.kube.kubeconfig}",
                    "--namespaced",
                    f"--namespace={self.namespace}",
                    "--leader-elect=false",
                    f"--healthzPort={healthz}",
                    f"--metricsPort={free_port()}",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=os.environ | {"POD_NAMESPACE": self.namespace},
            )
        try:
            wait_for(lambda: b"Started rollout workers" in self.log.read_bytes(), timeout=60, what="Argo's workers")
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _objects(metric_url: str) -> list[dict[str, Any]]:
    def svc(name: str, app: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]},
        }

    def ro(name: str, replicas: int, strategy: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": ARGO.api_version,
            "kind": "Rollout",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [{"name": "app", "image": "example/app:1", "ports": [{"containerPort": 8080}]}]
                    },
                },
                "strategy": strategy,
            },
        }

    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "routed", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {
            "rules": [
                {
                    "host": "routed.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "routed-stable", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    template = {
        "apiVersion": ARGO.api_version,
        "kind": "AnalysisTemplate",
        "metadata": {"name": "always-ok"},
        "spec": {
            "metrics": [
                {
                    "name": "ok",
                    "interval": "3s",
                    "successCondition": "result == true",
                    "provider": {"web": {"url": metric_url, "jsonPath": "{$.ok}"}},
                }
            ]
        },
    }
    return [
        svc("routed-stable", "routed"),
        svc("routed-canary", "routed"),
        ingress,
        ro(
            "routed",
            5,
            {
                "canary": {
                    "canaryService": "routed-canary",
                    "stableService": "routed-stable",
                    "trafficRouting": {"nginx": {"stableIngress": "routed"}},
                    "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "2s"}}],
                }
            },
        ),
        template,
        ro(
            "analysed",
            4,
            {
                "canary": {
                    "analysis": {"templates": [{"templateName": "always-ok"}], "startingStep": 1},
                    "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}],
                }
            },
        ),
        svc("bg-active", "bg"),
        svc("bg-preview", "bg"),
        ro(
            "bg",
            3,
            {
                "blueGreen": {
                    "activeService": "bg-active",
                    "previewService": "bg-preview",
                    "autoPromotionEnabled": False,
                }
            },
        ),
    ]


def _rollout(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return get_custom(kube, namespace, "rollouts", name, api=ARGO_API)


def _status(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict(_rollout(kube, namespace, name).get("status") or {})


def _world(kube: Kube, namespace: str) -> dict[str, Any]:
    """What must not move at the hand-over, by identity."""

    def items(kind: str) -> list[dict[str, Any]]:
        listed = json.loads(kube.kubectl("get", kind, f"--namespace={namespace}", "--output=json").stdout)
        return list(listed["items"])

    routed_canary = next((i for i in items("ingress") if i["metadata"]["name"] != "routed"), None)
    return {
        "pods": sorted((p["metadata"]["name"], p["metadata"]["uid"]) for p in items("pods")),
        "replicasets": sorted((r["metadata"]["name"], r["metadata"]["uid"]) for r in items("replicasets")),
        "analysisruns": sorted(
            (r["metadata"]["name"], r["metadata"]["uid"])
            for r in list_custom(kube, namespace, "analysisruns", api=ARGO_API)
        ),
        "selectors": {s["metadata"]["name"]: s["spec"].get("selector") for s in items("services")},
        "canary ingress": (
            routed_canary["metadata"]["name"],
            routed_canary["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/canary-weight"),
        )
        if routed_canary is not None
        else None,
        "steps": {
            name: _status(kube, namespace, name).get("currentStepIndex") for name in ("routed", "analysed", "bg")
        },
        "stable": {name: _status(kube, namespace, name).get("stableRS") for name in ("routed", "analysed", "bg")},
        "current": {
            name: _status(kube, namespace, name).get("currentPodHash") for name in ("routed", "analysed", "bg")
        },
    }


def _measurements(kube: Kube, namespace: str, run: str) -> int:
    body = get_custom(kube, namespace, "analysisruns", run, api=ARGO_API)
    return sum(
        len(result.get("measurements") or ()) for result in (body.get("status") or {}).get("metricResults") or ()
    )


def _wait_phase(kube: Kube, namespace: str, name: str, phase: str, *, timeout: float, what: str) -> None:
    def probe() -> bool:
        return _status(kube, namespace, name).get("phase") == phase

    wait_for(probe, timeout=timeout, what=f"{name} {what}", now=lambda: f"status now: {_status(kube, namespace, name)}")


def test_updates_started_by_argo_continue_under_ours_without_restarting_anything(
    kube: Kube, namespace: str, argo_crds: None, metric_url: str, tmp_path: Path
) -> None:
    argo = ArgoController(kube, namespace, tmp_path / "argo-controller.log")
    argo.start()
    try:
        apply(kube, namespace, *_objects(metric_url))
        for name in ("routed", "analysed", "bg"):
            _wait_phase(kube, namespace, name, "Healthy", timeout=90, what="Healthy under Argo")
        for name in ("routed", "analysed", "bg"):
            patch_custom(
                kube,
                namespace,
                "rollouts",
                name,
                {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example/app:2"}]}}}},
                api=ARGO_API,
            )
        for name in ("routed", "analysed", "bg"):
            _wait_phase(kube, namespace, name, "Paused", timeout=90, what="paused by Argo")
        background = str(_status(kube, namespace, "analysed")["canary"]["currentBackgroundAnalysisRunStatus"]["name"])
        wait_for(lambda: _measurements(kube, namespace, background) >= 1, timeout=60, what="Argo's first measurement")
        wait_for(
            lambda: (
                _status(kube, namespace, "bg").get("blueGreen", {}).get("previewSelector")
                == _status(kube, namespace, "bg").get("currentPodHash")
            ),
            timeout=60,
            what="bg's preview Service on the new version",
        )
    finally:
        argo.stop()

    before = _world(kube, namespace)
    assert before["steps"] == {"routed": 1, "analysed": 1, "bg": None}
    assert before["canary ingress"][1] == "20"
    measured_by_argo = _measurements(kube, namespace, background)

    ours = ControllerProcess(
        kube=kube, namespace=namespace, log=tmp_path / "controller.log", args=("--api-group=argoproj.io",)
    )
    ours.start()
    try:
        # The adopted background run goes on measuring under our controller (every 3 s).
        wait_for(
            lambda: _measurements(kube, namespace, background) >= measured_by_argo + 2,
            timeout=60,
            what="our measurements on Argo's AnalysisRun",
        )
        for name in ("routed", "analysed", "bg"):
            assert _status(kube, namespace, name).get("phase") == "Paused", _status(kube, namespace, name)
        after = _world(kube, namespace)
        assert after == before

        # Each update continues from its step.
        for name in ("routed", "analysed", "bg"):
            kubectl_rollouts(kube, namespace, "--api-group=argoproj.io", "promote", name)
        _wait_phase(kube, namespace, "bg", "Healthy", timeout=60, what="promoted and Healthy")
        wait_for(
            lambda: (
                _status(kube, namespace, "analysed").get("currentStepIndex") == 3
                and _status(kube, namespace, "analysed").get("phase") == "Paused"
            ),
            timeout=60,
            what="analysed at its second pause",
        )
        kubectl_rollouts(kube, namespace, "--api-group=argoproj.io", "promote", "analysed")
        for name in ("routed", "analysed"):
            _wait_phase(kube, namespace, name, "Healthy", timeout=90, what="Healthy")
        for name in ("routed", "analysed", "bg"):
            done = _status(kube, namespace, name)
            assert done["stableRS"] == before["current"][name], (name, done)
        assert sorted(n for n, _ in _world(kube, namespace)["replicasets"]) == sorted(
            n for n, _ in before["replicasets"]
        )
        wait_for(
            lambda: (
                (get_custom(kube, namespace, "analysisruns", background, api=ARGO_API).get("status") or {}).get("phase")
                == "Successful"
            ),
            timeout=60,
            what="the adopted background analysis ended with the update",
        )

        # Argo's controller named each update's ReplicaSet with its hash, which is ours for the same stored template...
        for name in ("routed", "analysed", "bg"):
            body = _rollout(kube, namespace, name)
            collisions = (body.get("status") or {}).get("collisionCount")
            assert argo_pod_template_hash(body["spec"]["template"], collisions) == before["current"][name], name
        # ...and a further update under our controller gets the ReplicaSet Argo's controller would have created.
        for name in ("routed", "analysed", "bg"):
            patch_custom(
                kube,
                namespace,
                "rollouts",
                name,
                {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example/app:3"}]}}}},
                api=ARGO_API,
            )
        for name in ("routed", "analysed", "bg"):
            body = _rollout(kube, namespace, name)
            expected = argo_pod_template_hash(
                body["spec"]["template"], (body.get("status") or {}).get("collisionCount")
            )
            assert expected not in before["current"].values()

            def created(name: str = name, expected: str = expected) -> bool:
                listed = json.loads(
                    kube.kubectl("get", "replicasets", f"--namespace={namespace}", "--output=json").stdout
                )
                return (
                    any(
                        rs["metadata"]["name"] == f"{name}-{expected}"
                        and rs["metadata"]["labels"].get(HASH) == expected
                        for rs in listed["items"]
                    )
                    and _status(kube, namespace, name).get("currentPodHash") == expected
                )

            wait_for(created, timeout=60, what=f"{name}'s ReplicaSet for the next update, named with Argo's hash")
        for name in ("routed", "analysed", "bg"):
            _wait_phase(kube, namespace, name, "Paused", timeout=90, what="paused by ours")
        background = str(_status(kube, namespace, "analysed")["canary"]["currentBackgroundAnalysisRunStatus"]["name"])
        wait_for(lambda: _measurements(kube, namespace, background) >= 1, timeout=60, what="our first measurement")
    except BaseException:
        print("--- controller log ---\n" + ours.output()[-6000:])
        raise
    finally:
        ours.stop()

    # Going back (docs/migration.md): the updates ours paused continue under Argo's controller, nothing restarted.
    before = _world(kube, namespace)
    argo.start()
    try:
        plugin = str(argo.peer.root / "bin" / "kubectl-argo-rollouts")
        wait_for(
            lambda: _measurements(kube, namespace, background) >= 2,
            timeout=60,
            what="Argo measuring on the AnalysisRun ours created",
        )
        for name in ("routed", "analysed", "bg"):
            assert _status(kube, namespace, name).get("phase") == "Paused", _status(kube, namespace, name)
        assert _world(kube, namespace) == before
        for name in ("routed", "analysed", "bg"):
            subprocess.run(
                [plugin, "promote", name, f"--namespace={namespace}", f"--kubeconfig={kube.kubeconfig}"],
                check=True,
                capture_output=True,
                timeout=60,
            )
        _wait_phase(kube, namespace, "bg", "Healthy", timeout=60, what="promoted by Argo and Healthy")
        _wait_phase(kube, namespace, "routed", "Healthy", timeout=90, what="promoted by Argo and Healthy")
        for name in ("routed", "bg"):
            assert _status(kube, namespace, name)["stableRS"] == before["current"][name]
        assert sorted(n for n, _ in _world(kube, namespace)["replicasets"]) == sorted(
            n for n, _ in before["replicasets"]
        )
    except BaseException:
        print("--- Argo's controller log ---\n" + argo.log.read_text(errors="replace")[-6000:])
        raise
    finally:
        argo.stop()

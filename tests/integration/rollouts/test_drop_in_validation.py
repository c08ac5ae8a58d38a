"""Drop-in mode on a real cluster: with Argo's own CRDs installed (``rollouts install --api-group argoproj.io``) the
API server stores a Rollout with a field Argo declares and we do not implement; our controller, validating against
our own CRD schema, refuses it with an ``InvalidSpec`` condition and a Warning Event naming the field's path, and
serves a valid Rollout next to it.

A field neither Argo nor we declare (``spec.strategy.canary.bogus``) never reaches a controller: Argo's Rollout
CRD is structural at that level, so the API server refuses it with a strict client (``kubectl apply`` and
server-side apply) and prunes it with a lax one. Only inside what Argo's CRDs leave open
(``x-kubernetes-preserve-unknown-fields``: plugin configs, volumes, resources) or among the fields Argo declares
does our own schema have something to say; the unit tests cover arbitrary paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.support.cluster import ControllerProcess, Kube, apply, event_reasons, get_custom, run_cli, wait_for
from tests.support.cluster_rollouts import HASH_LABEL, condition, rollout

ARGO_API = ("argoproj.io", "v1alpha1")
UNIMPLEMENTED = "spec.strategy.canary.replicaProgressThreshold"  # in Argo's CRD; ours refuses it by name
THRESHOLD = {"type": "Percent", "value": 50}


@pytest.fixture
def argo_controller(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[ControllerProcess]:
    installed = run_cli("install", "--api-group", "argoproj.io", "--crds-only", f"--kubeconfig={kube.kubeconfig}")
    assert installed.returncode == 0, installed.stderr + installed.stdout
    assert "applied CustomResourceDefinition rollouts.argoproj.io" in installed.stdout, installed.stdout
    handle = ControllerProcess(
        kube=kube, namespace=namespace, log=tmp_path / "controller.log", args=("--api-group=argoproj.io",)
    )
    handle.start()
    yield handle
    handle.stop()


def _argo(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "apiVersion": "argoproj.io/v1alpha1"}


def _status(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict(get_custom(kube, namespace, "rollouts", name, api=ARGO_API).get("status") or {})


def test_a_field_argo_stores_and_we_do_not_implement_is_an_invalid_spec_naming_its_path_and_a_valid_rollout_proceeds(
    kube: Kube, namespace: str, argo_controller: ControllerProcess
) -> None:
    steps = [{"setWeight": 50}, {"pause": {}}]
    bogus = _argo(rollout("bogus", replicas=1, strategy={"canary": {"steps": steps, "bogus": 1}}))
    refused = kube.kubectl(
        "apply", "--server-side", f"--namespace={namespace}", "-f", "-", input=yaml.safe_dump(bogus), check=False
    )
    assert refused.returncode != 0
    assert ".spec.strategy.canary.bogus: field not declared in schema" in refused.stderr, refused.stderr

    unimplemented = _argo(
        rollout(
            "unimplemented", replicas=1, strategy={"canary": {"steps": steps, "replicaProgressThreshold": THRESHOLD}}
        )
    )
    valid = _argo(rollout("valid", replicas=2, strategy={"canary": {"steps": steps}}))
    stored = apply(kube, namespace, unimplemented, valid)
    assert stored[0]["spec"]["strategy"]["canary"]["replicaProgressThreshold"] == THRESHOLD  # only we can refuse it

    def invalid() -> dict[str, Any] | None:
        found = condition(_status(kube, namespace, "unimplemented"), "InvalidSpec")
        return found if found is not None and found.get("status") == "True" else None

    try:
        cond = wait_for(invalid, timeout=40, what="InvalidSpec on the Rollout with an unimplemented field")
        # our schema's words, once: the parser refuses the same path (rollouts.core.refused), a consequence left out
        assert f"{UNIMPLEMENTED}: Forbidden: rollouts.dev does not support replicaProgressThreshold" in cond["message"]
        assert cond["message"].count(UNIMPLEMENTED) == 1, cond
        assert _status(kube, namespace, "unimplemented")["phase"] == "Degraded"
        wait_for(
            lambda: "InvalidSpec" in event_reasons(kube, namespace, "unimplemented"), timeout=10, what="Warning Event"
        )

        def healthy() -> dict[str, Any] | None:
            current = _status(kube, namespace, "valid")
            ok = current.get("phase") == "Healthy" and current.get("stableRS") == current.get("currentPodHash")
            return current if ok and current.get("stableRS") else None

        done = wait_for(healthy, timeout=60, what="the valid Rollout to be Healthy")
        assert condition(done, "InvalidSpec") is None, done
        listed: Any = client.AppsV1Api(kube.api_client).list_namespaced_replica_set(namespace, _preload_content=False)
        made = {
            rs["metadata"]["labels"].get(HASH_LABEL): rs["metadata"]["labels"].get("app")
            for rs in json.loads(listed.data)["items"]
        }
        assert made == {done["stableRS"]: "valid"}  # nothing was created for the invalid one
    except AssertionError:
        print(f"--- controller log ---\n{argo_controller.output()[-6000:]}")
        raise

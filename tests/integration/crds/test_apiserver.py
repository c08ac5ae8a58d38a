"""The CRDs against the real kube-apiserver: installed, Established, accepting Argo manifests, refusing the rest.

The tables (corpus classification, invalid manifests, defaults) are shared with the unit tier, which checks the same
expectations with a local validator; here the API server itself is the judge, including the CEL rules, their cost
estimation at CRD creation and the subresources. Dry-run requests persist nothing, so they use the ``default``
namespace; tests that store objects get a fresh namespace.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
import yaml

from tests.support.crds import (
    CORPUS_REFUSALS,
    DEFAULT_CASES,
    INVALID_CASES,
    SUPPORTED,
    UNSUPPORTED,
    VALID_MANIFESTS,
    analysis_template,
    canary_rollout,
    dig,
    edit,
    routed_canary_rollout,
    without_defaults_fields,
    workflow,
)

EXPECTED_CRDS = {
    "rollouts.rollouts.dev",
    "analysistemplates.rollouts.dev",
    "clusteranalysistemplates.rollouts.dev",
    "analysisruns.rollouts.dev",
    "workflows.rollouts.dev",
    "workflowtemplates.rollouts.dev",
}
DRY_RUN_NAMESPACE = "default"


def dry_run_create(kube: Any, manifest: dict[str, Any], *extra: str) -> Any:
    """``kubectl create --dry-run=server`` (create, not apply: corpus workflows use generateName).

    The name gets a random suffix: the cluster is shared, and an object of the same name (a cluster-scoped
    ClusterAnalysisTemplate especially) would turn an accepted manifest into an AlreadyExists refusal.
    """
    manifest = copy.deepcopy(manifest)
    metadata = manifest.setdefault("metadata", {})
    if "name" in metadata:
        metadata["name"] = f"{metadata['name'][:200]}-{uuid.uuid4().hex[:8]}"
    return kube.kubectl(
        "create",
        "--dry-run=server",
        f"--namespace={DRY_RUN_NAMESPACE}",
        "--output=json",
        *extra,
        "--filename=-",
        input=yaml.safe_dump(manifest),
        check=False,
    )


def test_all_crds_are_established(kube: Any, crds_installed: list[str]) -> None:
    assert set(crds_installed) == EXPECTED_CRDS
    listing = json.loads(kube.kubectl("get", "crd", "--output=json").stdout)
    for item in listing["items"]:
        if item["metadata"]["name"] not in EXPECTED_CRDS:
            continue
        status = {c["type"]: c["status"] for c in item["status"]["conditions"]}
        assert status.get("Established") == "True", item["metadata"]["name"]
        assert status.get("NamesAccepted") == "True", item["metadata"]["name"]
        assert status.get("NonStructuralSchema") is None, item["metadata"]["name"]


def test_short_names_and_category_resolve(kube: Any, crds_installed: list[str]) -> None:
    kube.kubectl("get", "ro,at,ar,wf,wftmpl", f"--namespace={DRY_RUN_NAMESPACE}")
    kube.kubectl("get", "cat")
    names = kube.kubectl("api-resources", "--categories=rollouts", "--output=name").stdout.split()
    assert set(names) == EXPECTED_CRDS


@pytest.mark.parametrize("document", SUPPORTED, ids=lambda d: d.case_id)
def test_supported_corpus_manifest_is_accepted(kube: Any, crds_installed: list[str], document: Any) -> None:
    result = dry_run_create(kube, document.manifest)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("document", UNSUPPORTED, ids=lambda d: d.case_id)
def test_unsupported_corpus_manifest_is_refused_with_field_path(
    kube: Any, crds_installed: list[str], document: Any
) -> None:
    result = dry_run_create(kube, document.manifest)
    assert result.returncode != 0, "an unsupported manifest was accepted"
    expected = CORPUS_REFUSALS[document.case_id]
    if "strict decoding error" in result.stderr:
        # Strict decoding stops at unknown fields before schema validation, so only those are named.
        assert any(path in result.stderr for path in expected), result.stderr
    else:
        missing = [path for path in expected if path not in result.stderr]
        assert missing == [], result.stderr


@pytest.mark.parametrize("name", sorted(VALID_MANIFESTS))
def test_minimal_manifest_is_accepted(kube: Any, crds_installed: list[str], name: str) -> None:
    result = dry_run_create(kube, VALID_MANIFESTS[name]())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda c: c.case_id)
def test_invalid_manifest_is_refused_with_path_and_message(kube: Any, crds_installed: list[str], case: Any) -> None:
    result = dry_run_create(kube, case.build())
    assert result.returncode != 0, "an invalid manifest was accepted"
    assert case.path in result.stderr, result.stderr
    assert case.message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("build", "path"),
    [
        pytest.param(
            edit(workflow, lambda m: m["spec"]["templates"].append({"name": "s", "steps": [[{"name": "a"}]]})),
            "spec.templates[2].steps",
            id="steps-template",
        ),
        pytest.param(
            edit(
                routed_canary_rollout,
                lambda m: m["spec"]["strategy"]["canary"]["trafficRouting"].update(
                    traefik={"weightedTraefikServiceName": "x"}
                ),
            ),
            "spec.strategy.canary.trafficRouting.traefik",
            id="traefik-router",
        ),
        pytest.param(
            edit(
                analysis_template,
                lambda m: m["spec"]["metrics"][0].update(provider={"newRelic": {"query": "q"}}),
            ),
            "spec.metrics[0].provider.newRelic",
            id="new-relic-provider",
        ),
    ],
)
def test_unsupported_features_are_refused_even_without_strict_field_validation(
    kube: Any, crds_installed: list[str], build: Any, path: str
) -> None:
    """Clients that do not ask for strict validation get unknown fields pruned; the features we refuse are
    declared precisely so they are refused anyway instead of being silently dropped."""
    result = dry_run_create(kube, build(), "--validate=false")
    assert result.returncode != 0, "an unsupported feature was silently accepted"
    assert path in result.stderr, result.stderr
    assert "does not support" in result.stderr, result.stderr


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.case_id)
def test_schema_defaults_are_applied(kube: Any, crds_installed: list[str], case: Any) -> None:
    result = dry_run_create(kube, case.build())
    assert result.returncode == 0, result.stderr
    assert dig(json.loads(result.stdout), case.path) == case.expected


@pytest.mark.parametrize(
    ("build", "path"),
    [pytest.param(build, path, id=case_id) for case_id, build, path in without_defaults_fields()],
)
def test_engine_defaults_stay_absent(kube: Any, crds_installed: list[str], build: Any, path: Any) -> None:
    result = dry_run_create(kube, build())
    assert result.returncode == 0, result.stderr
    with pytest.raises((KeyError, IndexError)):
        dig(json.loads(result.stdout), path)


# The full resource name: Argo's CRDs, which other tests of the session install, answer to "rollout" too.
OURS = "rollouts.rollouts.dev"


def test_rollout_scale_status_and_printer_columns(kube: Any, crds_installed: list[str], namespace: str) -> None:
    kube.kubectl("create", f"--namespace={namespace}", "--filename=-", input=yaml.safe_dump(canary_rollout()))
    stored = json.loads(kube.kubectl("get", OURS, "demo", f"--namespace={namespace}", "--output=json").stdout)
    assert stored["spec"]["revisionHistoryLimit"] == 10

    # scale subresource: kubectl scale (and an HPA) write .spec.replicas through it.
    kube.kubectl("scale", f"{OURS}/demo", "--replicas=3", f"--namespace={namespace}")
    status_patch = {
        "status": {"phase": "Paused", "replicas": 3, "HPAReplicas": 2, "selector": "app=demo", "currentStepIndex": 1}
    }
    kube.kubectl(
        "patch",
        OURS,
        "demo",
        f"--namespace={namespace}",
        "--subresource=status",
        "--type=merge",
        f"--patch={json.dumps(status_patch)}",
    )
    scale = json.loads(
        kube.kubectl("get", "--raw", f"/apis/rollouts.dev/v1alpha1/namespaces/{namespace}/rollouts/demo/scale").stdout
    )
    assert scale["spec"]["replicas"] == 3
    # As in Argo, the scale subresource reports status.HPAReplicas (the pods that count for an HPA), not
    # status.replicas.
    assert scale["status"] == {"replicas": 2, "selector": "app=demo"}

    # status subresource: a spec update cannot write status.
    kube.kubectl(
        "patch",
        OURS,
        "demo",
        f"--namespace={namespace}",
        "--type=merge",
        '--patch={"status": {"phase": "Degraded"}}',
    )
    stored = json.loads(kube.kubectl("get", OURS, "demo", f"--namespace={namespace}", "--output=json").stdout)
    assert stored["status"]["phase"] == "Paused"

    table = kube.kubectl("get", "ro", "demo", f"--namespace={namespace}").stdout.splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "PHASE", "STEP", "AGE"]
    # Up-to-date and Available are unset, and kubectl prints unset cells as blanks.
    assert table[1].split()[:5] == ["demo", "3", "3", "Paused", "1"]


def test_workflow_status_keeps_engine_node_fields(kube: Any, crds_installed: list[str], namespace: str) -> None:
    kube.kubectl("create", f"--namespace={namespace}", "--filename=-", input=yaml.safe_dump(workflow()))
    node = {"id": "diamond-1", "name": "diamond.A", "phase": "Succeeded", "type": "Pod", "outputs": {"result": "4"}}
    status_patch = {
        "status": {
            "phase": "Running",
            "progress": "1/2",
            "counts": {"Succeeded": 1, "Running": 1},
            "nodes": [node],
            "compressedNodes": "",
        }
    }
    kube.kubectl(
        "patch",
        "workflow",
        "diamond",
        f"--namespace={namespace}",
        "--subresource=status",
        "--type=merge",
        f"--patch={json.dumps(status_patch)}",
    )
    stored = json.loads(kube.kubectl("get", "wf", "diamond", f"--namespace={namespace}", "--output=json").stdout)
    assert stored["status"]["nodes"] == [node]
    assert stored["status"]["counts"] == {"Succeeded": 1, "Running": 1}
    header = kube.kubectl("get", "wf", "diamond", f"--namespace={namespace}").stdout.splitlines()[0].split()
    assert header == ["NAME", "PHASE", "PROGRESS", "AGE"]

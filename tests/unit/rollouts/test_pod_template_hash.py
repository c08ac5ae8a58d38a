"""Drop-in mode names ReplicaSets exactly as Argo Rollouts' controller does: its pod-template hash, byte for byte.

Every expected value below was computed by Argo Rollouts v1.10.1's own ``hash.ComputePodTemplateHash``
(``tools/argo/podhash.go``, run inside Argo's module by ``tools/argo/run.sh podhash``): the template of every Rollout
in the shared corpus, and templates exercising what Go's encoding/json and the Kubernetes types do to a template
(quantities in every notation, IntOrString ports, probes, env ``valueFrom``, volumes, affinity, tolerations, security
contexts, init containers, unusual unicode, nulls, unknown fields, times) with collisionCount absent, 0, 1 and 7.
``python -m tools.argo.podhash_check`` compares random templates drawn from the generated shape table against the
same function (1,200 of 1,200 matched when this was written).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollouts.core import CreateReplicaSet, Observed, ReplicaSetView, plan
from rollouts.core.gojson import go_float, go_json, go_quantity, root_shape
from rollouts.core.hashing import argo_pod_template_hash, pod_template_hash, template_hash
from tests.support.corpus import CORPUS, documents
from tests.support.rollouts import T0, canary_spec
from workflows.api import ARGO, ROLLOUTS_DEV

# (file, Rollout name) -> Argo's hash of its spec.template (collisionCount absent).
CORPUS_HASHES = {
    ("getting-started-basic-rollout.yaml", "rollouts-demo"): "5cd66ff7ff",
    ("getting-started-istio-rollout.yaml", "rollouts-demo"): "67df9f55fd",
    ("getting-started-nginx-rollout.yaml", "rollouts-demo"): "5cd66ff7ff",
    ("istio-istio-mirror.yaml", "istio-host-split"): "6d5cdf5d7d",
    ("istio-istio-subset-split.yaml", "istio-subset-split"): "74cc5fff57",
    ("rollout-analysis-step.yaml", "rollout-analysis-step"): "77b9f59445",
    ("rollout-background-analysis.yaml", "rollout-background-analysis"): "cfb5cdd4c",
    ("rollout-bluegreen.yaml", "rollout-bluegreen"): "6c64d55fdf",
    ("rollout-canary.yaml", "rollout-canary"): "79f6747648",
    ("rollout-rolling-update.yaml", "rollout-rollingupdate"): "579569f9db",
    ("rollout-secret.yaml", "rollout-secret"): "596865878d",
}


def _corpus_templates() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted((CORPUS / "argo-rollouts").glob("*.yaml")):
        for doc in documents(path):
            if doc.get("kind") == "Rollout" and "template" in (doc.get("spec") or {}):
                found[(path.name, doc["metadata"]["name"])] = doc["spec"]["template"]
    return found


def test_every_corpus_rollout_template_hashes_as_argo_hashes_it() -> None:
    templates = _corpus_templates()
    assert set(templates) == set(CORPUS_HASHES)  # a new corpus Rollout needs its pinned hash
    assert {key: argo_pod_template_hash(t) for key, t in templates.items()} == CORPUS_HASHES


# (case, template, status.collisionCount, Argo's hash)
CASES: list[tuple[str, dict[str, Any], int | None, str]] = [
    (
        "minimal",
        {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "demo", "image": "nginx:1.25"}]}},
        None,
        "56459f669d",
    ),
    (
        "collision-0",
        {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "demo", "image": "nginx:1.25"}]}},
        0,
        "5c89bbfb78",
    ),
    (
        "collision-1",
        {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "demo", "image": "nginx:1.25"}]}},
        1,
        "77567764bc",
    ),
    (
        "collision-7",
        {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "demo", "image": "nginx:1.25"}]}},
        7,
        "6594bdfb7c",
    ),
    ("empty", {}, None, "658c46c486"),
    (
        "resources",
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "resources": {
                            "requests": {"cpu": "1000m", "memory": "1024Mi", "ephemeral-storage": "0.5Gi"},
                            "limits": {"cpu": 0.5, "memory": "1.5Gi", "nvidia.com/gpu": 1, "hugepages-2Mi": "100Mi"},
                        },
                    }
                ],
                "overhead": {"cpu": "250m"},
                "resources": {"limits": {"cpu": "2"}},
            }
        },
        None,
        "bbf698f9b",
    ),
    (
        "quantity-notations",
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "resources": {
                            "limits": {
                                "a": "1e3",
                                "b": "10e3",
                                "c": "+1",
                                "d": "01",
                                "e": "0.0000000001",
                                "f": "1.1Ki",
                                "g": "12345678901234567890",
                                "h": "1000E",
                                "i": "9Ei",
                                "j": "-1.5Mi",
                                "k": "1.G",
                                "l": "100000",
                            }
                        },
                    }
                ]
            }
        },
        None,
        "7b6dc98758",
    ),
    (
        "probes",
        {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx",
                        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                        "readinessProbe": {
                            "httpGet": {
                                "path": "/healthz",
                                "port": "http",
                                "httpHeaders": [{"name": "X-A", "value": "<b>"}],
                            },
                            "periodSeconds": 5,
                        },
                        "livenessProbe": {
                            "tcpSocket": {"port": 8080},
                            "initialDelaySeconds": 10,
                            "failureThreshold": 3,
                        },
                        "startupProbe": {"exec": {"command": ["sh", "-c", "test -f /ready && echo a&b"]}},
                        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}, "postStart": {"httpGet": {"port": 80}}},
                    }
                ]
            }
        },
        None,
        "5c776b9b64",
    ),
    (
        "env",
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "env": [
                            {"name": "A", "value": "1"},
                            {"name": "EMPTY", "value": ""},
                            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {
                                "name": "CPU",
                                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
                            },
                            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
                            {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": False}}},
                            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                        ],
                        "envFrom": [
                            {"configMapRef": {"name": "cm"}, "prefix": "P_"},
                            {"secretRef": {"name": "sec", "optional": True}},
                        ],
                    }
                ]
            }
        },
        None,
        "6dfc7cf59d",
    ),
    (
        "volumes",
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                    }
                ],
                "volumes": [
                    {"name": "data", "emptyDir": {"sizeLimit": "500Mi", "medium": "Memory"}},
                    {
                        "name": "cfg",
                        "configMap": {"name": "cfg", "defaultMode": 420, "items": [{"key": "a", "path": "a.txt"}]},
                    },
                    {"name": "sec", "secret": {"secretName": "s"}},
                    {
                        "name": "proj",
                        "projected": {
                            "sources": [
                                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                                {
                                    "downwardAPI": {
                                        "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
                                    }
                                },
                            ]
                        },
                    },
                    {"name": "pvc", "persistentVolumeClaim": {"claimName": "claim"}},
                    {
                        "name": "eph",
                        "ephemeral": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "1Gi"}},
                                }
                            }
                        },
                    },
                ],
            }
        },
        None,
        "f9c859495",
    ),
    (
        "affinity-tolerations",
        {
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
                            ]
                        }
                    },
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 100,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": {"app": "x"}},
                                    "topologyKey": "kubernetes.io/hostname",
                                },
                            }
                        ]
                    },
                },
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
                    {"operator": "Exists", "tolerationSeconds": 30, "effect": "NoExecute"},
                ],
                "nodeSelector": {"kubernetes.io/os": "linux", "a": "b"},
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"app": "x"}},
                    }
                ],
            }
        },
        None,
        "5498548447",
    ),
    (
        "security-context",
        {
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "fsGroup": 2000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                    "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
                },
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"], "add": []},
                            "privileged": False,
                        },
                    }
                ],
                "serviceAccountName": "sa",
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 0,
                "hostNetwork": False,
                "enableServiceLinks": True,
            }
        },
        None,
        "5688fcf64d",
    ),
    (
        "init-containers",
        {
            "metadata": {"annotations": {"sidecar.istio.io/inject": "true"}, "labels": {"app": "x", "version": "v1"}},
            "spec": {
                "initContainers": [
                    {"name": "init", "image": "busybox", "command": ["sh", "-c", "sleep 1"], "restartPolicy": "Always"}
                ],
                "containers": [{"name": "c", "image": "i", "args": [], "imagePullPolicy": "IfNotPresent"}],
                "imagePullSecrets": [{"name": "reg"}],
                "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]},
                "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["a"]}],
                "restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst",
            },
        },
        None,
        "f4586d5dc",
    ),
    (
        "unicode",
        {
            "metadata": {
                "labels": {"app": "é"},
                "annotations": {
                    "note": "<a href='x'>&amp;</a>",
                    "ls": "\u2028\u2029",
                    "ctl": "\x01\x08\x0c\n\r\t\x7f",
                    "emoji": "😀 日本語",
                    "bad": "\ud800",
                    "q": '"\\',
                },
            },
            "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "U", "value": "�\xa0"}]}]},
        },
        None,
        "778dd86dfb",
    ),
    (
        "nulls-unknown-empties",
        {
            "metadata": {"labels": None, "annotations": {}, "creationTimestamp": None, "unknown": 1},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "command": None,
                        "args": [],
                        "ports": [],
                        "resources": {},
                        "bogus": {"x": 1},
                    }
                ],
                "volumes": None,
                "tolerations": [],
            },
        },
        None,
        "b97d75c46",
    ),
    (
        "metadata-times",
        {
            "metadata": {
                "name": "n",
                "creationTimestamp": "2024-01-02T05:04:05.5+02:00",
                "deletionTimestamp": "2024-01-02T03:04:05Z",
                "finalizers": ["a"],
                "generation": 3,
            }
        },
        None,
        "dbb987c45",
    ),
]


@pytest.mark.parametrize(("template", "collision_count", "argo"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_pod_template_hash_is_argos(template: dict[str, Any], collision_count: int | None, argo: str) -> None:
    assert argo_pod_template_hash(template, collision_count) == argo
    assert template_hash(ARGO, template, collision_count=collision_count) == argo


def test_our_own_mode_keeps_the_hash_existing_replica_sets_are_named_with() -> None:
    template = CASES[0][1]
    # Values of the hash before drop-in mode had its own: a ReplicaSet named then keeps its name.
    assert template_hash(ROLLOUTS_DEV, template, collision_count=None) == "595f7fc6d7" == pod_template_hash(template)
    assert template_hash(ROLLOUTS_DEV, template, collision_count=0) == "595f7fc6d7"
    assert template_hash(ROLLOUTS_DEV, template, collision_count=1) == "9db68d84b"


def test_go_json_of_a_template_follows_the_struct_not_the_input() -> None:
    encoded = go_json(
        {"spec": {"containers": [{"image": "i", "name": "c", "extra": 1, "ports": [{"containerPort": 80}]}]}},
        root_shape("PodTemplateSpec"),
    )
    # Fields in Go's order, unknown ones dropped, zero values omitted (omitempty), creationTimestamp omitted
    # (omitzero), a missing non-omitempty slice as null, the nested struct emitted.
    assert encoded == (
        '{"metadata":{},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],"resources":{}}]}}'
    )


# Quantities as resource.Quantity's MarshalJSON writes them after ParseQuantity (each checked against Go).
QUANTITIES = {
    "1000m": "1", "0.5": "500m", "1024Mi": "1Gi", "1.1Ki": "1126400m", "0.0000000001": "1n", "1000E": "1",
    "9Ei": "9223372036854775807", "1.5Gi": "1536Mi", "0.5Ki": "512", "01": "01", "+1": "+1", "1e3": "1e3",
    "10e3": "10e3", "1.G": "1.G", "-0": "0", "-1.5Mi": "-1536Ki", "0.9Ki": "921600m", "1023.5Ki": "1048064",
    "1e-12": "1e-9", "1e40": "10e39", "5e-10": "1e-9", "12345678901234567890": "12345678901234567890",
}  # fmt: skip


@pytest.mark.parametrize(("given", "canonical"), sorted(QUANTITIES.items()))
def test_quantities_are_canonicalised_as_kubernetes_does(given: str, canonical: str) -> None:
    assert go_quantity(given) == canonical


@pytest.mark.parametrize(("number", "canonical"), [(1e-7, "100e-9"), (1e21, "1e+21"), (0.1, "100m"), (2, "2")])
def test_numeric_quantities_go_through_gos_float_text(number: float, canonical: str) -> None:
    assert go_quantity(number) == canonical


@pytest.mark.parametrize(
    ("number", "text"),
    [(1.0, "1"), (0.1, "0.1"), (1e-7, "1e-7"), (1e21, "1e+21"), (123456789.0, "123456789"), (-0.0, "-0")],
)
def test_floats_are_written_as_go_writes_them(number: float, text: str) -> None:
    assert go_float(number) == text


def test_strings_are_escaped_as_go_escapes_them() -> None:
    shape = root_shape("PodTemplateSpec")
    encoded = go_json({"metadata": {"name": "<&>\u2028\u2029\x01\b\ud800é"}}, shape)
    assert (
        encoded
        == '{"metadata":{"name":"\\u003c\\u0026\\u003e\\u2028\\u2029\\u0001\\b\ufffdé"},"spec":{"containers":null}}'
    )
    json.loads(encoded)


def _first_created(mode_observed: Observed) -> CreateReplicaSet:
    created = plan(canary_spec(), mode_observed, now=T0).of_type(CreateReplicaSet)
    assert len(created) == 1
    return created[0]


def test_the_mode_decides_the_new_replica_sets_name() -> None:
    spec = canary_spec()
    argo = _first_created(Observed(mode=ARGO))
    ours = _first_created(Observed(mode=ROLLOUTS_DEV))
    assert argo.pod_hash == argo_pod_template_hash(spec.template)
    assert ours.pod_hash == pod_template_hash(spec.template)
    assert argo.name == f"app-{argo.pod_hash}"
    assert ours.name == f"app-{ours.pod_hash}"
    assert argo.template["metadata"]["labels"]["rollouts-pod-template-hash"] == argo.pod_hash


def test_a_replica_set_of_the_same_template_under_another_hash_is_still_found() -> None:
    # A ReplicaSet our controller named in its own mode, before the switch to Argo's hash: adopted by template.
    spec = canary_spec()
    old_hash = pod_template_hash(spec.template)
    template = {**spec.template, "metadata": {"labels": {"app": "x", "rollouts-pod-template-hash": old_hash}}}
    rs = ReplicaSetView(name=f"app-{old_hash}", pod_hash=old_hash, replicas=10, template=template, revision=1)
    decided = plan(spec, Observed(mode=ARGO, replica_sets=(rs,)), now=T0)
    assert not decided.of_type(CreateReplicaSet)
    assert decided.status["currentPodHash"] == old_hash

"""The local cluster is a real Kubernetes: controllers reconcile, the scheduler places pods, KWOK runs them."""

from __future__ import annotations

import time

from kubernetes import client

from tests.support.cluster import Kube, wait_for


def test_deployment_of_three_replicas_becomes_available_on_fake_nodes(kube: Kube, namespace: str) -> None:
    apps = client.AppsV1Api(kube.api_client)
    core = client.CoreV1Api(kube.api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.27")]),
                ),
            ),
        ),
    )

    def available() -> bool:
        status = apps.read_namespaced_deployment("web", namespace).status
        return status.available_replicas == 3 and status.ready_replicas == 3

    wait_for(available, what="deployment web to have 3 available replicas")
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" for p in pods)
    # Placed by the real scheduler on KWOK's fake nodes, each with its own pod IP from KWOK's CIDR.
    assert {p.spec.node_name for p in pods} <= {"kwok-node-0", "kwok-node-1"}
    assert len({p.status.pod_ip for p in pods}) == 3
    # The ReplicaSet controller of kube-controller-manager owns the pods.
    owners = {p.metadata.owner_references[0].kind for p in pods}
    assert owners == {"ReplicaSet"}


def _job(name: str, annotations: dict[str, str]) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(annotations=annotations),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="main", image="busybox", command=["true"])],
                ),
            ),
        ),
    )


def test_job_pods_complete_or_fail_as_their_kwok_annotations_say(kube: Kube, namespace: str) -> None:
    batch = client.BatchV1Api(kube.api_client)
    batch.create_namespaced_job(namespace, _job("passes", {}))
    batch.create_namespaced_job(namespace, _job("fails", {"kwok.rollouts.dev/exit-code": "2"}))

    def finished(name: str) -> str | None:
        for condition in batch.read_namespaced_job(name, namespace).status.conditions or []:
            if condition.type in {"Complete", "Failed"} and condition.status == "True":
                return str(condition.type)
        return None

    assert wait_for(lambda: finished("passes"), what="job passes to finish") == "Complete"
    assert wait_for(lambda: finished("fails"), what="job fails to finish") == "Failed"


def test_pod_readiness_can_be_delayed_or_withheld(kube: Kube, namespace: str) -> None:
    core = client.CoreV1Api(kube.api_client)

    def pod(name: str, annotations: dict[str, str]) -> client.V1Pod:
        return client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, annotations=annotations),
            spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox")]),
        )

    created = time.monotonic()
    core.create_namespaced_pod(namespace, pod("slow", {"kwok.rollouts.dev/ready-delay": "2s"}))
    core.create_namespaced_pod(namespace, pod("never", {"kwok.rollouts.dev/unready": "true"}))

    def ready(name: str) -> bool:
        conditions = core.read_namespaced_pod(name, namespace).status.conditions or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    wait_for(lambda: ready("slow"), what="pod slow to become Ready")
    assert time.monotonic() - created >= 1.5, "ready-delay was not honoured"
    never = core.read_namespaced_pod("never", namespace)
    assert never.status.phase == "Running"
    assert not ready("never")

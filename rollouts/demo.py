"""``make demo``: the product's showcase, run on a fresh local cluster that it starts and stops itself.

Today it proves the platform the rest stands on: it starts the container-less cluster, shows its nodes, deploys an
application whose pods are scheduled onto fake nodes and become Ready, runs a Job to completion, and tears
everything down. It grows into the metric-gated canary demo as the Rollout controller and routers land.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rollouts.devcluster import ClusterError, ClusterInfo, running_cluster
from rollouts.kube.login import load_api_client

__all__ = ["main"]


def _until(probe: Callable[[], bool], *, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def _show(console: Console, info: ClusterInfo) -> None:
    from kubernetes import client

    api = load_api_client(str(info.kubeconfig))
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    version = client.VersionApi(api).get_code().git_version

    def as_dict(model: object) -> dict[str, Any]:
        plain: dict[str, Any] = api.sanitize_for_serialization(model)
        return plain

    console.print(f"[bold green]cluster ready[/] in {info.start_seconds:.1f}s: Kubernetes {version} at {info.server}")

    nodes = Table(title="nodes (KWOK)")
    for column in ("name", "ready", "kubelet"):
        nodes.add_column(column)
    for node in as_dict(core.list_node())["items"]:
        ready = next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")
        nodes.add_row(node["metadata"]["name"], ready, node["status"]["nodeInfo"]["kubeletVersion"])
    console.print(nodes)

    labels = {"app": "demo"}
    container = client.V1Container(name="app", image="registry.example/demo:1.0")
    apps.create_namespaced_deployment(
        "default",
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="demo"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels), spec=client.V1PodSpec(containers=[container])
                ),
            ),
        ),
    )
    took = _until(
        lambda: as_dict(apps.read_namespaced_deployment("demo", "default"))["status"].get("availableReplicas") == 3,
        timeout=60,
        what="deployment demo to be Available",
    )
    console.print(f"deployment [bold]demo[/]: 3/3 replicas Available after {took:.1f}s")
    pods = Table(title="pods")
    for column in ("pod", "node", "ip", "phase"):
        pods.add_column(column)
    for pod in as_dict(core.list_namespaced_pod("default", label_selector="app=demo"))["items"]:
        pods.add_row(pod["metadata"]["name"], pod["spec"]["nodeName"], pod["status"]["podIP"], pod["status"]["phase"])
    console.print(pods)

    batch.create_namespaced_job(
        "default",
        client.V1Job(
            metadata=client.V1ObjectMeta(name="smoke"),
            spec=client.V1JobSpec(
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(restart_policy="Never", containers=[container]),
                )
            ),
        ),
    )
    took = _until(
        lambda: as_dict(batch.read_namespaced_job("smoke", "default")).get("status", {}).get("succeeded") == 1,
        timeout=60,
        what="job smoke to complete",
    )
    console.print(f"job [bold]smoke[/]: Complete after {took:.1f}s")
    api.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rollouts.demo", description=__doc__)
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="rollouts-demo-") as state:
        try:
            console.print(
                "[bold]starting the local cluster[/] (etcd, kube-apiserver, controller-manager, scheduler, KWOK)"
            )
            with running_cluster(Path(state), nodes=args.nodes) as info:
                _show(console, info)
        except ClusterError as error:
            console.print(f"[bold red]demo failed:[/] {error}")
            return 1
    console.print("[bold green]done[/]: every process stopped, nothing left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())

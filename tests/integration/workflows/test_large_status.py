"""A 50,000-node workflow's status is stored in the real API server (etcd's 1.5 MiB request limit) and read back."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from tests.support.cluster import Kube
from workflows import DagBuilder, Executor, ExecutorConfig, NodePhase
from workflows.api import GROUP, VERSION
from workflows.model.status import decode_nodes
from workflows.runtime.executor import Run

NODES = 50_000
ETCD_REQUEST_LIMIT = 1536 * 1024


class Capture:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {}

    async def write_status(self, run: Run, status: dict[str, Any]) -> None:
        self.status = status


async def test_fifty_thousand_nodes_round_trip_through_the_api_server(
    kube: Kube, namespace: str, crds_installed: list[str]
) -> None:
    builder = DagBuilder("huge", namespace=namespace)
    # A wide fan of layers, so the node table has realistic names, children and boundaries.
    for index in range(NODES):
        depends = [f"n{index - 100}"] if index >= 100 else None
        builder.add(f"n{index}", kind="noop", depends=depends)
    sink = Capture()
    executor = Executor(config=ExecutorConfig(status_interval=0))
    run = executor.submit(builder.build(), sink=sink)
    result = await run.wait()
    await executor.close()
    assert result.phase.value == "Succeeded"
    status = sink.status
    assert "compressedNodes" in status, "a 50k-node table must be stored compressed"
    encoded = len(json.dumps({"status": status}))
    assert encoded < ETCD_REQUEST_LIMIT / 4, f"status is {encoded} bytes; must stay far below etcd's limit"

    custom = client.CustomObjectsApi(kube.api_client)
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "workflows",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Workflow",
            "metadata": {"name": "huge"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
        },
    )
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, "workflows", "huge", {"status": status})
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "workflows", "huge")
    records = decode_nodes(stored["status"])
    leaves = [r for r in records if r.display_name.startswith("n")]
    assert len(leaves) == NODES
    assert all(r.phase is NodePhase.SUCCEEDED for r in leaves)
    assert stored["status"]["progress"] == f"{NODES}/{NODES}"
    print(f"50k-node status: {encoded} bytes in the API server ({encoded / NODES:.1f} B/node)")

"""Two replicas of the controller and one Lease: the leader is SIGKILLed again and again while Rollouts are mid-update.

Checked against the real API server:
- the other replica takes the Lease within the lease duration (plus one retry period) after each kill, and at once
  (one retry period) after a graceful stop, which hands the Lease back;
- every Rollout ends Healthy on its last template, with one ReplicaSet per pod-template hash, and no step index ever
  went backwards for a template (a step neither skipped nor repeated by the new leader);
- **no replica wrote anything while it did not hold the Lease**: each replica acts as its own ServiceAccount in the
  audited namespace, the API server's audit log records every request they make, and every write is checked against
  the holder the Lease's own successful writes (in the same log) say there was at that moment;
- ``/readyz`` is 200 on the leader (Lease held, caches synced) and on the replica standing by (it has read the Lease).

``ROLLOUTS_HA_KILLS`` sets the number of kills (CI: 6; ``make ha`` runs 20 with the default durations).
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.support.cluster import (
    AUDITED_NAMESPACE,
    ControllerProcess,
    Kube,
    apply,
    service_account_kubeconfig,
    wait_for,
)
from tests.support.cluster_rollouts import READY_DELAY, rollout, set_image, wait_healthy
from workflows.runtime.kube import ROLLOUTS
from workflows.runtime.kube import Kube as Client

KILLS = int(os.environ.get("ROLLOUTS_HA_KILLS", "6"))
# Short durations keep the test quick; the defaults (15/10/2 s) behave the same, only slower (`make ha`).
LEASE_DURATION = float(os.environ.get("ROLLOUTS_HA_LEASE_DURATION", "3"))
RENEW_DEADLINE = LEASE_DURATION * 2 / 3
RETRY_PERIOD = LEASE_DURATION / 6
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    name: str
    process: ControllerProcess
    healthz: int

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.healthz}{path}", timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0


@pytest.fixture
def identities(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Two ServiceAccounts in the audited namespace (cluster-admin: this test is about who writes when, not RBAC)."""
    core, rbac = client.CoreV1Api(kube.api_client), client.RbacAuthorizationV1Api(kube.api_client)
    if not any(n.metadata.name == AUDITED_NAMESPACE for n in core.list_namespace().items):
        core.create_namespace({"metadata": {"name": AUDITED_NAMESPACE}})
    names = {replica: f"{namespace[:40]}-{replica}" for replica in ("a", "b")}
    configs = {}
    for replica, account in names.items():
        core.create_namespaced_service_account(AUDITED_NAMESPACE, {"metadata": {"name": account}})
        rbac.create_cluster_role_binding(
            {
                "metadata": {"name": account},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": AUDITED_NAMESPACE}],
            }
        )
        configs[replica] = service_account_kubeconfig(kube, AUDITED_NAMESPACE, account, tmp_path)
    yield configs
    for account in names.values():
        rbac.delete_cluster_role_binding(account)
        core.delete_namespaced_service_account(account, AUDITED_NAMESPACE)


def _lease(kube: Kube, name: str) -> dict[str, Any]:
    result = kube.kubectl("get", "lease", name, "-n", AUDITED_NAMESPACE, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def _holder(kube: Kube, name: str) -> str:
    return str((_lease(kube, name).get("spec") or {}).get("holderIdentity") or "")


class StepRecorder:
    """Watches the namespace's Rollouts from now on: (name, pod hash) -> every currentStepIndex seen, in order."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.client = Client.from_kubeconfig(str(kube.kubeconfig))
        self.namespace = namespace
        self.steps: dict[tuple[str, str], list[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StepRecorder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        version = self.client.list(ROLLOUTS, self.namespace).resource_version
        while not self._stop.is_set():
            try:
                self._follow(version)
            except Exception:  # noqa: BLE001 -- a broken stream (the cluster stopping after the test): done
                return

    def _follow(self, version: str) -> None:
        while not self._stop.is_set():
            for event in self.client.watch(ROLLOUTS, self.namespace, resource_version=version, timeout_seconds=30):
                version = str((event.object.get("metadata") or {}).get("resourceVersion") or version)
                status = event.object.get("status") or {}
                if event.type == "MODIFIED" and status.get("currentPodHash") and "currentStepIndex" in status:
                    key = (str(event.object["metadata"]["name"]), str(status["currentPodHash"]))
                    seen = self.steps.setdefault(key, [])
                    if not seen or seen[-1] != int(status["currentStepIndex"]):
                        seen.append(int(status["currentStepIndex"]))


def _audited(audit_log: Path, accounts: dict[str, str]) -> list[dict[str, Any]]:
    users = {f"system:serviceaccount:{AUDITED_NAMESPACE}:{account}": replica for replica, account in accounts.items()}
    entries = []
    for line in audit_log.read_text().splitlines():
        entry = json.loads(line)
        replica = users.get(str((entry.get("user") or {}).get("username") or ""))
        if replica is not None and entry.get("stage") == "ResponseComplete":
            entries.append({**entry, "replica": replica})
    return entries


def writes_outside_leadership(entries: list[dict[str, Any]], lease: str) -> tuple[list[str], int]:
    """Every write (but the Lease's own) made by a replica that did not hold the Lease when the API server received
    it; and how many writes were checked. The holder at any moment is whoever last wrote the Lease successfully."""
    changes = sorted(
        (e["stageTimestamp"], e["replica"])
        for e in entries
        if e["verb"] in {"create", "update"}
        and (e.get("objectRef") or {}).get("resource") == "leases"
        and (e.get("objectRef") or {}).get("name") == lease
        and 200 <= int((e.get("responseStatus") or {}).get("code") or 0) < 300
    )
    wrong, checked = [], 0
    for entry in entries:
        ref = entry.get("objectRef") or {}
        if entry["verb"] not in WRITES or ref.get("resource") == "leases":
            continue
        checked += 1
        at = entry["requestReceivedTimestamp"]
        holders = [replica for stamp, replica in changes if stamp <= at]
        if not holders or holders[-1] != entry["replica"]:
            wrong.append(f"{at} {entry['replica']} {entry['verb']} {ref.get('resource')}/{ref.get('name')}")
    return wrong, checked


# Each kill waits out a lease and a release's steps: the suite's 300 s default does not fit `make ha`'s 20 kills.
@pytest.mark.timeout(max(300.0, KILLS * (LEASE_DURATION + 20) + 120))
def test_the_follower_takes_over_after_each_kill_and_never_writes_while_standing_by(
    kube: Kube, crds_installed: list[str], namespace: str, identities: dict[str, Path], tmp_path: Path
) -> None:
    assert kube.audit_log is not None, "this test needs the test cluster's audit log (not a reused cluster)"
    lease = f"ha-{namespace}"[:63]
    durations = (
        f"--leader-election-lease-duration={LEASE_DURATION}",
        f"--leader-election-renew-deadline={RENEW_DEADLINE}",
        f"--leader-election-retry-period={RETRY_PERIOD}",
    )

    def replica(name: str) -> Replica:
        port = _free_port()
        process = ControllerProcess(
            kube=kube,
            namespace=namespace,
            log=tmp_path / f"controller-{name}.log",
            kubeconfig=identities[name],
            args=(f"--leader-election-identity={name}", f"--lease-name={lease}",
                  f"--lease-namespace={AUDITED_NAMESPACE}", f"--healthz-port={port}", *durations),
        )  # fmt: skip
        return Replica(name, process, port)

    replicas = {name: replica(name) for name in ("a", "b")}
    names = [f"ha-{i}" for i in range(3)]
    steps = [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"setWeight": 100}]
    try:
        replicas["a"].process.start()
        wait_for(lambda: _holder(kube, lease) == "a", timeout=30, what="a holding the Lease")
        replicas["b"].process.start()
        for name in names:
            pods = {READY_DELAY: "1s"}
            apply(
                kube, namespace, rollout(name, replicas=2, strategy={"canary": {"steps": steps}}, pod_annotations=pods)
            )
        for name in names:
            wait_healthy(kube, namespace, name, timeout=60)
        wait_for(lambda: replicas["b"].probe("/readyz") == 200, timeout=20, what="the standing-by replica ready")
        assert replicas["a"].probe("/readyz") == 200
        assert replicas["a"].probe("/healthz") == 200
        takeovers = []
        chance = random.Random(11)
        with StepRecorder(kube, namespace) as recorder:
            for kill in range(KILLS):
                for name in names:
                    set_image(kube, namespace, name, f"demo:v{kill}")
                time.sleep(chance.uniform(0.2, 1.5))  # somewhere mid-update
                leader = _holder(kube, lease)
                other = "b" if leader == "a" else "a"
                replicas[leader].process.kill()
                killed = time.monotonic()
                wait_for(lambda o=other: _holder(kube, lease) == o, timeout=LEASE_DURATION * 4, interval=0.05,
                         what=f"{other} taking the Lease after {leader} was killed")  # fmt: skip
                takeovers.append(time.monotonic() - killed)
                replicas[leader].process.start()
            for name in names:
                wait_healthy(kube, namespace, name, timeout=90)
            # A graceful stop hands the Lease back: the other replica takes it at its next try.
            leader = _holder(kube, lease)
            other = "b" if leader == "a" else "a"
            signalled = time.monotonic()
            replicas[leader].process.stop()  # returns once it has exited: its Lease handed back on the way out
            stopped = time.monotonic()
            wait_for(lambda: _holder(kube, lease) == other, timeout=LEASE_DURATION * 4, interval=0.05,
                     what="the Lease handed over after SIGTERM")  # fmt: skip
            handover, since_signal = time.monotonic() - stopped, time.monotonic() - signalled
    finally:
        for each in replicas.values():
            each.process.stop()

    print(  # the numbers the closing note quotes (pytest -s)
        f"\nfailover after SIGKILL ({KILLS} kills, lease {LEASE_DURATION:g} s): median "
        f"{statistics.median(takeovers):.2f} s, worst {max(takeovers):.2f} s; after SIGTERM {since_signal:.2f} s "
        f"({handover:.2f} s after the process exited)"
    )
    assert max(takeovers) <= LEASE_DURATION + 2 * RETRY_PERIOD + 1.0, takeovers
    assert handover <= 2 * RETRY_PERIOD + 1.0, handover
    for name in names:
        listed = json.loads(kube.kubectl("get", "rs", "-n", namespace, "-l", f"app={name}", "-o", "json").stdout)
        hashes = [rs["metadata"]["labels"]["rollouts-pod-template-hash"] for rs in listed["items"]]
        assert len(hashes) == len(set(hashes)), (name, hashes)
    for key, seen in recorder.steps.items():
        assert seen == sorted(seen), (key, seen)  # never backwards: nothing repeated after a takeover
    accounts = {r: f"{namespace[:40]}-{r}" for r in ("a", "b")}
    wrong, checked = writes_outside_leadership(_audited(kube.audit_log, accounts), lease)
    assert checked > 0, "the audit log recorded no writes of the replicas"
    assert {e["replica"] for e in _audited(kube.audit_log, accounts) if e["verb"] in WRITES} == {"a", "b"}
    assert not wrong, wrong[:20]

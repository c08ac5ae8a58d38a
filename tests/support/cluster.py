"""The integration tier's cluster: the handle the ``kube`` fixture yields, the controller as a real subprocess,
polling until something holds, and plain-dict reads and writes of the objects on it.

The fixtures that start the cluster and hand these out live in ``tests/integration/conftest.py``; this module holds
no fixtures. Objects come back as plain dicts so assertions print readably; only Jobs and Events, which tests read a
few attributes of, come back as the client's models.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client

from workflows.api import GROUP, VERSION

__all__ = [
    "OURS",
    "REPO",
    "ControllerProcess",
    "Kube",
    "apply",
    "create_custom",
    "delete_custom",
    "event_reasons",
    "events",
    "get_custom",
    "ingress",
    "jobs",
    "list_custom",
    "patch_custom",
    "read_pod",
    "run_cli",
    "wait_for",
]

REPO = Path(__file__).resolve().parents[2]
OURS = (GROUP, VERSION)  # the API group and version of our kinds (Rollout, AnalysisRun, Workflow, ...)

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str,
    now: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe()`` until it returns something truthy and return that; fail with ``what`` after ``timeout``
    seconds, adding ``now()`` (how things stand, e.g. ``"status now: {...}"``) to the message when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout}s waiting for {what}"
            raise AssertionError(f"{message}; {now()}" if now is not None else message)
        time.sleep(interval)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m rollouts.cli ARGS`` as a user runs it; the exit code is the caller's to assert."""
    return subprocess.run(
        [sys.executable, "-m", "rollouts.cli", *args], capture_output=True, text=True, check=False, timeout=timeout
    )


# --------------------------------------------------------------------------------------------------------------
# The cluster and the controller


#: The namespace whose ServiceAccounts' requests the test cluster's API server records (tests that must prove which
#: identity wrote what create their identities there).
AUDITED_NAMESPACE = "audited"


@dataclass
class Kube:
    """A handle on the test cluster: kubeconfig, a kubernetes ApiClient and a kubectl runner."""

    kubeconfig: Path
    kubectl_binary: Path
    api_client: Any
    start_seconds: float | None
    # The API server's audit log of the requests made by ServiceAccounts of AUDITED_NAMESPACE (None: not audited,
    # e.g. a reused cluster)
    audit_log: Path | None = None

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:  # noqa: A002
        result = subprocess.run(
            [str(self.kubectl_binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed with {result.returncode}:\n{result.stderr}{result.stdout}"
            )
        return result


@dataclass
class ControllerProcess:
    """``rollouts controller`` as a real subprocess watching one namespace; can be killed and restarted."""

    kube: Kube
    namespace: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kubeconfig: Path | None = None  # another identity than the admin's, e.g. the controller's ServiceAccount
    args: tuple[str, ...] = ()  # more flags, e.g. ("--api-group=argoproj.io",) for drop-in mode

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "controller already running"
        sink = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rollouts.cli", "controller",
             f"--kubeconfig={self.kubeconfig or self.kube.kubeconfig}", f"--namespace={self.namespace}",
             "--metrics-port=0", "--healthz-port=0", *self.args],
            stdout=sink, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        sink.close()

    def kill(self) -> None:
        """SIGKILL: the harshest restart, no cleanup handlers run."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def service_account_kubeconfig(kube: Kube, namespace: str, account: str, directory: Path) -> Path:
    """A kubeconfig that acts as ServiceAccount ``namespace/account`` (a one-hour token), as a pod of it would."""
    import base64

    token = client.CoreV1Api(kube.api_client).create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}
    )
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token.status.token}}],
        "contexts": [{"name": account, "context": {"cluster": "local", "user": account}}],
        "current-context": account,
    }
    path = directory / f"{namespace}-{account}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------------------------------------------
# Objects, as plain dicts


def apply(
    kube: Kube, namespace: str | None, *docs: Mapping[str, Any], force_conflicts: bool = True
) -> list[dict[str, Any]]:
    """``kubectl apply --server-side`` of the documents (into ``namespace``, or cluster-wide with None); returns the
    objects as applied. ``force_conflicts=False`` makes a field another manager owns an error instead of a takeover."""
    args = ["apply", "--server-side", "--output=yaml", "--filename=-"]
    if force_conflicts:
        args.append("--force-conflicts")
    if namespace is not None:
        args.append(f"--namespace={namespace}")
    out = kube.kubectl(*args, input=yaml.safe_dump_all([dict(doc) for doc in docs]))
    loaded = yaml.safe_load(out.stdout)
    return list(loaded.get("items") or [loaded]) if loaded.get("kind") == "List" else [loaded]


def _custom_objects(kube: Kube) -> Any:
    return client.CustomObjectsApi(kube.api_client)


def create_custom(
    kube: Kube, namespace: str, plural: str, body: Mapping[str, Any], *, api: tuple[str, str] = OURS
) -> dict[str, Any]:
    created: dict[str, Any] = _custom_objects(kube).create_namespaced_custom_object(*api, namespace, plural, dict(body))
    return created


def get_custom(kube: Kube, namespace: str, plural: str, name: str, *, api: tuple[str, str] = OURS) -> dict[str, Any]:
    body: Any = _custom_objects(kube).get_namespaced_custom_object(*api, namespace, plural, name)
    return dict(body)


def list_custom(
    kube: Kube, namespace: str, plural: str, *, label_selector: str = "", api: tuple[str, str] = OURS
) -> list[dict[str, Any]]:
    listed: Any = _custom_objects(kube).list_namespaced_custom_object(
        *api, namespace, plural, label_selector=label_selector
    )
    return [dict(item) for item in listed["items"]]


def patch_custom(
    kube: Kube, namespace: str, plural: str, name: str, patch: Mapping[str, Any], *, api: tuple[str, str] = OURS
) -> None:
    _custom_objects(kube).patch_namespaced_custom_object(*api, namespace, plural, name, dict(patch))


def delete_custom(kube: Kube, namespace: str, plural: str, name: str, *, api: tuple[str, str] = OURS) -> None:
    _custom_objects(kube).delete_namespaced_custom_object(*api, namespace, plural, name)


def ingress(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    """The Ingress, or None when there is none of that name."""
    try:
        response: Any = client.NetworkingV1Api(kube.api_client).read_namespaced_ingress(
            name, namespace, _preload_content=False
        )
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    body: dict[str, Any] = json.loads(response.data)
    return body


def read_pod(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    """The Pod as a plain dict, or None when there is none of that name."""
    try:
        response: Any = client.CoreV1Api(kube.api_client).read_namespaced_pod(name, namespace, _preload_content=False)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    body: dict[str, Any] = json.loads(response.data)
    return body


def jobs(kube: Kube, namespace: str) -> list[Any]:
    """The namespace's Jobs (client models: tests read ``metadata`` and the pod spec of each)."""
    return list(client.BatchV1Api(kube.api_client).list_namespaced_job(namespace).items)


def events(kube: Kube, namespace: str, name: str) -> list[Any]:
    """The Events about the object called ``name`` (client models: tests read reason, type and message)."""
    listed = client.CoreV1Api(kube.api_client).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(listed.items)


def event_reasons(kube: Kube, namespace: str, name: str) -> set[str]:
    return {str(event.reason) for event in events(kube, namespace, name)}

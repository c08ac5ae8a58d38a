"""A real, container-less Kubernetes control plane run as plain processes: the local cluster for tests and users.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the upstream binaries; KWOK plays kubelet for
fake nodes: pods are scheduled for real, the pod planner (:mod:`rollouts.devcluster.podsim.planner`, a Python
process of the cluster) decides from each pod's spec how a real kubelet would run it, and KWOK's stages play that out
(Running/Ready, exit codes, crash loops, image pull errors, preStop delays). Every component authenticates with its
own client certificate and the API server authorises with RBAC, so permission checks in tests are the real ones.

Two ways to hold a cluster:
- ``LocalCluster.start(tie_to_parent=True)`` for test sessions: the processes die with the Python process, even when
  it is killed, and :meth:`LocalCluster.stop` tears every process group down.
- ``rollouts cluster up`` starts the same processes detached and records their process groups in ``state.json``,
  so ``rollouts cluster down`` in another shell can stop them.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from rollouts.devcluster.binaries import ensure_binaries
from rollouts.devcluster.errors import ClusterError
from rollouts.devcluster.pki import ClientIdentity, Pki, write_pki

__all__ = ["ClusterInfo", "LocalCluster", "default_state_dir", "running_cluster"]

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
_STAGES = Path(__file__).with_name("kwok-stages.yaml")
_STATE_FILE = "state.json"
# Start order; teardown runs in reverse, so nothing loses its API server or etcd while still running.
_COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "pod-planner")
_PLANNER_USER = "rollouts-pod-planner"
_PLANNER_READY = "pod-planner.ready"
_CLIENTS = (
    ClientIdentity(file_stem="admin", user="rollouts-admin", groups=("system:masters",)),
    ClientIdentity(file_stem="controller-manager", user="system:kube-controller-manager"),
    ClientIdentity(file_stem="scheduler", user="system:kube-scheduler"),
    # KWOK writes node and pod status for every fake node; a kubelet would need as much.
    ClientIdentity(file_stem="kwok", user="kwok", groups=("system:masters",)),
    # The pod planner only reads pods and writes their plan annotation (and Events): see _PLANNER_RULES.
    ClientIdentity(file_stem="pod-planner", user=_PLANNER_USER),
)
_PLANNER_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
_PR_SET_PDEATHSIG = 1


def default_state_dir() -> Path:
    """Where ``rollouts cluster up`` keeps certificates, data, logs and ``state.json``."""
    override = os.environ.get("ROLLOUTS_CLUSTER_DIR")
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "rollouts" / "clusters" / "default"


@dataclass(frozen=True, kw_only=True)
class ClusterInfo:
    """What a client needs: the kubeconfig, the server URL and where the logs are."""

    kubeconfig: Path
    server: str
    state_dir: Path
    bin_dir: Path
    nodes: tuple[str, ...]
    start_seconds: float

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGKILL it when the parent goes (no orphans)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _kubeconfig(*, server: str, pki: Pki, stem: str, name: str = "rollouts-local") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(pki.ca_cert)}}],
        "users": [
            {
                "name": stem,
                "user": {
                    "client-certificate-data": _b64(pki.client_cert(stem)),
                    "client-key-data": _b64(pki.client_key(stem)),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": stem, "namespace": "default"}}],
        "current-context": name,
    }


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes] | None
    pgid: int
    log: Path


@dataclass
class LocalCluster:
    """Start, wait for and stop one local cluster whose files live in ``state_dir``."""

    state_dir: Path
    nodes: int = 1
    bin_dir: Path | None = None
    #: The kube-controller-manager's own client limit (its default 20 QPS / 30 burst when None): raised for
    #: benchmarks where thousands of pods come and go, so the cluster is not the bottleneck being measured.
    controller_manager_qps: int | None = None
    #: Record every request made by a ServiceAccount of this namespace in ``<state_dir>/logs/audit.log`` (JSON lines,
    #: metadata only: who, verb, object, status, when); nobody else's requests are recorded. For tests that must prove
    #: which identity wrote what (the leader-election test); None: no audit log.
    audited_namespace: str | None = None
    _processes: list[_Process] = field(default_factory=list)

    # ----------------------------------------------------------------------------------------------------------
    def start(self, *, tie_to_parent: bool, timeout: float = 120.0) -> ClusterInfo:
        """Start every component and return once the cluster can run pods; on failure, stop what was started."""
        started = time.monotonic()
        bin_dir = self.bin_dir or ensure_binaries()
        self._refuse_if_running()
        try:
            return self._start(bin_dir=bin_dir, tie_to_parent=tie_to_parent, deadline=started + timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, *, bin_dir: Path, tie_to_parent: bool, deadline: float) -> ClusterInfo:
        started = time.monotonic()
        state = self.state_dir
        for sub in ("etcd", "logs"):
            with contextlib.suppress(FileNotFoundError):
                _rmtree(state / sub)
        (state / "logs").mkdir(parents=True, exist_ok=True)
        pki = write_pki(state / "pki", clients=_CLIENTS, service_ip=SERVICE_IP, now=dt.datetime.now(dt.UTC))
        etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        server = f"https://127.0.0.1:{api_port}"
        kubeconfigs = {}
        for client in _CLIENTS:
            path = state / f"{client.file_stem}.kubeconfig"
            path.write_text(yaml.safe_dump(_kubeconfig(server=server, pki=pki, stem=client.file_stem)))
            path.chmod(0o600)
            kubeconfigs[client.file_stem] = path
        user_kubeconfig = state / "kubeconfig"
        user_kubeconfig.write_text(kubeconfigs["admin"].read_text())
        user_kubeconfig.chmod(0o600)

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        commands: dict[str, list[str]] = {
            "etcd": [
                str(bin_dir / "etcd"),
                "--name=local",
                f"--data-dir={state / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=local={peer_url}",
                # A disposable cluster does not need durability; fsync dominates write latency otherwise.
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
            ],
            "kube-apiserver": [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={state / 'pki'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-key-file={pki.sa_public_key}",
                f"--service-account-signing-key-file={pki.sa_private_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                "--event-ttl=1h",
                # The "kubernetes" Service cannot point at a loopback address; nothing in-cluster needs it.
                "--endpoint-reconciler-type=none",
                *self._audit_flags(state),
                "--v=1",
            ],
            "kube-controller-manager": [
                str(bin_dir / "kube-controller-manager"),
                f"--kubeconfig={kubeconfigs['controller-manager']}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki.sa_private_key}",
                f"--root-ca-file={pki.ca_cert}",
                # Each controller acts as its own ServiceAccount with its bootstrap role, as in kubeadm clusters.
                "--use-service-account-credentials=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # Resync quickly: tests create and delete many objects in little time.
                "--concurrent-replicaset-syncs=10",
                "--concurrent-job-syncs=10",
                *(
                    [f"--kube-api-qps={self.controller_manager_qps}", f"--kube-api-burst={self.controller_manager_qps}"]
                    if self.controller_manager_qps
                    else []
                ),
                "--v=1",
            ],
            "kube-scheduler": [
                str(bin_dir / "kube-scheduler"),
                f"--kubeconfig={kubeconfigs['scheduler']}",
                f"--authentication-kubeconfig={kubeconfigs['scheduler']}",
                f"--authorization-kubeconfig={kubeconfigs['scheduler']}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
                "--v=1",
            ],
            "kwok": [
                str(bin_dir / "kwok"),
                f"--kubeconfig={kubeconfigs['kwok']}",
                f"--config={_STAGES}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.240.0.1",
                "--node-lease-duration-seconds=40",
            ],
            "pod-planner": [
                sys.executable,
                "-m",
                "rollouts.devcluster.podsim.planner",
                f"--server={server}",
                f"--ca={pki.ca_cert}",
                f"--cert={pki.client_cert('pod-planner')}",
                f"--key={pki.client_key('pod-planner')}",
                f"--ready-file={state / _PLANNER_READY}",
            ],
        }
        with contextlib.suppress(FileNotFoundError):
            (state / _PLANNER_READY).unlink()
        session = _ApiSession(server=server, pki=pki)
        try:
            self._spawn("etcd", commands["etcd"], tie_to_parent=tie_to_parent)
            _wait(
                f"etcd at {etcd_url}",
                lambda: requests.get(f"{etcd_url}/health", timeout=1).json().get("health") == "true",
                deadline=deadline,
                watch=self._processes,
            )
            self._spawn("kube-apiserver", commands["kube-apiserver"], tie_to_parent=tie_to_parent)
            _wait("kube-apiserver /readyz", session.ready, deadline=deadline, watch=self._processes)
            session.grant_cluster_role("rollouts:pod-planner", user=_PLANNER_USER, rules=_PLANNER_RULES)
            for name in ("kube-controller-manager", "kube-scheduler", "kwok", "pod-planner"):
                self._spawn(name, commands[name], tie_to_parent=tie_to_parent)
            self._write_state(server=server, kubeconfig=user_kubeconfig, bin_dir=bin_dir)
            node_names = tuple(f"kwok-node-{index}" for index in range(self.nodes))
            for node in node_names:
                session.create_node(node)
            _wait(
                f"{len(node_names)} Ready node(s)",
                lambda: all(session.node_ready(node) for node in node_names),
                deadline=deadline,
                watch=self._processes,
            )
            _wait(
                "the pod planner (it decides how every pod runs; KWOK starts none before)",
                (state / _PLANNER_READY).exists,
                deadline=deadline,
                watch=self._processes,
            )
            _wait(
                "the default ServiceAccount",
                lambda: session.exists("/api/v1/namespaces/default/serviceaccounts/default"),
                deadline=deadline,
                watch=self._processes,
            )
        finally:
            session.close()
        return ClusterInfo(
            kubeconfig=user_kubeconfig,
            server=server,
            state_dir=state,
            bin_dir=bin_dir,
            nodes=node_names,
            start_seconds=time.monotonic() - started,
        )

    def _audit_flags(self, state: Path) -> list[str]:
        if not self.audited_namespace:
            return []
        policy = {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "omitStages": ["RequestReceived"],
            "rules": [
                {"level": "Metadata", "userGroups": [f"system:serviceaccounts:{self.audited_namespace}"]},
                {"level": "None"},
            ],
        }
        path = state / "audit-policy.yaml"
        path.write_text(yaml.safe_dump(policy))
        return [f"--audit-policy-file={path}", f"--audit-log-path={state / 'logs' / 'audit.log'}",
                "--audit-log-format=json", "--audit-log-mode=blocking"]  # fmt: skip

    def _spawn(self, name: str, command: list[str], *, tie_to_parent: bool) -> None:
        log = self.state_dir / "logs" / f"{name}.log"
        env = None
        if command[0] == sys.executable:  # our own Python component: import this very copy of the package
            package_root = str(Path(__file__).resolve().parents[2])
            inherited = os.environ.get("PYTHONPATH")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, *([inherited] if inherited else [])])}
        with log.open("ab") as sink:
            popen = subprocess.Popen(  # noqa: S603
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if tie_to_parent else None,  # noqa: PLW1509
            )
        self._processes.append(_Process(name=name, popen=popen, pgid=popen.pid, log=log))

    # ----------------------------------------------------------------------------------------------------------
    def _write_state(self, *, server: str, kubeconfig: Path, bin_dir: Path) -> None:
        state = {
            "server": server,
            "kubeconfig": str(kubeconfig),
            "bin_dir": str(bin_dir),
            "processes": {p.name: p.pgid for p in self._processes},
        }
        (self.state_dir / _STATE_FILE).write_text(json.dumps(state, indent=2))

    def read_state(self) -> dict[str, Any] | None:
        """The recorded state of a cluster started from this directory, or None."""
        try:
            loaded: dict[str, Any] = json.loads((self.state_dir / _STATE_FILE).read_text())
        except (OSError, ValueError):
            return None
        return loaded

    def running(self) -> bool:
        """True when a cluster recorded in ``state_dir`` still has its API server process."""
        state = self.read_state()
        if not state:
            return False
        pgid = state.get("processes", {}).get("kube-apiserver")
        return isinstance(pgid, int) and _alive(pgid)

    def stopped_components(self) -> list[str]:
        """Components recorded for this cluster whose processes have exited since the start (a crash, an OOM kill, a
        stray signal): the cluster still answers, but e.g. without its pod planner no pod ever leaves Pending."""
        state = self.read_state() or {}
        groups = {**state.get("processes", {}), **{p.name: p.pgid for p in self._processes}}
        self._reap()
        return [name for name, pgid in groups.items() if isinstance(pgid, int) and not _alive(pgid)]

    def _refuse_if_running(self) -> None:
        if self.running():
            raise ClusterError(f"a cluster from {self.state_dir} is already running; `rollouts cluster down` stops it")

    def stop(self, *, grace: float = 10.0) -> None:
        """Stop every process group this object or ``state.json`` knows of, newest first; never leaves orphans."""
        groups: dict[str, int] = {}
        state = self.read_state()
        if state:
            groups.update(state.get("processes", {}))
        groups.update({p.name: p.pgid for p in self._processes})
        ordered = sorted(groups.items(), key=lambda kv: -_COMPONENTS.index(kv[0]) if kv[0] in _COMPONENTS else 0)
        for _, pgid in ordered:
            _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, pgid in ordered:
            while _alive(pgid) and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.05)
            if _alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
        # A SIGKILL is delivered, not awaited: wait until every group is really gone, so a caller that checks (or
        # starts another cluster on the same ports) right after never finds one of ours still there.
        killed_by = time.monotonic() + 10.0
        for _, pgid in ordered:
            while _alive(pgid) and time.monotonic() < killed_by:
                self._reap()
                time.sleep(0.05)
        self._reap(block=True)
        self._processes.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / _STATE_FILE).unlink()

    def _reap(self, *, block: bool = False) -> None:
        for process in self._processes:
            if process.popen is not None:
                if block:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.popen.wait(timeout=5)
                else:
                    process.popen.poll()


def _rmtree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _rmtree(child)
        path.rmdir()
    else:
        path.unlink()


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still answers killpg; look at its state.
    try:
        stat = Path(f"/proc/{pgid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait(what: str, probe: Callable[[], bool], *, deadline: float, watch: list[_Process]) -> None:
    """Poll ``probe`` until true; fail fast with the dead component's log tail if a process exits meanwhile."""
    last_error = ""
    while True:
        for process in watch:
            if process.popen is not None and process.popen.poll() is not None:
                raise ClusterError(
                    f"{process.name} exited with code {process.popen.returncode} while waiting for {what}; "
                    f"last lines of {process.log}:\n{_tail(process.log)}"
                )
        try:
            if probe():
                return
        except (requests.RequestException, ValueError, KeyError) as error:
            last_error = f" (last error: {error})"
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}: {p.log}\n{_tail(p.log, 8)}" for p in watch)
            raise ClusterError(f"timed out waiting for {what}{last_error}\n{logs}")
        time.sleep(0.1)


class _ApiSession:
    """Just enough of the API for bootstrapping, with the admin certificate (no heavyweight client import)."""

    def __init__(self, *, server: str, pki: Pki) -> None:
        self._server = server
        self._http = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE/proxy variables: they would override our CA for a loopback-only server.
        self._http.trust_env = False
        self._http.cert = (str(pki.client_cert("admin")), str(pki.client_key("admin")))
        self._http.verify = str(pki.ca_cert)

    def close(self) -> None:
        self._http.close()

    def ready(self) -> bool:
        return self._http.get(f"{self._server}/readyz", timeout=2).status_code == 200

    def exists(self, path: str) -> bool:
        return self._http.get(f"{self._server}{path}", timeout=5).status_code == 200

    def create_node(self, name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
        }
        response = self._http.post(f"{self._server}/api/v1/nodes", json=body, timeout=10)
        if response.status_code not in (201, 409):
            raise ClusterError(f"creating node {name}: HTTP {response.status_code}: {response.text[:300]}")

    def grant_cluster_role(self, name: str, *, user: str, rules: list[dict[str, Any]]) -> None:
        """A ClusterRole with ``rules`` bound to ``user`` (an existing one of that name is kept)."""
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules,
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }  # fmt: skip
        for kind, body in (("clusterroles", role), ("clusterrolebindings", binding)):
            response = self._http.post(
                f"{self._server}/apis/rbac.authorization.k8s.io/v1/{kind}", json=body, timeout=10
            )
            if response.status_code not in (201, 409):
                raise ClusterError(f"creating {kind} {name}: HTTP {response.status_code}: {response.text[:300]}")

    def node_ready(self, name: str) -> bool:
        response = self._http.get(f"{self._server}/api/v1/nodes/{name}", timeout=5)
        if response.status_code != 200:
            return False
        conditions = response.json().get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@contextlib.contextmanager
def running_cluster(state_dir: Path, *, nodes: int = 1, audited_namespace: str | None = None) -> Iterator[ClusterInfo]:
    """A cluster for the duration of a ``with`` block, tied to this process (used by the test fixtures)."""
    cluster = LocalCluster(state_dir=state_dir, nodes=nodes, audited_namespace=audited_namespace)
    info = cluster.start(tie_to_parent=True)
    try:
        yield info
        stopped = cluster.stopped_components()
    finally:
        cluster.stop()
    if stopped:  # whatever failed in the block may have been this: say so rather than leave it to be guessed
        logs = "\n".join(f"--- {name}: {state_dir / 'logs' / f'{name}.log'}" for name in stopped)
        raise ClusterError(f"{', '.join(stopped)} exited while the cluster was in use; their logs:\n{logs}")

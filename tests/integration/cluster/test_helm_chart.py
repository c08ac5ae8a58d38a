"""The Helm chart (deploy/helm/rollouts): it lints, renders what each value combination promises, applies to the API
server, installs, and its ServiceAccount's permissions are enough for the controller's whole job (a Rollout taken
through an update) and no more than the package's RBAC (one definition: the chart reads the same files)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import REPO, ControllerProcess, Kube, apply, service_account_kubeconfig
from tests.support.cluster_rollouts import kubectl_rollouts, rollout, set_image, wait_healthy, wait_status

CHART = REPO / "deploy" / "helm" / "rollouts"
RBAC = REPO / "rollouts" / "kube" / "manifests" / "rbac.yaml"


@pytest.fixture(scope="module")
def helm() -> Path:
    """helm from the Go module proxy (tools/helm/build.sh; `make deps` builds it, ~2 min cold, cached)."""
    built = subprocess.run([str(REPO / "tools" / "helm" / "build.sh")], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip().splitlines()[-1])


def run_helm(helm: Path, *args: str, kube: Kube | None = None) -> subprocess.CompletedProcess[str]:
    extra = [f"--kubeconfig={kube.kubeconfig}"] if kube is not None else []
    result = subprocess.run([str(helm), *args, *extra], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stderr}{result.stdout}"
    return result


def render(helm: Path, *values: str, namespace: str = "rollouts-system", crds: bool = False) -> list[dict[str, Any]]:
    flags = [f"--set={v}" for v in values] + (["--include-crds"] if crds else [])
    out = run_helm(helm, "template", "rel", str(CHART), f"--namespace={namespace}", *flags).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(docs: Sequence[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def container(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = find(docs, "Deployment")
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def package_rules(path: Path = RBAC, kind: str = "ClusterRole", name: str | None = None) -> list[dict[str, Any]]:
    return [r for doc in yaml.safe_load_all(path.read_text()) if doc and doc["kind"] == kind
            and name in (None, doc["metadata"]["name"]) for r in doc["rules"]]  # fmt: skip


def test_lint_strict(helm: Path) -> None:
    run_helm(helm, "lint", "--strict", str(CHART))
    run_helm(helm, "lint", "--strict", str(CHART), "--set=controller.namespaces={team-a,team-b}")


def test_defaults_two_replicas_leader_election_probes_and_a_locked_down_pod(helm: Path) -> None:
    docs = render(helm)
    (deployment,) = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "rel-rollouts"
    assert pod["securityContext"]["runAsNonRoot"] is True
    main = container(docs)
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    args = main["args"]
    assert "--leader-elect" in args
    assert "--lease-name=rel-rollouts" in args
    assert "--healthz-port=8080" in args
    assert "--metrics-port=8090" in args
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {e["name"] for e in main["env"]} >= {"POD_NAME", "POD_NAMESPACE"}  # the Lease identity and namespace
    assert main["resources"]["requests"]
    assert main["resources"]["limits"]["memory"]
    # The rules are the package's (what `rollouts install` applies), bound cluster-wide.
    (role,) = find(docs, "ClusterRole", "rel-rollouts")
    assert role["rules"] == package_rules()
    (binding,) = find(docs, "ClusterRoleBinding", "rel-rollouts")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "rel-rollouts", "namespace": "rollouts-system"}]
    # The namespaced Roles are the package's too, in the release's namespace.
    for role_name in ("leader-election", "notifications"):
        (namespaced,) = find(docs, "Role", f"rel-rollouts-{role_name}")
        assert namespaced["metadata"]["namespace"] == "rollouts-system"
        assert namespaced["rules"] == package_rules(kind="Role", name=f"rollouts-controller-{role_name}")
    (notifications,) = find(docs, "ConfigMap", "rollouts-notification-configmap")
    assert notifications["data"] is None  # created empty: the controller sends nothing until it is filled
    assert not find(docs, "Secret")
    (metrics,) = find(docs, "Service", "rel-rollouts-metrics")
    assert metrics["spec"]["ports"][0]["port"] == 8090
    assert not find(docs, "ServiceMonitor")
    assert not find(docs, "CustomResourceDefinition")  # `helm template` leaves crds/ out unless asked


def test_crds_come_from_the_package_and_can_be_skipped(helm: Path) -> None:
    crds = find(render(helm, crds=True), "CustomResourceDefinition")
    shipped = sorted(p.name for p in (REPO / "workflows" / "crds").glob("*.yaml"))
    assert len(crds) == len(shipped)
    assert {c["spec"]["group"] for c in crds} == {"rollouts.dev"}


def test_notifications_configmap_from_values_and_names_per_mode(helm: Path) -> None:
    docs = render(
        helm,
        "notifications.templates.rollout-aborted=message: {{.rollout.metadata.name}} aborted",
        "notifications.triggers.on-rollout-aborted[0].send[0]=rollout-aborted",
        "notifications.services.webhook\\.ci=url: https://ci.example.com",
        "notifications.secret.create=true",
        "notifications.secret.items.ci-token=s3cret",
        "controller.apiGroup=argoproj.io",
    )
    (config,) = find(docs, "ConfigMap", "argo-rollouts-notification-configmap")  # Argo's names in drop-in mode
    assert config["data"] == {
        "trigger.on-rollout-aborted": "- send:\n  - rollout-aborted",
        "template.rollout-aborted": "message: {{.rollout.metadata.name}} aborted",
        "service.webhook.ci": "url: https://ci.example.com",
    }
    (secret,) = find(docs, "Secret", "argo-rollouts-notification-secret")
    assert secret["stringData"] == {"ci-token": "s3cret"}


def test_namespaced_mode_grants_only_the_listed_namespaces(helm: Path) -> None:
    docs = render(helm, "controller.namespaces={team-a,team-b}")
    assert not find(docs, "ClusterRoleBinding", "rel-rollouts")
    bindings = find(docs, "RoleBinding", "rel-rollouts")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert all(b["roleRef"]["name"] == "rel-rollouts" for b in bindings)
    args = container(docs)["args"]
    assert "--namespace=team-a" in args
    assert "--namespace=team-b" in args


def test_single_replica_without_leader_election_and_no_metrics(helm: Path) -> None:
    docs = render(helm, "replicaCount=1", "leaderElection.enabled=false", "metrics.enabled=false")
    args = container(docs)["args"]
    assert "--no-leader-elect" in args
    assert "--metrics-port=0" in args
    assert not find(docs, "Role", "rel-rollouts-leader-election")
    assert not find(docs, "Service")


def test_two_replicas_without_leader_election_are_refused(helm: Path) -> None:
    result = subprocess.run(
        [str(helm), "template", "rel", str(CHART), "--set=leaderElection.enabled=false"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "leaderElection.enabled" in result.stderr  # the value to change, named


def test_service_monitor_and_drop_in_mode(helm: Path) -> None:
    docs = render(helm, "metrics.serviceMonitor.enabled=true", "controller.apiGroup=argoproj.io")
    (monitor,) = find(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert "--api-group=argoproj.io" in container(docs)["args"]
    (role,) = find(docs, "ClusterRole", "rel-rollouts")
    argo = package_rules(RBAC.with_name("rbac-argoproj.yaml"))
    assert role["rules"] == package_rules() + argo


@pytest.mark.parametrize(
    "values", [(), ("controller.namespaces={default}",), ("replicaCount=1", "leaderElection.enabled=false")]
)
def test_renderings_pass_the_api_servers_validation(helm: Path, kube: Kube, values: tuple[str, ...]) -> None:
    docs = render(helm, *values, namespace="default")
    stream = yaml.safe_dump_all(docs)
    kube.kubectl("apply", "--dry-run=server", "--server-side", "--field-manager=helm-test", "-f", "-", input=stream)


@pytest.fixture
def release(helm: Path, kube: Kube, namespace: str, crds_installed: list[str]) -> Iterator[str]:
    """The chart installed as release ``rel`` in its own namespace, serving the test's namespace only."""
    system = f"{namespace[:50]}-sys"
    run_helm(helm, "install", "rel", str(CHART), f"--namespace={system}", "--create-namespace", "--wait",
             "--timeout=120s", f"--set=controller.namespaces={{{namespace}}}", kube=kube)  # fmt: skip
    yield system
    run_helm(helm, "uninstall", "rel", f"--namespace={system}", "--wait", kube=kube)
    kube.kubectl("delete", "namespace", system, "--wait=false")


def test_installed_chart_runs_a_release_with_exactly_its_service_accounts_permissions(
    helm: Path, kube: Kube, namespace: str, release: str, tmp_path: Path
) -> None:
    # The Deployment's pods are KWOK's (no container runs here): they must be scheduled and Ready, as the probes say.
    ready = kube.kubectl("get", "deployment", "rel-rollouts", "-n", release,
                         "--output=jsonpath={.status.readyReplicas}").stdout  # fmt: skip
    assert ready == "2"
    # The controller, out of cluster, as the chart's ServiceAccount with the chart's arguments for its Lease.
    controller = ControllerProcess(
        kube=kube,
        namespace=namespace,
        log=tmp_path / "controller.log",
        kubeconfig=service_account_kubeconfig(kube, release, "rel-rollouts", tmp_path),
        args=(f"--lease-namespace={release}", "--lease-name=rel-rollouts", f"--notifications-namespace={release}"),
    )
    controller.start()
    try:
        steps = [{"setWeight": 40}, {"pause": {}}, {"setWeight": 80}, {"pause": {"duration": "1s"}}]
        apply(kube, namespace, rollout("app", replicas=5, strategy={"canary": {"steps": steps}}))
        wait_healthy(kube, namespace, "app", timeout=60)
        set_image(kube, namespace, "app", "demo:green")
        wait_status(kube, namespace, "app", what="paused at step 1", phase="Paused", currentStepIndex=1, timeout=60)
        kubectl_rollouts(kube, namespace, "promote", "app")
        wait_healthy(kube, namespace, "app", timeout=60)
        log = controller.output()
        assert "Forbidden" not in log, log[-4000:]
    finally:
        controller.stop()
    # The permissions stop at the served namespace: a Rollout elsewhere is out of its reach.
    account = f"system:serviceaccount:{release}:rel-rollouts"
    can = kube.kubectl("auth", "can-i", "patch", "rollouts.rollouts.dev", f"--as={account}", "-n", "kube-public",
                       check=False)  # fmt: skip
    assert can.stdout.strip() == "no"


def test_chart_and_kustomize_base_run_the_same_pod(helm: Path, kube: Kube) -> None:
    """Two definitions of the Deployment (a template and a plain manifest): what matters must not drift apart."""
    out = kube.kubectl("kustomize", str(REPO / "deploy" / "kustomize" / "base")).stdout
    (plain,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment"]
    (templated,) = find(render(helm), "Deployment")
    for deployment in (plain, templated):
        assert deployment["spec"]["replicas"] == 2
    pods = [d["spec"]["template"]["spec"] for d in (plain, templated)]
    assert pods[0]["securityContext"] == pods[1]["securityContext"]
    assert pods[0]["volumes"] == pods[1]["volumes"]
    same = ("securityContext", "livenessProbe", "readinessProbe", "resources", "ports", "env", "volumeMounts")
    for key in same:
        assert pods[0]["containers"][0][key] == pods[1]["containers"][0][key], key
    lease = [a for a in pods[0]["containers"][0]["args"] if not a.startswith("--lease-name")]
    assert set(lease) <= set(pods[1]["containers"][0]["args"])

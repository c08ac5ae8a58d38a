"""The Argo corpus on the real cluster: every Rollout example that uses what this issue covers deploys Healthy after
only its ``apiVersion`` changed, then carries an image update to Healthy (promoting wherever it pauses).

Every corpus file is accounted for: run, support (Services/AnalysisTemplates applied alongside), or skipped with the
reason, so a new file in the corpus fails here until someone decides which it is.
"""

from __future__ import annotations

import pytest

from tests.support.cluster import ControllerProcess, Kube, apply, wait_for
from tests.support.cluster_rollouts import (
    HASH_LABEL,
    kubectl_rollouts,
    service_selector,
    set_image,
    status,
    wait_healthy,
)
from tests.support.corpus import CORPUS, rollouts_example

ARGO = CORPUS / "argo-rollouts"

# Rollout example -> the files it needs applied first.
RUN = {
    "getting-started-basic-rollout.yaml": ["getting-started-basic-service.yaml"],
    "rollout-canary.yaml": [],
    "rollout-bluegreen.yaml": [],
    "rollout-rolling-update.yaml": [],
    "rollout-analysis-step.yaml": ["analysis-templates.yaml", "cluster-analysis-templates.yaml"],
    "rollout-background-analysis.yaml": ["analysis-templates.yaml"],
    "rollout-template-ref.yaml": [],
}
SUPPORT = {"getting-started-basic-service.yaml", "analysis-templates.yaml", "cluster-analysis-templates.yaml"}
ROUTED = "traffic routing (nginx/Istio) is the next issue's"
SKIPPED = {
    "getting-started-istio-gateway.yaml": ROUTED,
    "getting-started-istio-multipleVirtualsvc.yaml": ROUTED,
    "getting-started-istio-rollout.yaml": ROUTED,
    "getting-started-istio-services.yaml": ROUTED,
    "getting-started-istio-virtualsvc.yaml": ROUTED,
    "getting-started-nginx-ingress.yaml": ROUTED,
    "getting-started-nginx-rollout.yaml": ROUTED,
    "getting-started-nginx-services.yaml": ROUTED,
    "istio-istio-mirror.yaml": ROUTED,
    "istio-istio-subset-split.yaml": ROUTED,
    "rollout-secret.yaml": "its web metric fetches a URL on the public internet (secret args are covered by the "
    "AnalysisRun integration tests against a 127.0.0.1 server)",
}


def test_every_corpus_file_is_run_supporting_or_skipped_with_a_reason() -> None:
    files = {p.name for p in ARGO.glob("*.yaml")}
    accounted = set(RUN) | SUPPORT | set(SKIPPED)
    assert files == accounted, {"unaccounted": files - accounted, "missing": accounted - files}


@pytest.mark.parametrize("example", sorted(RUN))
def test_corpus_rollout_runs_to_healthy(
    kube: Kube, namespace: str, controller: ControllerProcess, example: str
) -> None:
    for support in RUN[example]:
        docs = rollouts_example(support)
        namespaced = [d for d in docs if not d["kind"].startswith("Cluster")]
        if namespaced:
            apply(kube, namespace, *namespaced)
        for cluster_wide in (d for d in docs if d["kind"].startswith("Cluster")):
            apply(kube, None, cluster_wide)
    docs = rollouts_example(example)
    apply(kube, namespace, *docs)
    (rollout,) = [d for d in docs if d["kind"] == "Rollout"]
    name = rollout["metadata"]["name"]
    first = wait_healthy(kube, namespace, name, timeout=40)
    blue = str(first["stableRS"])

    strategy = rollout["spec"]["strategy"]
    ref = rollout["spec"].get("workloadRef")
    if ref:  # the template lives in the Deployment: that is what a user edits
        image = "rollouts-demo=argoproj/rollouts-demo:green"
        kube.kubectl("set", "image", f"deployment/{ref['name']}", image, f"--namespace={namespace}")
        new = str(
            wait_for(
                lambda: (hash_now := status(kube, namespace, name).get("currentPodHash")) != blue and hash_now,
                timeout=20,
                what="the Deployment's edit to start an update",
            )
        )
    else:
        new = set_image(kube, namespace, name, "argoproj/rollouts-demo:green", container="rollouts-demo")
    assert new != blue
    promotions = 0

    def healthy_on_the_new_version() -> bool:
        nonlocal promotions
        current = status(kube, namespace, name)
        if current.get("phase") == "Healthy" and current.get("stableRS") == new:
            return True
        assert current.get("phase") != "Degraded", current
        if current.get("phase") == "Paused" and current.get("pauseConditions"):
            kubectl_rollouts(kube, namespace, "promote", name)
            promotions += 1
        return False

    try:
        wait_for(healthy_on_the_new_version, timeout=60, interval=0.3, what=f"{example} to reach Healthy on green")
    except AssertionError as error:
        raise AssertionError(
            f"{error} after {promotions} promotions; status: {status(kube, namespace, name)}"
        ) from None
    final = wait_healthy(kube, namespace, name)
    assert final["currentPodHash"] == new
    if "blueGreen" in strategy:
        assert service_selector(kube, namespace, strategy["blueGreen"]["activeService"])[HASH_LABEL] == new
        assert promotions >= 1  # autoPromotionEnabled: false waits for a promote
    steps = (strategy.get("canary") or {}).get("steps") or []
    if any("pause" in step and not step["pause"] for step in steps):
        assert promotions >= 1  # an untimed pause only ends with a promote

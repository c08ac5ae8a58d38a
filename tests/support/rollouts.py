"""Rollouts for the planner tests: bodies, parsed specs, and the simulated cluster they are reconciled in.

Pure: :class:`~rollouts.core.simulate.SimCluster` stands in for the cluster, time only moves when a test advances it.
(Rollouts on the real cluster are :mod:`tests.support.cluster_rollouts`.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rollouts.core import Plan, RolloutSpec, parse_rollout
from rollouts.core.simulate import SimCluster

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rollout(
    *,
    image: str = "v1",
    replicas: int = 10,
    canary: dict[str, Any] | None = None,
    blue_green: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    strategy = {"blueGreen": blue_green} if blue_green is not None else {"canary": canary or {}}
    return {
        "metadata": {"name": "app", "namespace": "default", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            "strategy": strategy,
            **spec,
        },
    }


def canary_spec(image: str = "v1", *, steps: list[dict[str, Any]] | None = None, **options: Any) -> RolloutSpec:
    spec_fields = {k: options.pop(k) for k in list(options) if k in SPEC_FIELDS}
    canary = {"canaryService": "canary", "stableService": "stable", "steps": steps or [], **options}
    return parse_rollout(rollout(image=image, canary=canary, **spec_fields))


def blue_green_spec(image: str = "v1", **options: Any) -> RolloutSpec:
    spec_fields = {k: options.pop(k) for k in list(options) if k in SPEC_FIELDS}
    blue_green = {"activeService": "active", "previewService": "preview", **options}
    return parse_rollout(rollout(image=image, blue_green=blue_green, **spec_fields))


SPEC_FIELDS = {
    "replicas",
    "paused",
    "progressDeadlineSeconds",
    "progressDeadlineAbort",
    "restartAt",
    "revisionHistoryLimit",
    "rollbackWindow",
}


def pod_delays(delays: Sequence[float]) -> Callable[[str], float]:
    """A world where pod ``<name>-<n>`` takes ``delays[n % len(delays)]`` seconds to become available."""
    return lambda name: delays[int(name.rsplit("-", 1)[1]) % len(delays)]


def operate(sim: SimCluster, command: str) -> bool:
    """Do what ``kubectl rollouts <command>`` asks of the simulated Rollout (promote, abort, retry, promoteFull);
    False for any other command, which the caller handles (a new template, a rollback) or ignores."""
    commands = {"promote": sim.promote, "abort": sim.abort, "retry": sim.retry, "promoteFull": sim.promote_full}
    if command not in commands:
        return False
    commands[command]()
    return True


def cluster(
    *, delay: float = 0.0, services: tuple[str, ...] = ("canary", "stable", "active", "preview"), **kw: Any
) -> SimCluster:
    return SimCluster(now=T0, services=services, pod_delay=lambda _: delay, **kw)


def settle(
    sim: SimCluster,
    spec: RolloutSpec,
    *,
    ticks: int = 60,
    step: float = 1.0,
    until: Callable[[Plan], bool] | None = None,
) -> Plan:
    """Reconcile and advance time until ``until`` holds for a plan (default: Healthy, Paused or Degraded and the
    plan changed nothing in the world: a plan may still restate the routing state), or ticks run out."""
    changed = True

    def quiet(plan: Plan) -> bool:
        return plan.status["phase"] in {"Healthy", "Paused", "Degraded"} and not changed

    done = until or quiet
    before = sim.snapshot()
    last = sim.reconcile(spec)
    changed = sim.snapshot() != before
    for _ in range(ticks):
        if done(last):
            return last
        sim.advance(step)
        before = sim.snapshot()
        last = sim.reconcile(spec)
        changed = sim.snapshot() != before
    return last


def deployed(spec: RolloutSpec, **kw: Any) -> SimCluster:
    """A cluster where ``spec`` has been deployed and is Healthy."""
    sim = cluster(**kw)
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy", final
    return sim

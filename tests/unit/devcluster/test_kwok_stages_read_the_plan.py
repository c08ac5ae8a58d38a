"""The KWOK stages and the plan agree: every plan field a stage reads is one the planner writes, and no pod stage
acts on a pod before its plan is there (pods without a plan only get deleted)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.devcluster.podsim.plan import PLAN_ANNOTATION, ContainerPlan, Fate, PodPlan, Problem

STAGES = Path(__file__).resolve().parents[3] / "rollouts" / "devcluster" / "kwok-stages.yaml"
_PLAN_FIELD = re.compile(r"\$(?:p|plan)\.([A-Za-z]+)")
_CONTAINER_FIELD = re.compile(r"\$c\.([A-Za-z]+)")


def pod_stages() -> list[dict[str, Any]]:
    stages = [doc for doc in yaml.safe_load_all(STAGES.read_text()) if doc]
    return [s for s in stages if s["spec"]["resourceRef"]["kind"] == "Pod"]


def sample_plans() -> list[PodPlan]:
    return [
        PodPlan(fate=Fate.RUN, containers=(ContainerPlan(name="c"),)),
        PodPlan(fate=Fate.START_ERROR, containers=(ContainerPlan(name="c", problem=Problem.START, message="m"),)),
    ]


@pytest.mark.parametrize("stage", pod_stages(), ids=lambda s: s["metadata"]["name"])
def test_every_plan_field_a_stage_reads_is_written(stage: dict[str, Any]) -> None:
    text = yaml.safe_dump(stage)
    written = set().union(*(plan.as_json() for plan in sample_plans()))
    container_fields = set().union(*(c.as_json() for plan in sample_plans() for c in plan.containers))
    assert set(_PLAN_FIELD.findall(text)) <= written
    assert set(_CONTAINER_FIELD.findall(text)) <= container_fields


@pytest.mark.parametrize("stage", pod_stages(), ids=lambda s: s["metadata"]["name"])
def test_only_deletion_acts_on_a_pod_without_a_plan(stage: dict[str, Any]) -> None:
    expressions = stage["spec"]["selector"]["matchExpressions"]
    if stage["spec"]["next"].get("delete"):
        assert {"key": ".metadata.deletionTimestamp", "operator": "Exists"} in expressions
        return
    assert {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"} in expressions
    starts = any(e["key"] == ".status.containerStatuses" and e["operator"] == "DoesNotExist" for e in expressions)
    if starts:  # the first move of a pod: it must select on the plan's fate
        assert any(PLAN_ANNOTATION in e["key"] and ".fate" in e["key"] for e in expressions), expressions
    # Later stages select on container states only the plan-driven stages write.


def test_the_fates_the_stages_start_on_are_the_planners() -> None:
    selected: set[str] = set()
    for stage in pod_stages():
        for expression in stage["spec"]["selector"]["matchExpressions"]:
            if expression["key"].endswith("$p.fate"):
                selected.update(expression["values"])
    assert selected == {str(fate) for fate in Fate}


def test_every_field_the_planner_writes_is_read_by_a_stage_but_the_notes() -> None:
    text = STAGES.read_text()
    written = set().union(*(plan.as_json() for plan in sample_plans()))
    container_fields = set().union(*(c.as_json() for plan in sample_plans() for c in plan.containers))
    assert set(_PLAN_FIELD.findall(text)) == written - {"v", "why"}  # the version and the reasons are for people
    assert set(_CONTAINER_FIELD.findall(text)) == container_fields

"""Hostile manifests against the real API server with the controller running (issue 13, section 3).

Hypothesis builds Rollouts and Workflows from a valid one with one part replaced by something hostile (a wrong type,
a huge number, deep nesting, unicode, a 1 MiB string, an unknown field, a missing reference) and creates each. Either
the API server refuses it, naming a field path, or it is stored and the controller answers it (a status naming the
field for what it refuses, progress otherwise); the controller never crashes or restarts, and a valid Rollout
created after all of them still goes Healthy. The number of cases is printed (``pytest -s``).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client import ApiException

from tests.support.analysis_manifests import job_template
from tests.support.cluster import ControllerProcess, Kube, apply, create_custom, delete_custom, get_custom, wait_for
from tests.support.cluster_rollouts import rollout, wait_healthy
from tests.support.cluster_workflows import workflow

CASES = 30  # per kind; CI replays the same derivation (the "ci" profile derandomizes)
FIELD_PATH = re.compile(r"\b(spec|metadata)(\.|\[|\b)")
MIB = 1024 * 1024

STEPS = [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"analysis": {"templates": [{"templateName": "t"}]}}]
ROLLOUT = rollout("base", replicas=2, strategy={"canary": {"steps": STEPS, "maxSurge": 1}})
WORKFLOW = workflow("base", """
    spec:
      entrypoint: main
      templates:
      - name: main
        dag:
          tasks:
          - {name: a, template: wait}
          - {name: b, template: wait, dependencies: [a]}
      - name: wait
        suspend: {duration: "1s"}
""")  # fmt: skip

_names = itertools.count()
OUTCOMES: dict[str, int] = {}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place under ``spec`` a value sits (dict keys and list indexes)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = {f"n{level}": value} if level % 2 else [value]
    return value


HOSTILE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=40),  # any unicode, control characters and surrogates' neighbours included
    st.just("x" * MIB),
    st.integers(min_value=50, max_value=400).map(_nested),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(min_size=1, max_size=10), st.integers(), max_size=3),
    st.just("missing-template"),
)


@st.composite
def hostile(draw: st.DrawFn, base: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``base`` with one value under ``spec`` replaced (or an unknown field added); and what was done."""
    doc = copy.deepcopy(base)
    paths = sorted(_paths(doc["spec"], ("spec",)), key=repr)
    path = draw(st.sampled_from(paths))
    value = draw(HOSTILE)
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        parent[f"unknownField{draw(st.integers(0, 9))}"] = value
        what = f"unknown field beside {'.'.join(map(str, path))}"
    else:
        parent[path[-1]] = value
        what = f"{'.'.join(map(str, path))} = {json.dumps(value)[:60]}"
    doc["metadata"] = {"name": f"fuzz-{next(_names)}"}
    return doc, what


def _answered(kube: Kube, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    """The object once the controller has answered it (a status of its generation), else None."""
    obj = get_custom(kube, namespace, plural, name)
    status = obj.get("status") or {}
    if plural == "workflows":
        return obj if status.get("phase") else None
    return obj if str(status.get("observedGeneration") or "") == str(obj["metadata"]["generation"]) else None


def _create(kube: Kube, namespace: str, plural: str, doc: dict[str, Any]) -> ApiException | None:
    try:
        create_custom(kube, namespace, plural, doc)
    except ApiException as error:
        return error
    return None


def _try(served: tuple[Kube, str, ControllerProcess], plural: str, case: tuple[dict[str, Any], str]) -> None:
    kube, namespace, controller = served
    doc, what = case
    name = doc["metadata"]["name"]
    refused = _create(kube, namespace, plural, doc)
    if refused is not None:
        body = str(refused.body or "")
        assert refused.status in {400, 413, 422}, (what, refused.status, body[:500])
        if refused.status == 422:  # a schema or CEL refusal names the field
            assert FIELD_PATH.search(body), (what, body[:500])
        OUTCOMES["refused by the API server"] = OUTCOMES.get("refused by the API server", 0) + 1
        return
    try:
        obj = wait_for(lambda: _answered(kube, namespace, plural, name), timeout=30, what=f"an answer to {what}")
        conditions = (obj.get("status") or {}).get("conditions") or []
        invalid = [c for c in conditions if c.get("type") == "InvalidSpec" and c.get("status") == "True"]
        message = str((obj.get("status") or {}).get("message") or "")
        if invalid:
            assert FIELD_PATH.search(str(invalid[0].get("message"))), (what, invalid[0])
            outcome = "stored, InvalidSpec naming the field"
        elif plural == "workflows" and obj["status"]["phase"] == "Error":
            assert FIELD_PATH.search(message) or "template" in message, (what, message)
            outcome = "stored, Error naming the field"
        else:
            outcome = "stored and served"
        OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1
    finally:
        delete_custom(kube, namespace, plural, name)
    assert controller.process is not None
    assert controller.process.poll() is None, controller.output()[-3000:]


@pytest.fixture
def served(kube: Kube, namespace: str, controller: ControllerProcess) -> Iterator[tuple[Kube, str, ControllerProcess]]:
    """One controller for all of a test's cases; once they are done, the same process still serves a valid Rollout."""
    OUTCOMES.clear()
    apply(kube, namespace, job_template("t"))  # the template the base Rollout's analysis step names
    yield kube, namespace, controller
    print(f"\nhostile manifests: {sum(OUTCOMES.values())} cases: {OUTCOMES}")
    apply(kube, namespace, rollout("valid", replicas=2, strategy={"canary": {"steps": [{"setWeight": 50}]}}))
    wait_healthy(kube, namespace, "valid", timeout=60)
    assert controller.process is not None
    assert controller.process.poll() is None, controller.output()[-3000:]


FUZZ = settings(max_examples=CASES, suppress_health_check=[HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)  # fmt: skip


@FUZZ
@given(case=hostile(ROLLOUT))
def test_hostile_rollouts(served: tuple[Kube, str, ControllerProcess], case: tuple[dict[str, Any], str]) -> None:
    _try(served, "rollouts", case)


@FUZZ
@given(case=hostile(WORKFLOW))
def test_hostile_workflows(served: tuple[Kube, str, ControllerProcess], case: tuple[dict[str, Any], str]) -> None:
    _try(served, "workflows", case)

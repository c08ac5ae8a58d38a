"""The pod planner process: one guarded write per pod whose plan is missing or stale, none otherwise; refusals and
its own bugs are reported on the pod, never swallowed; the watch resumes where it was and lists again when told."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from rollouts.devcluster.podsim import planner as planner_module
from rollouts.devcluster.podsim.plan import PLAN_ANNOTATION, plan_pod
from rollouts.devcluster.podsim.planner import Planner

SERVER = "https://127.0.0.1:6443"


@dataclass
class Answer:
    status_code: int = 200
    body: Any = None
    lines: list[bytes] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        return self.body

    def raise_for_status(self) -> None:
        if not self.ok:
            raise requests.HTTPError(f"HTTP {self.status_code}")

    def iter_lines(self) -> Iterator[bytes]:
        yield from self.lines

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@dataclass
class FakeApi:
    """Records every request; answers GETs from a queue, PATCHes and POSTs with ``write_status``."""

    gets: list[Answer] = field(default_factory=list)
    write_status: int = 200
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def get(self, url: str, **kwargs: Any) -> Answer:
        self.calls.append(("GET", url, kwargs.get("params")))
        return self.gets.pop(0)

    def patch(self, url: str, *, data: str, **_: Any) -> Answer:
        self.calls.append(("PATCH", url, json.loads(data)))
        return Answer(self.write_status)

    def post(self, url: str, *, json: Any, **_: Any) -> Answer:
        self.calls.append(("POST", url, json))
        return Answer(201)

    def writes(self) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] != "GET"]


def a_pod(
    name: str = "p", uid: str = "uid-1", annotations: dict[str, str] | None = None, **status: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "7"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3"]}]},
        "status": status,
    }


def make_planner(api: FakeApi) -> Planner:
    return Planner(server=SERVER, http=api)  # type: ignore[arg-type]


def test_a_pod_without_a_plan_gets_one_guarded_by_its_uid() -> None:
    api = FakeApi()
    make_planner(api).reconcile(a_pod())
    ((method, url, body),) = api.writes()
    assert (method, url) == ("PATCH", f"{SERVER}/api/v1/namespaces/ns/pods/p")
    assert body["metadata"]["uid"] == "uid-1"
    assert body["metadata"]["annotations"][PLAN_ANNOTATION] == plan_pod(a_pod()).annotation()


def test_a_pod_whose_plan_is_right_costs_no_write_and_neither_does_an_event_that_trails_the_write() -> None:
    api = FakeApi()
    planner = make_planner(api)
    planner.reconcile(a_pod())
    planner.reconcile(a_pod())  # the watch still shows the pod as it was before the write
    planner.reconcile(a_pod(annotations={PLAN_ANNOTATION: plan_pod(a_pod()).annotation()}))
    assert len(api.writes()) == 1
    assert planner.patches == 1


def test_a_stale_plan_is_rewritten() -> None:
    api = FakeApi()
    make_planner(api).reconcile(a_pod(annotations={PLAN_ANNOTATION: '{"v":0}'}))
    assert len(api.writes()) == 1


@pytest.mark.parametrize(
    "pod",
    [
        a_pod(phase="Succeeded"),
        a_pod(phase="Failed"),
        {**a_pod(), "metadata": {**a_pod()["metadata"], "deletionTimestamp": "x"}},
    ],
)
def test_finished_and_deleting_pods_are_left_alone(pod: dict[str, Any]) -> None:
    api = FakeApi()
    make_planner(api).reconcile(pod)
    assert api.writes() == []


@pytest.mark.parametrize("status", [404, 409, 422])
def test_a_pod_that_went_away_or_was_replaced_is_skipped(status: int) -> None:
    api = FakeApi(write_status=status)
    planner = make_planner(api)
    planner.reconcile(a_pod())
    assert planner.patches == 0


def test_a_refused_pod_gets_its_refusal_and_a_warning_event_that_names_the_fix() -> None:
    api = FakeApi()
    make_planner(api).reconcile(a_pod(annotations={"kwok.rollouts.dev/unready": "yes"}))
    (patch, event) = api.writes()
    assert json.loads(patch[2]["metadata"]["annotations"][PLAN_ANNOTATION])["fate"] == "refused"
    assert event[1] == f"{SERVER}/api/v1/namespaces/ns/events"
    assert event[2]["type"] == "Warning"
    assert event[2]["reason"] == "InvalidSimulation"
    assert 'kwok.rollouts.dev/unready: \'yes\' is neither "true" nor "false"' in event[2]["message"]
    assert event[2]["involvedObject"]["uid"] == "uid-1"


def test_a_bug_in_the_planning_core_is_reported_on_the_pod_and_does_not_stop_the_planner(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(planner_module, "plan_pod", broken)
    api = FakeApi()
    make_planner(api).reconcile(a_pod())
    (patch, event) = api.writes()
    refusal = json.loads(patch[2]["metadata"]["annotations"][PLAN_ANNOTATION])
    assert refusal["fate"] == "refused"
    assert "a bug of the local cluster" in refusal["error"]
    assert "ZeroDivisionError('boom')" in event[2]["message"]
    assert "planning pod ns/p failed" in caplog.text


def test_listing_plans_every_page_and_returns_where_to_watch_from() -> None:
    api = FakeApi(
        gets=[
            Answer(body={"metadata": {"continue": "next"}, "items": [a_pod("a", "u-a")]}),
            Answer(body={"metadata": {"resourceVersion": "42"}, "items": [a_pod("b", "u-b")]}),
        ]
    )
    assert make_planner(api).list_all() == "42"
    assert [call[2].get("continue") for call in api.calls if call[0] == "GET"] == [None, "next"]
    assert len(api.writes()) == 2


def test_the_watch_plans_added_and_modified_pods_forgets_deleted_ones_and_resumes_from_the_last_version() -> None:
    def line(kind: str, pod: dict[str, Any], version: str) -> bytes:
        pod["metadata"]["resourceVersion"] = version
        return json.dumps({"type": kind, "object": pod}).encode()

    api = FakeApi(
        gets=[
            Answer(
                lines=[
                    line("ADDED", a_pod("a", "u-a"), "10"),
                    b"",
                    line("BOOKMARK", {"metadata": {}}, "11"),
                    line("DELETED", a_pod("a", "u-a"), "12"),
                    line("MODIFIED", a_pod("a", "u-a2"), "13"),
                ]
            )
        ]
    )
    planner = make_planner(api)
    assert planner.watch("9") == "13"
    assert api.calls[0][2]["resourceVersion"] == "9"
    assert [call[2]["metadata"]["uid"] for call in api.writes()] == ["u-a", "u-a2"]
    assert set(planner._written) == {"u-a2"}  # what it wrote for the deleted pod is forgotten


def test_an_expired_watch_asks_for_a_new_list() -> None:
    gone = json.dumps({"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}).encode()
    api = FakeApi(gets=[Answer(lines=[gone])])
    with pytest.raises(planner_module._WatchExpiredError):
        make_planner(api).watch("1")

"""Events aggregated as client-go's recorder does: a repeat patches the count of the same Event."""

from __future__ import annotations

import threading
from typing import Any, cast

from tests.support.fake_kube import FakeKube
from workflows.runtime import events
from workflows.runtime.events import EventRecorder
from workflows.runtime.kube import EVENTS

ROLLOUT = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web", "namespace": "ns", "uid": "u-1", "resourceVersion": "7"},
}


def _events(kube: FakeKube) -> list[dict[str, Any]]:
    return kube.list(EVENTS, "ns").items


def test_a_repeat_updates_the_count_a_different_message_is_another_event() -> None:
    kube = FakeKube()
    recorder = EventRecorder(cast("Any", kube), "rollouts-controller")
    for _ in range(3):
        recorder.record(ROLLOUT, type="Normal", reason="RolloutPaused", message="Rollout is paused")
    recorder.record(ROLLOUT, type="Normal", reason="RolloutPaused", message="Rollout is paused (manual)")
    stored = sorted(_events(kube), key=lambda e: e["message"])
    assert [(e["message"], e["count"]) for e in stored] == [
        ("Rollout is paused", 3),
        ("Rollout is paused (manual)", 1),
    ]
    first = stored[0]
    assert first["involvedObject"] == {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "name": "web",
        "namespace": "ns",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert first["source"] == {"component": "rollouts-controller"}
    assert (recorder.created, recorder.aggregated) == (2, 2)


def test_an_event_deleted_meanwhile_or_outside_the_window_is_created_afresh(monkeypatch: Any) -> None:
    kube = FakeKube()
    recorder = EventRecorder(cast("Any", kube), "rollouts-controller")
    recorder.record(ROLLOUT, type="Warning", reason="X", message="m")
    del kube.objects[kube._slot(EVENTS, _events(kube)[0]["metadata"]["name"], "ns")]  # expired
    recorder.record(ROLLOUT, type="Warning", reason="X", message="m")
    assert [e["count"] for e in _events(kube)] == [1]
    monkeypatch.setattr(events, "AGGREGATION_SECONDS", -1.0)
    recorder.record(ROLLOUT, type="Warning", reason="X", message="n")
    recorder.record(ROLLOUT, type="Warning", reason="X", message="n")
    assert sorted(e["count"] for e in _events(kube)) == [1, 1, 1]


def test_a_long_message_is_cut_to_what_the_api_server_keeps() -> None:
    kube = FakeKube()
    EventRecorder(cast("Any", kube), "c").record(ROLLOUT, type="Normal", reason="R", message="x" * 5000)
    assert len(_events(kube)[0]["message"]) == events.MAX_MESSAGE


def test_post_only_queues_and_one_thread_posts_in_order() -> None:
    kube = FakeKube()
    recorder = EventRecorder(cast("Any", kube), "c")
    for index in range(5):
        recorder.post(ROLLOUT, type="Normal", reason=f"R{index}", message="m")
    assert recorder.flush()
    assert [e["reason"] for e in sorted(_events(kube), key=lambda e: e["metadata"]["name"])] == [
        f"R{index}" for index in range(5)
    ]


def test_a_full_queue_drops_events_instead_of_blocking_a_reconcile() -> None:
    kube = FakeKube()
    recorder = EventRecorder(cast("Any", kube), "c", queue_size=1)
    gate = threading.Event()
    original = recorder.record

    def slow(*args: Any, **kwargs: Any) -> None:
        gate.wait(5)
        original(*args, **kwargs)

    recorder.record = slow  # type: ignore[method-assign]
    for index in range(4):  # the first is taken by the poster (waiting on the gate), the second queued, two dropped
        recorder.post(ROLLOUT, type="Normal", reason=f"R{index}", message="m")
        if index == 0:
            while recorder._queue.qsize():  # the poster has taken it
                pass
    assert recorder.dropped == 2
    gate.set()
    assert recorder.flush()
    assert len(_events(kube)) == 2

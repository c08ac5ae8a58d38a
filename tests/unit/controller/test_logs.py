"""``--log-format json``: one JSON object per line, with the fields of the object a line is about (a Rollout's
namespace, name and step; an AnalysisRun; kopf's own per-object lines), and nothing a caller attached by accident."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from rollouts.controller.logs import JsonFormatter, configure_logging, rollout_context, rollout_fields, set_step
from rollouts.controller.metrics import ControllerMetrics, exposition
from rollouts.controller.rollouts import Reconciler
from tests.support.fake_kube import FakeKube
from tests.support.rollouts import rollout
from tests.support.workflows import dag, leaf, plan_of, workflow
from workflows import Executor, ExecutorConfig, NodeContext, NodeResult, RunnerRegistry, logfields


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, formatted by the JSON formatter (at DEBUG, on the root logger)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_time_level_logger_and_message(lines: io.StringIO) -> None:
    logging.getLogger("rollouts.test").warning("ten %s", "replicas")
    [line] = _parsed(lines)
    assert line["level"] == "warning"
    assert line["logger"] == "rollouts.test"
    assert line["message"] == "ten replicas"
    assert line["time"].endswith("+00:00")  # RFC 3339, UTC
    assert set(line) == {"time", "level", "logger", "message"}


def test_lines_inside_a_rollout_context_carry_namespace_rollout_and_step(lines: io.StringIO) -> None:
    log = logging.getLogger("rollouts.test")
    with rollout_context("shop", "checkout"):
        log.info("before the step is known")
        set_step(2)
        log.info("at step 2")
    log.info("after")
    first, second, after = _parsed(lines)
    assert (first["namespace"], first["rollout"]) == ("shop", "checkout")
    assert "step" not in first
    assert second["step"] == 2
    assert "rollout" not in after
    set_step(3)  # outside a context: nothing to add to
    log.info("still nothing")
    assert "step" not in _parsed(lines)[-1]


def test_extra_names_the_object_and_nothing_else_is_written(lines: io.StringIO) -> None:
    logging.getLogger("rollouts.test").info(
        "retrying", extra={**rollout_fields("shop", "cart", step=1), "token": "s3cret", "body": {"password": "x"}}
    )
    [line] = _parsed(lines)
    assert (line["namespace"], line["rollout"], line["step"]) == ("shop", "cart", 1)
    assert "s3cret" not in lines.getvalue()
    assert "password" not in lines.getvalue()


def test_kopfs_per_object_lines_name_their_object(lines: io.StringIO) -> None:
    ref = {"apiVersion": "rollouts.dev/v1alpha1", "kind": "AnalysisRun", "name": "run-1", "namespace": "shop"}
    # kopf's "kopf.objects" logger also posts Events (from its settings); a plain logger sees the same record shape
    kopf = logging.getLogger("kopf.test")
    kopf.info("Handler succeeded.", extra={"k8s_ref": ref, "settings": object()})
    kopf.info("Something.", extra={"k8s_ref": {**ref, "kind": "ConfigMap", "name": "cm"}})
    run, other = _parsed(lines)
    assert (run["namespace"], run["analysisrun"]) == ("shop", "run-1")
    assert (other["object"], other["kind"]) == ("cm", "ConfigMap")


def _fail() -> None:
    raise ValueError("bad\nvalue")


def test_an_exception_is_one_field_of_one_line(lines: io.StringIO) -> None:
    try:
        _fail()
    except ValueError:
        logging.getLogger("rollouts.test").exception("reconcile failed")
    [line] = _parsed(lines)  # one line, however many lines the traceback has
    assert "ValueError: bad" in line["exception"]


def test_a_reconcile_logs_about_its_rollout_and_is_measured(lines: io.StringIO) -> None:
    kube = FakeKube()
    body = rollout(replicas=2, canary={"steps": [{"setWeight": 50}, {"pause": {}}]})
    # observedGeneration current: no DestinationRules to release (a request the fake does not answer)
    body["metadata"]["resourceVersion"] = "1"
    kube.add({**body, "apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout", "status": {"observedGeneration": "1"}})
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    reconciler = Reconciler(kube=cast("Any", kube), metrics=metrics)
    try:
        reconciler._reconcile_and_report(("default", "app"))
    finally:
        reconciler.pool.shutdown()
    mine = [line for line in _parsed(lines) if line["logger"].startswith("rollouts.")]
    assert mine, "the reconcile logged nothing"
    assert all((line.get("namespace"), line.get("rollout")) == ("default", "app") for line in mine)
    assert metrics.rollouts.histogram.count("default", "app") == 1
    events = [
        sample.labels["reason"]
        for family in text_string_to_metric_families(exposition(registry).decode())
        for sample in family.samples
        if sample.name == "rollout_events_total" and sample.labels["name"] == "app"
    ]
    assert events, "the plan's Events were not counted"


class _Logging:
    """A step runner that logs from the loop and from a thread of the executor's pool."""

    uses_slot = True

    async def run(self, node: NodeContext) -> NodeResult:
        logging.getLogger("workflows.test").info("on the loop: %s", node.display_name)
        await node.run_blocking(logging.getLogger("workflows.test").info, "in a thread: %s", node.display_name)
        return NodeResult.succeeded()


async def test_a_runs_steps_log_in_the_context_of_the_code_that_submitted_it(lines: io.StringIO) -> None:
    # one slot: the second run's steps start when the first run's end, from the first run's tasks
    executor = Executor(
        registry=RunnerRegistry({"container": _Logging()}), config=ExecutorConfig(max_running=1, status_interval=0)
    )
    tasks = [{"name": "a", "template": "work"}, {"name": "b", "template": "work", "depends": "a"}]
    try:
        with logfields.about(namespace="shop", analysisrun="run-1"):
            first = executor.submit(plan_of(workflow([dag("main", tasks), leaf()])))
        second = executor.submit(plan_of(workflow([dag("main", tasks), leaf()])))  # submitted outside any context
        await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), timeout=10)
    finally:
        await executor.close()
    steps = [line for line in _parsed(lines) if line["logger"] == "workflows.test"]
    assert len(steps) == 8
    named = [line for line in steps if line.get("analysisrun") == "run-1"]
    # the first run's four lines (b started from a's completion, whatever task woke the executor), not the second's
    assert len(named) == 4
    assert all(line["namespace"] == "shop" for line in named)


def test_configure_logging_replaces_the_handler_and_refuses_unknown_formats() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        configure_logging(log_format="json")
        configure_logging(log_format="json", verbose=True)
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.DEBUG
        configure_logging(log_format="text")
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
        with pytest.raises(ValueError, match="log format"):
            configure_logging(log_format=cast("Any", "yaml"))
    finally:
        root.handlers[:] = saved
        root.setLevel(level)

"""A pod's plan: how the simulated kubelet runs it, decided from its spec and steering annotations alone."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.devcluster.podsim.plan import (
    PLAN_ANNOTATION,
    Fate,
    PodPlan,
    Problem,
    Refusal,
    go_duration,
    plan_pod,
    probe_pass_time,
)
from workflows.model.durations import parse_duration

JOB_OWNER = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u", "controller": True}


def pod(
    *containers: dict[str, Any],
    annotations: dict[str, str] | None = None,
    job: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "p", "namespace": "ns", "uid": "uid-1"}
    if annotations:
        metadata["annotations"] = annotations
    if job:
        metadata["ownerReferences"] = [JOB_OWNER]
        spec.setdefault("restartPolicy", "Never")
    return {"metadata": metadata, "spec": {"containers": list(containers or [container()]), **spec}}


def container(name: str = "c", image: str = "busybox", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **fields}


def planned(manifest: dict[str, Any]) -> PodPlan:
    plan = plan_pod(manifest)
    assert isinstance(plan, PodPlan), plan
    return plan


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


# -- what runs, and how it ends -------------------------------------------------------------------------------------


def test_a_plain_pod_runs_and_is_ready_at_once_as_before() -> None:
    plan = planned(pod(container(image="nginx")))
    assert plan.fate is Fate.RUN
    assert (plan.ready_at_start, plan.exit_after, plan.stop_after) == (True, None, timedelta(0))


def test_a_job_pod_with_an_unknown_program_completes_at_once_as_before() -> None:
    plan = planned(pod(container(command=["/app/migrate"]), job=True))
    assert (plan.exit_after, plan.containers[0].exit_code, plan.exit_phase) == (timedelta(0), 0, "Succeeded")


@pytest.mark.parametrize(
    ("script", "after", "code", "phase"),
    [("sleep 2 && exit 1", 2, 1, "Failed"), ("sleep 1 && exit 0", 1, 0, "Succeeded"), ("exit 3", 0, 3, "Failed")],
)
def test_a_job_pod_runs_its_script_and_ends_with_its_exit_code(script: str, after: int, code: int, phase: str) -> None:
    plan = planned(pod(container(command=["sh", "-c", script]), job=True))
    assert plan.exit_after == seconds(after)
    assert plan.containers[0].exit_code == code
    assert plan.exit_phase == phase
    body = plan.as_json()
    assert body["containers"]["c"] == {
        "problem": "",
        "message": "",
        "exitCode": code,
        "exitReason": "Completed" if code == 0 else "Error",
    }
    assert parse_duration(body["exitAfter"]) == seconds(after)


@pytest.mark.parametrize(
    ("policy", "code", "phase"),
    [("Always", 0, "Running"), ("Always", 1, "Running"), ("OnFailure", 0, "Succeeded"), ("OnFailure", 1, "Running"),
     ("Never", 0, "Succeeded"), ("Never", 1, "Failed")],
)  # fmt: skip
def test_the_phase_after_the_containers_end_follows_the_restart_policy(policy: str, code: int, phase: str) -> None:
    plan = planned(pod(container(command=["sh", "-c", f"sleep 1; exit {code}"]), restartPolicy=policy))
    assert plan.exit_phase == phase


def test_a_long_lived_pod_whose_program_ends_ends_too() -> None:
    plan = planned(pod(container(command=["sleep", "30"])))
    assert (plan.exit_after, plan.exit_phase) == (seconds(30), "Running")  # and then restarts: CrashLoopBackOff


def test_containers_end_together_at_the_longest_program_each_with_its_code() -> None:
    plan = planned(
        pod(container("a", command=["sleep", "1"]), container("b", command=["sh", "-c", "sleep 3; exit 4"]), job=True)
    )
    assert plan.exit_after == seconds(3)
    assert [(c.name, c.exit_code) for c in plan.containers] == [("a", 0), ("b", 4)]
    assert plan.exit_phase == "Failed"


def test_one_container_that_runs_for_ever_keeps_the_pod_running() -> None:
    plan = planned(pod(container("a", command=["sleep", "1"]), container("b", image="nginx")))
    assert plan.exit_after is None


# -- failures before anything runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_a_command_that_cannot_exist_fails_to_start(policy: str) -> None:
    plan = planned(pod(container(command=["/bad-command"]), restartPolicy=policy))
    assert plan.fate is Fate.START_ERROR
    assert not plan.ready
    (only,) = plan.containers
    assert only.problem is Problem.START
    assert 'exec: "/bad-command": stat /bad-command: no such file or directory' in only.message
    assert only.as_json()["exitCode"] == 128
    assert only.as_json()["exitReason"] == "StartError"
    assert plan.start_error_phase == ("Failed" if policy == "Never" else "Running")


def test_a_pod_with_one_good_container_is_not_failed_by_its_bad_one() -> None:
    plan = planned(
        pod(container("good", image="nginx"), container("bad", command=["nonexistent"]), restartPolicy="Never")
    )
    assert plan.fate is Fate.START_ERROR
    assert [c.problem for c in plan.containers] == [Problem.NONE, Problem.START]
    assert "executable file not found in $PATH" in plan.containers[1].message
    assert plan.start_error_phase == "Running"


def test_an_image_that_cannot_be_pulled_keeps_the_pod_pending_and_wins_over_the_command() -> None:
    plan = planned(pod(container(image="argoproj/rollouts-demo:does-not-exist", command=["/bad-command"])))
    assert plan.fate is Fate.IMAGE_ERROR
    assert not plan.ready
    assert plan.containers[0].problem is Problem.PULL


def test_an_image_reference_that_does_not_parse_is_an_invalid_image_name() -> None:
    plan = planned(pod(container("a", image="Nginx"), container("b", image="nginx")))
    assert [c.problem for c in plan.containers] == [Problem.INVALID_IMAGE, Problem.NONE]


# -- readiness ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probe", "ready_after"),
    [({"initialDelaySeconds": 5}, 10), ({"initialDelaySeconds": 5, "periodSeconds": 1}, 5),
     ({"initialDelaySeconds": 10, "periodSeconds": 10}, 10), ({}, 0), ({"periodSeconds": 3}, 0),
     ({"initialDelaySeconds": 1, "periodSeconds": 2, "successThreshold": 3}, 6)],
)  # fmt: skip
def test_probes_pass_on_the_kubelets_ticks(probe: dict[str, int], ready_after: int) -> None:
    assert probe_pass_time(probe) == seconds(ready_after)


@given(st.integers(0, 600), st.integers(1, 60), st.integers(1, 5))
def test_a_probe_passes_after_its_initial_delay_and_within_its_period_of_it(
    initial: int, period: int, successes: int
) -> None:
    passes = probe_pass_time({"initialDelaySeconds": initial, "periodSeconds": period, "successThreshold": successes})
    assert seconds(initial + (successes - 1) * period) <= passes < seconds(initial + successes * period)


def test_a_readiness_delay_makes_the_pod_ready_later() -> None:
    probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 3, "periodSeconds": 1}
    plan = planned(pod(container(image="nginx", readinessProbe=probe)))
    assert (plan.ready, plan.ready_at_start, plan.ready_after) == (True, False, seconds(3))
    assert plan.as_json()["readyAfter"] == "3s"


def test_the_startup_probe_comes_before_the_readiness_probe() -> None:
    startup = {"exec": {"command": ["true"]}, "initialDelaySeconds": 2, "periodSeconds": 1}
    readiness = {"tcpSocket": {"port": 80}, "initialDelaySeconds": 3, "periodSeconds": 1}
    plan = planned(pod(container(image="nginx", startupProbe=startup, readinessProbe=readiness)))
    assert plan.ready_after == seconds(5)


@pytest.mark.parametrize("command", [["false"], ["/bad-probe"], ["sleep", "5"], ["sh", "-c", "exit 2"]])
def test_a_readiness_probe_that_recognisably_fails_never_lets_the_pod_be_ready(command: list[str]) -> None:
    plan = planned(pod(container(image="nginx", readinessProbe={"exec": {"command": command}})))
    assert not plan.ready
    assert not plan.ready_at_start


def test_a_job_that_ends_before_its_probe_passes_is_never_ready() -> None:
    probe = {"exec": {"command": ["true"]}, "initialDelaySeconds": 5, "periodSeconds": 1}
    plan = planned(pod(container(command=["sleep", "2"], readinessProbe=probe), job=True))
    assert not plan.ready_before_exit


# -- stopping ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pre_stop", "grace", "stop_after"),
    [({"exec": {"command": ["sleep", "4"]}}, None, 4), ({"exec": {"command": ["sh", "-c", "sleep 5"]}}, 10, 5),
     ({"sleep": {"seconds": 7}}, None, 7), ({"exec": {"command": ["sleep", "60"]}}, 3, 3),
     ({"exec": {"command": ["sleep", "infinity"]}}, None, 30), ({"httpGet": {"path": "/stop", "port": 80}}, None, 0),
     ({"exec": {"command": ["/app/drain"]}}, None, 0)],
)  # fmt: skip
def test_deletion_waits_for_the_pre_stop_hook_within_the_grace_period(
    pre_stop: dict[str, Any], grace: int | None, stop_after: int
) -> None:
    extra = {} if grace is None else {"terminationGracePeriodSeconds": grace}
    plan = planned(pod(container(image="nginx", lifecycle={"preStop": pre_stop}), **extra))
    assert plan.stop_after == seconds(stop_after)
    assert plan.as_json()["stopAfterMs"] == stop_after * 1000


def test_containers_stop_in_parallel() -> None:
    plan = planned(
        pod(
            container("a", lifecycle={"preStop": {"sleep": {"seconds": 2}}}),
            container("b", lifecycle={"preStop": {"exec": {"command": ["sleep", "5"]}}}),
        )
    )
    assert plan.stop_after == seconds(5)


def test_a_post_start_hook_delays_the_start() -> None:
    plan = planned(pod(container(image="nginx", lifecycle={"postStart": {"exec": {"command": ["sleep", "2"]}}})))
    assert plan.start_after == seconds(2)


# -- steering annotations ----------------------------------------------------------------------------------------------


def test_the_steering_annotations_keep_their_meaning() -> None:
    assert planned(pod(annotations={"kwok.rollouts.dev/ready-delay": "3s"})).start_after == seconds(3)
    assert not planned(pod(annotations={"kwok.rollouts.dev/unready": "true"})).ready
    assert planned(pod(annotations={"kwok.rollouts.dev/image-pull-error": "true"})).fate is Fate.IMAGE_ERROR
    job = planned(
        pod(annotations={"kwok.rollouts.dev/run-duration": "2s", "kwok.rollouts.dev/exit-code": "1"}, job=True)
    )
    assert (job.exit_after, job.containers[0].exit_code, job.exit_phase) == (seconds(2), 1, "Failed")


def test_an_annotation_wins_over_what_the_spec_says() -> None:
    job = pod(
        container(command=["sh", "-c", "sleep 9; exit 0"]), annotations={"kwok.rollouts.dev/exit-code": "2"}, job=True
    )
    assert (planned(job).exit_after, planned(job).containers[0].exit_code) == (seconds(9), 2)
    failing_probe = container(image="nginx", readinessProbe={"exec": {"command": ["false"]}})
    assert planned(pod(failing_probe, annotations={"kwok.rollouts.dev/unready": "false"})).ready
    unpullable = container(image="nginx:bad")
    assert planned(pod(unpullable, annotations={"kwok.rollouts.dev/image-pull-error": "false"})).fate is Fate.RUN


def test_infer_false_turns_reading_the_spec_off() -> None:
    manifest = pod(
        container(image="nginx:bad", command=["/bad-command"], lifecycle={"preStop": {"sleep": {"seconds": 5}}}),
        annotations={"kwok.rollouts.dev/infer": "false"},
    )
    plan = planned(manifest)
    assert (plan.fate, plan.ready_at_start, plan.exit_after, plan.stop_after) == (Fate.RUN, True, None, timedelta(0))


@pytest.mark.parametrize(
    ("annotations", "says"),
    [({"kwok.rollouts.dev/ready-delay": "soon"}, "kwok.rollouts.dev/ready-delay: 'soon' is not a duration"),
     ({"kwok.rollouts.dev/unready": "yes"}, 'is neither "true" nor "false"'),
     ({"kwok.rollouts.dev/exit-code": "256"}, "not an exit code"),
     ({"kwok.rollouts.dev/exit-code": "-1"}, "not an exit code"),
     ({"kwok.rollouts.dev/ready-dealy": "3s"}, "kwok.rollouts.dev/ready-dealy: not a steering annotation")],
)  # fmt: skip
def test_a_wrong_steering_annotation_is_refused_with_the_fix(annotations: dict[str, str], says: str) -> None:
    refusal = plan_pod(pod(annotations=annotations))
    assert isinstance(refusal, Refusal)
    assert any(says in problem for problem in refusal.problems), refusal.problems
    assert json.loads(refusal.annotation())["fate"] == "refused"


# -- the annotation ----------------------------------------------------------------------------------------------------


def test_the_plan_of_a_pod_does_not_depend_on_the_plan_it_already_carries() -> None:
    manifest = pod(container(command=["sh", "-c", "sleep 2 && exit 1"]), job=True)
    first = planned(manifest).annotation()
    manifest["metadata"]["annotations"] = {PLAN_ANNOTATION: first}
    assert planned(manifest).annotation() == first


@given(st.integers(0, 10**12))
def test_durations_are_written_the_way_go_reads_them(microseconds: int) -> None:
    value = timedelta(microseconds=microseconds)
    assert parse_duration(go_duration(value)) == value


_IMAGES = st.sampled_from(["nginx", "nginx:bad", "Nginx", "demo:3.0-bad", "registry.invalid/x", "busybox:1.36"])
_COMMANDS = st.sampled_from(
    [None, ["sleep", "3"], ["sh", "-c", "sleep 1 && exit 2"], ["/bad-command"], ["/app/server"], ["sleep", "inf"]]
)
_PROBES = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"initialDelaySeconds": st.integers(0, 30), "periodSeconds": st.integers(1, 10)},
        optional={"exec": st.sampled_from([{"command": ["true"]}, {"command": ["false"]}])},
    ),
)
_CONTAINERS = st.builds(
    lambda name, image, command, probe, stop: {
        "name": name,
        "image": image,
        **({"command": command} if command else {}),
        **({"readinessProbe": probe} if probe is not None else {}),
        **({"lifecycle": {"preStop": {"sleep": {"seconds": stop}}}} if stop else {}),
    },
    st.sampled_from(["a", "b", "c"]),
    _IMAGES,
    _COMMANDS,
    _PROBES,
    st.integers(0, 40),
)


@given(
    st.lists(_CONTAINERS, min_size=1, max_size=3, unique_by=lambda c: c["name"]),
    st.sampled_from(["Always", "OnFailure", "Never"]),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 60)),
)
def test_every_pod_gets_a_consistent_plan(
    containers: list[dict[str, Any]], policy: str, job: bool, grace: int | None
) -> None:
    extra = {} if grace is None else {"terminationGracePeriodSeconds": grace}
    plan = planned(pod(*containers, job=job, restartPolicy=policy, **extra))
    body = json.loads(plan.annotation())
    assert set(body["containers"]) == {c["name"] for c in containers}
    assert plan.stop_after <= seconds(30 if grace is None else grace)
    problems = {c.problem for c in plan.containers}
    if plan.fate is Fate.RUN:
        assert problems == {Problem.NONE}
    else:
        assert not plan.ready
        assert problems - {Problem.NONE}
    if plan.fate is Fate.IMAGE_ERROR:
        assert problems <= {Problem.NONE, Problem.PULL, Problem.INVALID_IMAGE}
    if plan.ready_at_start:
        assert plan.ready_after == timedelta(0)
    for key in ("startAfter", "readyAfter"):
        parse_duration(body[key])

"""One measurement: a fresh cluster, the controller under test, Argo's e2e binary suite by suite, the results.

The e2e binary runs once per suite (``-test.run '^TestXSuite$'``, ``-testify.m`` naming the selected tests), with
``-test.v=test2json`` piped through Go's ``test2json``, in the module copy's ``test/e2e`` (the fixtures are read
relative to it). Two watchdogs keep a run from hanging:
- the per-test bound: a test (or a suite's setup) running longer is cut short by killing the binary's process
  group; the test fails with that reason and the binary is started again for the tests after it;
- the run's bound: past it, what has not run is reported as not run.
``-test.timeout`` is set as a backstop behind both. Every child dies with the harness (``processes``).

A test that ran to a failure the applicability table does not excuse runs again, up to ``--reruns`` times, as
Argo's own CI reruns its failures (gotestsum ``--rerun-fails=5``): several tests race the controller and fail now
and then against Argo too. Passing on a rerun, it passes, its reason saying it is flaky and how it failed first.

Files of a run (``--work-dir``, by default ``~/.cache/rollouts/conformance/<time>/<controller>/``): the cluster's
state and component logs, ``controller.log``, per suite invocation the raw events (``e2e-<Suite>-<n>.jsonl``,
reruns ``e2e-<Suite>-rerun<k>-<n>.jsonl``) and their text (``.log``), and ``results.json`` (every result with its
duration).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from tools.conformance import applicability, controllers, processes
from tools.conformance.catalog import Suite, TestId, discover, expected_tests
from tools.conformance.controllers import ControllerStartError, RunningController
from tools.conformance.environment import Environment, fresh_cluster
from tools.conformance.events import Invocation, Status, exit_summary, failure_summary, parse_event
from tools.conformance.peer import Peer, test2json
from tools.conformance.results import FLAKY, Measurement, Outcome, TestResult, judge, not_applicable

__all__ = ["Options", "measure", "select_tests"]

_ISTIO_SUITES = {"Istio", "HeaderRouting", "MirrorRoute"}


@dataclass(frozen=True, kw_only=True)
class Options:
    suites: tuple[Suite, ...]
    run: re.Pattern[str] | None = None  # searched in "Suite/TestName"
    subset: tuple[TestId, ...] | None = None
    work_dir: Path
    test_timeout: float = 600.0  # the per-test bound, seconds
    run_timeout: float = 4 * 3600.0  # the bound of one controller's measurement, seconds
    wait_timeout: int = 90  # E2E_WAIT_TIMEOUT: how long each of the suite's waits lasts (Argo's default)
    reruns: int = 2  # a failed test runs again up to this often; passing then, it passes as flaky (Argo's CI: 5)
    instance_id: str = "conformance-e2e"
    admin: bool = True  # the controller runs as the cluster admin; False: as Argo's ClusterRole (least privilege)
    nodes: int = 2


def select_tests(options: Options, discovered: dict[str, tuple[str, ...]]) -> list[TestId]:
    """The tests this run measures, in run order: the suites' tests, narrowed by ``--subset`` and ``--run``."""
    tests = expected_tests(options.suites, discovered)
    if options.subset is not None:
        unknown = sorted(
            str(t) for t in set(options.subset) - set(tests) if t.suite in {s.name for s in options.suites}
        )
        if unknown:
            raise ValueError(f"the subset names tests the e2e sources do not have: {', '.join(unknown)}")
        tests = [t for t in tests if t in set(options.subset)]
    if options.run is not None:
        tests = [t for t in tests if options.run.search(str(t))]
    return tests


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")


def _print(controller: str, message: str) -> None:
    print(f"[{controller}] {message}", flush=True)


def measure(
    controller: str, peer: Peer, options: Options, *, describe: Callable[[str], str] | None = None
) -> Measurement:
    """Measure ``controller`` ("argo" or "ours") on a fresh cluster; never raises for a failing controller."""
    started, date = time.monotonic(), _now_text()
    deadline = started + options.run_timeout
    work = options.work_dir / controller
    work.mkdir(parents=True, exist_ok=True)
    tests = select_tests(options, discover(peer.e2e_sources()))
    results: dict[TestId, TestResult] = {}
    for test, rule in applicability.not_run(tests).items():
        results[test] = not_applicable(test, rule)
    to_run = [t for t in tests if t not in results]
    istio = any(t.suite in _ISTIO_SUITES for t in to_run)
    note = ""
    description = controller
    suite_seconds: dict[str, float] = {}
    _print(controller, f"{len(tests)} tests selected, {len(to_run)} to run; files in {work}")
    with fresh_cluster(peer, work / "cluster", istio=istio, admin=options.admin, nodes=options.nodes) as environment:
        _print(controller, f"cluster ready in {environment.cluster.start_seconds:.1f} s: {environment.cluster.server}")
        spec = (
            controllers.argo(peer, environment, instance_id=options.instance_id)
            if controller == "argo"
            else controllers.ours(environment, instance_id=options.instance_id)
        )
        description = describe(spec.description) if describe else spec.description
        description += f"; as {environment.controller_identity}"
        notes = [spec.note] if spec.note else []
        try:
            running = controllers.start(spec, log=work / "controller.log")
        except ControllerStartError as error:
            first_line = str(error).splitlines()[0]
            last = [line for line in str(error).splitlines()[1:] if line.strip()]
            notes.append(f"the controller did not start: {first_line} {last[-1] if last else ''}".strip())
            _print(controller, f"the controller did not start: {error}")
            for test in to_run:
                results[test] = TestResult(
                    test=test, outcome=Outcome.FAILED, reason="not run: the controller did not start (see the note)"
                )
            running = None
        if running is not None:
            _print(controller, f"controller started (pid {running.process.pid}); log: {running.log}")
            session = _Session(
                peer=peer, environment=environment, controller=running, options=options, deadline=deadline, work=work
            )
            try:
                for suite in options.suites:
                    suite_tests = [t for t in to_run if t.suite == suite.name]
                    if suite_tests:
                        suite_started = time.monotonic()
                        results.update(session.run_suite(suite, suite_tests))
                        suite_seconds[suite.name] = time.monotonic() - suite_started
                        _print(controller, f"{suite.name}: done in {suite_seconds[suite.name] / 60:.1f} min")
            finally:
                code = running.stop()
                if code not in (0, None, -15, 143) and not notes:
                    notes.append(f"the controller exited with code {code} when stopped")
        note = "; ".join(notes)
    measurement = Measurement(
        controller=controller,
        description=description,
        date=date,
        seconds=time.monotonic() - started,
        results=tuple(results[t] for t in tests),
        note=note,
        suite_seconds=suite_seconds,
    )
    _write_results(work / "results.json", measurement)
    return measurement


def _write_results(path: Path, measurement: Measurement) -> None:
    rows = [
        {"test": str(r.test), "outcome": r.outcome.value, "reason": r.reason, "seconds": r.seconds}
        for r in measurement.results
    ]
    body = {
        "controller": measurement.controller,
        "description": measurement.description,
        "date": measurement.date,
        "seconds": round(measurement.seconds, 1),
        "note": measurement.note,
        "suite_seconds": {name: round(seconds, 1) for name, seconds in measurement.suite_seconds.items()},
        "results": rows,
    }
    path.write_text(json.dumps(body, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class _Session:
    """What the suite invocations of one measurement share."""

    peer: Peer
    environment: Environment
    controller: RunningController
    options: Options
    deadline: float
    work: Path

    def run_suite(self, suite: Suite, tests: Sequence[TestId]) -> dict[TestId, TestResult]:
        """Every test of ``suite`` in ``tests``, judged, with the failures run again (``Options.reruns``)."""
        results, failed = self._run_tests(suite, tests, stem=f"e2e-{suite.name}")
        for rerun in range(1, self.options.reruns + 1):
            if not failed or self._stop_reason():
                break
            _print(self.controller.spec.name, f"{suite.name}: running {len(failed)} failed test(s) again ({rerun})")
            again, failed = self._run_tests(suite, failed, stem=f"e2e-{suite.name}-rerun{rerun}")
            for test, result in again.items():
                if result.outcome is Outcome.PASSED:
                    first = results[test].reason
                    results[test] = replace(result, reason=f"{FLAKY}passed on rerun {rerun} after: {first}")
        return results

    def _run_tests(
        self, suite: Suite, tests: Sequence[TestId], *, stem: str
    ) -> tuple[dict[TestId, TestResult], list[TestId]]:
        """``tests`` judged, and those that ran to a failure (the ones worth running again); the binary is started
        again after a test is cut short."""
        results: dict[TestId, TestResult] = {}
        failed: list[TestId] = []
        remaining = list(tests)
        attempt = 0
        while remaining:
            stop_reason = self._stop_reason()
            if stop_reason:
                results.update({t: judge(t, None, not_run_reason=stop_reason, cut_reason="") for t in remaining})
                break
            attempt += 1
            ended = self._invoke(suite, remaining, self.work / f"{stem}-{attempt}")
            runs = ended.invocation.runs()
            for test, run in runs.items():
                if test in remaining:
                    result = results[test] = judge(test, run, not_run_reason="", cut_reason=ended.cut_reason())
                    if run.status is Status.UNFINISHED:  # the finished ones were printed as they finished
                        _print(self.controller.spec.name, f"{test} {result.outcome.value}: {result.reason}")
                    elif result.outcome is Outcome.FAILED:
                        failed.append(test)  # not the ones cut short: they would hold the run up again
            remaining = [t for t in remaining if t not in runs]
            if ended.cut is not None and runs:
                continue  # killed mid-suite: start the binary again for the tests after the one cut short
            reason = ended.why_not_run()
            results.update({t: judge(t, None, not_run_reason=reason, cut_reason="") for t in remaining})
            break
        return results, failed

    def clean_up_after(self, test: TestId) -> None:
        """Delete what a failed test left behind. The suite deletes a test's objects only when it passes, and a
        leftover that its own typed clients cannot decode (TestMalformedRollout's Rollout) breaks every later test
        of the binary; so a failure must not decide the tests after it."""
        command = [
            str(self.environment.kubectl),
            "delete",
            _E2E_KINDS,
            "--all-namespaces",
            f"--selector=e2e-test-name={test.name}",
            "--wait=false",
            "--ignore-not-found",
        ]
        env = self.environment.env(self.environment.admin_kubeconfig)
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603
        if result.returncode != 0:
            _print(self.controller.spec.name, f"cleaning up after {test} failed: {result.stderr.strip()}")

    def _stop_reason(self) -> str | None:
        if time.monotonic() >= self.deadline:
            return f"the run's bound of {self.options.run_timeout:.0f} s was reached"
        if not self.controller.alive():
            return f"the controller under test exited (code {self.controller.exit_code})"
        return None

    def _invoke(self, suite: Suite, tests: Sequence[TestId], stem: Path) -> _Ended:
        """Run the e2e binary once over ``tests`` of ``suite``, feeding its events to an :class:`Invocation`."""
        options = self.options
        backstop = min(options.test_timeout * len(tests), max(self.deadline - time.monotonic(), 1)) + 120
        command = [
            str(self.peer.e2e_binary),
            "-test.v=test2json",
            "-test.count=1",
            f"-test.timeout={int(backstop)}s",
            "-test.run",
            f"^{suite.function}$",
            "-testify.m",
            "^(" + "|".join(t.name for t in tests) + ")$",
        ]
        env = self.environment.env(self.environment.admin_kubeconfig) | {
            "E2E_INSTANCE_ID": options.instance_id,
            "E2E_WAIT_TIMEOUT": str(options.wait_timeout),
        }
        _print(self.controller.spec.name, f"{suite.name}: running {len(tests)} test(s)")
        binary = processes.spawn(command, env=env, cwd=self.peer.e2e_dir, stdout=subprocess.PIPE)
        assert binary.stdout is not None
        converter = processes.spawn(
            [str(test2json()), "-t", "-p", "e2e"], env=env, stdin=binary.stdout, stdout=subprocess.PIPE, stderr=None
        )
        binary.stdout.close()  # the converter holds the pipe now; it sees EOF when the binary's group is gone
        assert converter.stdout is not None
        lines: queue.Queue[bytes | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(converter.stdout, lines), daemon=True)
        reader.start()
        watch = _Watch(session=self, binary=binary, invocation=Invocation(suite=suite))
        with stem.with_suffix(".jsonl").open("wb") as raw, stem.with_suffix(".log").open("w") as text:
            while (line := _next(lines)) is not None:
                if line:
                    raw.write(line)
                    watch.take(line, text)
                    raw.flush()  # both readable while the suite runs (a run lasts hours)
                    text.flush()
                watch.check()
        exit_code = processes.stop(binary, grace=5)
        processes.stop(converter, grace=5)
        reader.join(timeout=5)
        return _Ended(
            invocation=watch.invocation,
            cut=watch.cut,
            exit_code=exit_code,
            exit_reason=exit_summary(watch.invocation.package_output),
        )


@dataclass(frozen=True)
class _Ended:
    invocation: Invocation
    cut: str | None  # why the binary was killed (a bound, the controller), None when it exited by itself
    exit_code: int | None
    exit_reason: str | None  # a panic or -test.timeout, from the binary's last output

    def cut_reason(self) -> str:
        """Why a test that started never finished."""
        if self.cut:
            return self.cut
        if self.exit_reason:
            return f"the e2e binary exited during the test: {self.exit_reason}"
        return f"the e2e binary exited during the test (code {self.exit_code})"

    def why_not_run(self) -> str:
        """Why tests of the suite never started, from the suite's own output or the binary's end."""
        if self.cut is not None:
            return f"{self.cut} (in the suite's setup)"
        message = failure_summary(self.invocation.suite_output)
        if self.invocation.suite_status is Status.SKIP:
            return f"the suite was skipped: {message or 'no message'}"
        if self.invocation.suite_status is Status.FAIL:
            return f"the suite failed before the test: {message or 'no message'}"
        if self.exit_reason:
            return f"the e2e binary stopped: {self.exit_reason}"
        return f"the e2e binary ended without running it (code {self.exit_code})"


# What the suite's tests create (labelled ``e2e-test-name``), for the clean-up after a failed test.
_E2E_KINDS = ",".join((
    "rollouts.argoproj.io", "experiments.argoproj.io", "analysisruns.argoproj.io", "analysistemplates.argoproj.io",
    "clusteranalysistemplates.argoproj.io", "services", "ingresses.networking.k8s.io", "deployments.apps",
    "replicasets.apps", "pods", "jobs.batch", "configmaps", "secrets",
))  # fmt: skip


@dataclass
class _Watch:
    """The watchdogs over one invocation: the per-test bound, the run's bound, the controller's life."""

    session: _Session
    binary: subprocess.Popen[bytes]
    invocation: Invocation
    cut: str | None = None
    running: TestId | None = None
    since: float = field(default_factory=time.monotonic)

    def take(self, line: bytes, text: IO[str]) -> None:
        event = parse_event(line.decode(errors="replace"))
        if event is None:
            return
        if event.get("Action") == "output":
            text.write(str(event.get("Output", "")))
        finished = self.invocation.feed(event)
        if finished is not None:
            if finished.status is Status.FAIL:
                self.session.clean_up_after(finished.test)
            result = judge(finished.test, finished, not_run_reason="", cut_reason="")
            took = f" in {finished.seconds:.0f} s" if finished.seconds is not None else ""
            why = f": {result.reason}" if result.reason else ""
            _print(self.session.controller.spec.name, f"{finished.test} {result.outcome.value}{took}{why}")

    def check(self) -> None:
        if self.invocation.running != self.running:
            self.running, self.since = self.invocation.running, time.monotonic()
        if self.cut is not None:
            return
        options, now = self.session.options, time.monotonic()
        if now - self.since > options.test_timeout:
            where = "the test" if self.running else "the suite's setup or teardown"
            self.cut = f"cut short: {where} ran past the per-test bound of {options.test_timeout:.0f} s"
        elif now >= self.session.deadline:
            self.cut = f"cut short: the run's bound of {options.run_timeout:.0f} s was reached"
        elif not self.session.controller.alive():
            self.cut = f"cut short: the controller under test exited (code {self.session.controller.exit_code})"
        if self.cut is not None:
            processes.stop(self.binary, grace=5)


def _next(lines: queue.Queue[bytes | None]) -> bytes | None:
    """The next line, ``b""`` after a second without one (so the watchdogs run), None at the end."""
    try:
        return lines.get(timeout=1.0)
    except queue.Empty:
        return b""


def _pump(stream: IO[bytes], sink: queue.Queue[bytes | None]) -> None:
    for line in iter(stream.readline, b""):
        sink.put(line)
    sink.put(None)

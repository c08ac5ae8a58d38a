"""``rollouts analysis backtest FILE --from T --to T --every 5m``: what would this template have decided, had it run
at each past instant? Answers "is this threshold sane?" before a rollout depends on it.

Each Prometheus metric's query is evaluated *at* every instant (Prometheus' ``time`` parameter) and judged by the
same :func:`~analysis.assess.judge_measurement` a live run uses. The instant's verdict is the worst phase among the
deciding (non-dry-run) metrics, with Argo's order (Successful < Inconclusive < Error < Failed). One measurement per
metric per instant: ``count``, ``interval`` and the limits describe a run over time, not a single instant, so they
are not replayed. Web and job metrics cannot be replayed and are listed as skipped.

Layout: :func:`backtest_instants` and :func:`assemble_report` are pure (the timeline and the arithmetic);
:func:`backtest` does the queries on a small thread pool; :func:`backtest_file` is the CLI face (a rich table).
"""

from __future__ import annotations

import concurrent.futures
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analysis.assess import AnalysisPhase, Measurement, worst_phase
from analysis.errors import AnalysisError, SpecError
from analysis.local import LocalSetup, load_template_file, prepare_local_run, report_invalid
from analysis.providers import ProviderRegistry, default_providers
from analysis.spec import AnalysisTemplateSpec, Metric, ProviderKind
from workflows.errors import DurationError, FieldIssue
from workflows.model.durations import format_duration, parse_duration

__all__ = [
    "MAX_INSTANTS",
    "BacktestReport",
    "InstantVerdict",
    "MetricVerdict",
    "assemble_report",
    "backtest",
    "backtest_file",
    "backtest_instants",
    "parse_instant",
]

#: A backtest is a dozen to a few thousand instants; beyond this the step is almost certainly a typo.
MAX_INSTANTS = 10_000
_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*(.+)$")
_STYLE = {
    AnalysisPhase.SUCCESSFUL: "green",
    AnalysisPhase.FAILED: "red",
    AnalysisPhase.ERROR: "red",
    AnalysisPhase.INCONCLUSIVE: "yellow",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricVerdict:
    phase: AnalysisPhase
    value: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstantVerdict:
    at: datetime
    phase: AnalysisPhase
    metrics: Mapping[str, MetricVerdict]


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestReport:
    start: datetime
    end: datetime
    every: timedelta
    metrics: tuple[str, ...]
    instants: tuple[InstantVerdict, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    dry_run: frozenset[str] = frozenset()

    def count(self, phase: AnalysisPhase) -> int:
        return sum(1 for instant in self.instants if instant.phase is phase)

    @property
    def failed(self) -> int:
        return self.count(AnalysisPhase.FAILED)

    @property
    def failure_rate(self) -> float:
        return self.failed / len(self.instants) if self.instants else 0.0

    def summary(self) -> str:
        """``would have failed 3 of 48 instants (6.2%)``, plus inconclusive/error counts when there are any."""
        total = len(self.instants)
        text = f"would have failed {self.failed} of {total} instants ({self.failure_rate * 100:.1f}%)"
        extra = [
            f"{count} {phase.value.lower()}"
            for phase in (AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR)
            if (count := self.count(phase))
        ]
        if extra:
            text += "; " + ", ".join(extra)
        return text


# --------------------------------------------------------------------------------------------------------------
# Pure parts


def parse_instant(text: str, *, now: datetime) -> datetime:
    """``now``, a relative offset (``-6h``, ``now-30m``, ``-1h30m``) or RFC3339 (``2024-05-01T12:00:00Z``)."""
    value = text.strip()
    if value == "now":
        return now
    match = _RELATIVE.match(value)
    if match:
        try:
            offset = parse_duration(match.group(2).strip())
        except DurationError as error:
            raise SpecError.at(repr(text), f"bad relative time: {error}") from None
        return now - offset if match.group(1) == "-" else now + offset
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SpecError(
            [
                FieldIssue(
                    repr(text), "expected now, a relative time such as -6h, or RFC3339 such as 2024-05-01T12:00:00Z"
                )
            ]
        ) from None
    if instant.tzinfo is None:
        raise SpecError.at(repr(text), "RFC3339 times need a zone: add Z or an offset like +02:00")
    return instant


def backtest_instants(*, start: datetime, end: datetime, every: timedelta) -> tuple[datetime, ...]:
    """``start, start+every, ...`` up to and including ``end``. Refuses empty, reversed or huge timelines."""
    if every <= timedelta(0):
        raise SpecError.at("--every", "must be a positive duration such as 5m")
    if end < start:
        raise SpecError.at("--to", "is before --from")
    count = int((end - start) / every) + 1
    if count > MAX_INSTANTS:
        raise SpecError(
            [FieldIssue("--every", f"gives {count} instants (more than {MAX_INSTANTS}); use a larger step")]
        )
    return tuple(start + every * index for index in range(count))


def assemble_report(
    *,
    metrics: Sequence[str],
    measurements: Mapping[tuple[datetime, str], Measurement],
    instants: Sequence[datetime],
    every: timedelta,
    skipped: Mapping[str, str],
    dry_run: frozenset[str] = frozenset(),
) -> BacktestReport:
    """Per instant: every replayed metric's verdict and the worst deciding one. Pure."""
    replayed = [name for name in metrics if name not in skipped]
    rows: list[InstantVerdict] = []
    for at in instants:
        verdicts: dict[str, MetricVerdict] = {}
        overall = AnalysisPhase.SUCCESSFUL
        for name in replayed:
            measurement = measurements.get((at, name))
            if measurement is None:
                verdict = MetricVerdict(phase=AnalysisPhase.ERROR, message="not measured")
            else:
                verdict = MetricVerdict(phase=measurement.phase, value=measurement.value, message=measurement.message)
            verdicts[name] = verdict
            if name not in dry_run:
                overall = worst_phase(overall, verdict.phase)
        rows.append(InstantVerdict(at=at, phase=overall, metrics=verdicts))
    return BacktestReport(
        start=instants[0] if instants else datetime.min.replace(tzinfo=UTC),
        end=instants[-1] if instants else datetime.min.replace(tzinfo=UTC),
        every=every,
        metrics=tuple(replayed),
        instants=tuple(rows),
        skipped=dict(skipped),
        dry_run=dry_run & frozenset(replayed),
    )


# --------------------------------------------------------------------------------------------------------------
# I/O


def backtest(
    template: AnalysisTemplateSpec,
    *,
    args: Mapping[str, str],
    prometheus: str | None,
    start: datetime,
    end: datetime,
    every: timedelta,
    providers: ProviderRegistry | None = None,
    max_workers: int = 4,
) -> BacktestReport:
    """Evaluate every Prometheus metric of ``template`` at each instant from ``start`` to ``end``.

    Raises :class:`SpecError` for invalid input (args, timeline, a template with nothing replayable).
    """

    setup = prepare_local_run(template, args=args, prometheus=prometheus, allow_cluster_only=True)
    instants = backtest_instants(start=start, end=end, every=every)
    skipped = {
        metric.name: f"{metric.provider.kind} metrics cannot be replayed at past instants"
        for metric in setup.metrics
        if metric.provider.kind is not ProviderKind.PROMETHEUS
    }
    replayable = [metric for metric in setup.metrics if metric.name not in skipped]
    if not replayable:
        raise SpecError.at("spec.metrics", "no prometheus metric to replay (web/job metrics are skipped)")
    registry = providers or default_providers()
    dry_run = frozenset(metric.name for metric in setup.metrics if setup.run.is_dry_run(metric.name))
    measurements = _measure_all(registry, setup, replayable, instants, max_workers=max_workers)
    return assemble_report(
        metrics=[metric.name for metric in setup.metrics],
        measurements=measurements,
        instants=instants,
        every=every,
        skipped=skipped,
        dry_run=dry_run,
    )


def _measure_all(
    registry: ProviderRegistry,
    setup: LocalSetup,
    metrics: Sequence[Metric],
    instants: Sequence[datetime],
    *,
    max_workers: int,
) -> dict[tuple[datetime, str], Measurement]:
    from analysis.runner import measure_once

    def one(at: datetime, metric: Metric) -> Measurement:
        return measure_once(registry, metric, args=setup.run.args, secrets=setup.secrets, now=at, at=at)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = {(at, metric.name): pool.submit(one, at, metric) for at in instants for metric in metrics}
        return {key: future.result() for key, future in futures.items()}


def backtest_file(
    path: str | Path,
    *,
    args: Mapping[str, str],
    prometheus: str | None,
    start: str,
    end: str,
    every: str,
    out: IO[str] | None = None,
    now: datetime | None = None,
    providers: ProviderRegistry | None = None,
) -> int:
    """Entry point for ``rollouts analysis backtest FILE --from T --to T --every D [--arg k=v] [--prometheus URL]``.

    Exit codes: 0 no instant failed, 1 some instant failed, 3 every instant errored (nothing could be judged),
    4 invalid input.
    """
    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
    moment = now or datetime.now(UTC)
    try:
        template = load_template_file(path)
        report = backtest(
            template,
            args=args,
            prometheus=prometheus,
            start=parse_instant(start, now=moment),
            end=parse_instant(end, now=moment),
            every=parse_duration(every),
            providers=providers,
        )
    except (SpecError, OSError, yaml.YAMLError, AnalysisError) as error:
        return report_invalid(console, error, what="backtest", path=path)
    console.print(report_table(report))
    for name, reason in report.skipped.items():
        console.print(f"[dim]skipped {escape(name)}: {escape(reason)}[/dim]")
    console.print(
        f"{format_duration(report.every)} steps from {report.start.isoformat()} to {report.end.isoformat()}: "
        f"[bold]{escape(report.summary())}[/bold]"
    )
    if report.failed:
        return 1
    if report.instants and report.count(AnalysisPhase.ERROR) == len(report.instants):
        return 3
    return 0


def report_table(report: BacktestReport) -> Table:
    """The verdict timeline: one row per instant, each metric's value and verdict, and the overall verdict."""
    table = Table(show_edge=False)
    table.add_column("INSTANT")
    for name in report.metrics:
        table.add_column(escape(name + (" (dry-run)" if name in report.dry_run else "")))
    table.add_column("VERDICT")
    for instant in report.instants:
        cells = [instant.at.isoformat()]
        for name in report.metrics:
            verdict = instant.metrics[name]
            style = _STYLE.get(verdict.phase, "white")
            shown = verdict.value if verdict.value is not None else verdict.message[:60]
            cells.append(f"{escape(shown or '-')} [{style}]{verdict.phase}[/{style}]")
        style = _STYLE.get(instant.phase, "white")
        cells.append(f"[bold {style}]{instant.phase}[/bold {style}]")
        table.add_row(*cells)
    return table

"""The metric provider seam: one small Protocol, a registry by kind, and the one place a raw observation becomes a
judged :class:`~analysis.assess.Measurement`.

Why this shape (Argo's ``metricproviders/provider.go`` has run/resume/terminate; ours is smaller): the Prometheus
and web providers finish a measurement in one HTTP exchange, awaited on the event loop
(:meth:`LoopMetricProvider.measure_on_loop`, through :func:`workflows.runtime.httpio.fetch`), so that the end of a
run cancels it at once and a hung endpoint holds no thread. :meth:`MetricProvider.measure` is the synchronous face
of the same measurement, for callers outside any loop (backtests); a provider offering only ``measure`` (a test
double, a third party's) is run on the executor's bounded thread pool and cannot be interrupted. Long-running
providers (the Job provider) keep their own in-flight state and are driven by the controller, not by this Protocol.

Two promises every provider keeps, enforced here by :func:`measure_with` rather than by each provider's goodwill:

- a failure is a Measurement in phase ``Error`` with a message, never an exception out of ``measure``;
- no secret value leaves the provider: the value text, the message and the metadata are scrubbed with the
  :class:`~analysis.args.RenderedProvider`'s secret values, and metadata is built from the *redacted* body.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

from analysis.args import RenderedProvider
from analysis.assess import AnalysisPhase, Measurement, judge_measurement
from analysis.errors import AnalysisError
from analysis.refused import configured
from analysis.spec import Metric, ProviderKind
from workflows.errors import HostNotAllowedError, RequestError, RequestTimeoutError, UnreachableError
from workflows.runtime.httpio import is_loopback_url

__all__ = [
    "AsyncMetricProvider",
    "LoopMetricProvider",
    "MeasurementContext",
    "MetricProvider",
    "Observation",
    "ProviderError",
    "ProviderRegistry",
    "configured",
    "error_measurement",
    "format_go_float",
    "is_loopback_url",
    "measure_with",
    "measure_with_async",
    "request_failures",
]


class ProviderError(AnalysisError):
    """A provider could not produce a value (connection refused, non-2xx, unparsable body, unsupported result).

    The message may still contain a secret echoed back by a server; :func:`measure_with` redacts it before it is
    stored anywhere.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """What a provider saw: ``value`` is what conditions see as ``result``; ``text`` is ``Measurement.value``."""

    value: object
    text: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class MetricProvider(Protocol):
    """Takes one measurement of ``metric``. Blocking; runs on a worker thread; never raises.

    ``rendered.body`` is the provider body with secrets filled in (for the request only); ``rendered.redacted`` is
    the twin that may be recorded. ``now`` is the measurement's start on the caller's clock. ``at``, when given,
    asks for the value as of that past instant (backtests); providers that cannot replay the past return an Error.
    """

    def measure(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement: ...


@runtime_checkable
class LoopMetricProvider(Protocol):
    """A provider whose measurement is awaited on the event loop: cancelling the awaiting task ends it at once.

    Same promises as :class:`MetricProvider` (never raises, except ``CancelledError``; nothing secret in what it
    returns). The metric runner prefers this to ``measure`` when a provider offers both.
    """

    async def measure_on_loop(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementContext:
    """What a long-running provider needs to know about the measurement it takes, beyond the metric itself.

    ``sequence`` is the 1-based number of this measurement among every measurement the metric ever took
    (``count + error + 1``, as Argo numbers its Jobs); it is the same before and after a controller restart, so
    objects named after it are found again instead of duplicated. ``in_flight`` is the Running measurement a
    previous controller stored, when there is one. ``owner`` is the ownerReference of the AnalysisRun (None outside
    a cluster). ``started`` records a Running measurement now, before the outcome is known.
    """

    run_name: str
    namespace: str
    metric: Metric
    sequence: int
    in_flight: Measurement | None = None
    owner: Mapping[str, object] | None = None
    started: Callable[[Measurement], object] = lambda measurement: None


@runtime_checkable
class AsyncMetricProvider(Protocol):
    """A provider whose measurement takes minutes (a Job): awaited on the event loop, never on a worker thread.

    Same promises as :class:`MetricProvider`: never raises (except ``CancelledError`` when the run ends, after
    cleaning up what it created), and nothing secret in what it returns. Blocking API calls go through
    ``run_blocking`` (the executor's bounded thread pool).
    """

    async def measure_async(
        self,
        rendered: RenderedProvider,
        *,
        context: MeasurementContext,
        now: datetime,
        run_blocking: Callable[..., Awaitable[object]],
    ) -> Measurement: ...


AnyProvider = MetricProvider | LoopMetricProvider | AsyncMetricProvider


class ProviderRegistry:
    """Provider by kind; the metric runner looks providers up here for every measurement."""

    def __init__(self, providers: Mapping[ProviderKind, AnyProvider] | None = None) -> None:
        self._providers: dict[ProviderKind, AnyProvider] = dict(providers or {})

    def register(self, kind: ProviderKind, provider: AnyProvider) -> None:
        self._providers[kind] = provider

    def get(self, kind: ProviderKind) -> AnyProvider | None:
        return self._providers.get(kind)

    def kinds(self) -> frozenset[ProviderKind]:
        return frozenset(self._providers)


def error_measurement(
    message: str, *, now: datetime, finished_at: datetime | None = None, metadata: Mapping[str, str] | None = None
) -> Measurement:
    """A completed Error measurement; the caller has already redacted ``message``."""
    return Measurement(
        phase=AnalysisPhase.ERROR,
        started_at=now,
        finished_at=finished_at or now,
        message=message,
        metadata=dict(metadata or {}),
    )


def measure_with(
    metric: Metric,
    rendered: RenderedProvider,
    observe: Callable[[], Observation],
    *,
    now: datetime,
    metadata: Mapping[str, str] | None = None,
) -> Measurement:
    """Run ``observe`` and turn its outcome into a judged Measurement; every failure becomes an Error measurement.

    ``metadata`` must be built from ``rendered.redacted``; it is scrubbed again here as a second line of defence.
    """
    started = time.monotonic()
    try:
        observation: Observation | Exception = observe()
    except Exception as error:  # noqa: BLE001 -- the Protocol promises a Measurement, never an exception
        observation = error
    return _judged(metric, rendered, observation, now=now, started=started, metadata=metadata)


async def measure_with_async(
    metric: Metric,
    rendered: RenderedProvider,
    observe: Callable[[], Awaitable[Observation]],
    *,
    now: datetime,
    metadata: Mapping[str, str] | None = None,
) -> Measurement:
    """:func:`measure_with` for an observation awaited on the loop; a cancellation passes through unchanged."""
    started = time.monotonic()
    try:
        observation: Observation | Exception = await observe()
    except Exception as error:  # noqa: BLE001 -- as measure_with: a Measurement, never an exception
        observation = error
    return _judged(metric, rendered, observation, now=now, started=started, metadata=metadata)


def _judged(
    metric: Metric,
    rendered: RenderedProvider,
    observation: Observation | Exception,
    *,
    now: datetime,
    started: float,
    metadata: Mapping[str, str] | None,
) -> Measurement:
    """The one place an observation (or the error in its place) becomes a judged, redacted Measurement."""
    base_metadata = {key: rendered.redact(value) for key, value in (metadata or {}).items()}
    if isinstance(observation, ProviderError):
        return error_measurement(
            rendered.redact(str(observation)), now=now, finished_at=_finished(now, started), metadata=base_metadata
        )
    if isinstance(observation, Exception):
        text = rendered.redact(str(observation)) or "no details"
        return error_measurement(
            f"{type(observation).__name__}: {text}",
            now=now,
            finished_at=_finished(now, started),
            metadata=base_metadata,
        )
    judgement = judge_measurement(
        result=observation.value,
        success_condition=metric.success_condition,
        failure_condition=metric.failure_condition,
    )
    extra = {key: rendered.redact(value) for key, value in observation.metadata.items()}
    return Measurement(
        phase=judgement.phase,
        started_at=now,
        finished_at=_finished(now, started),
        value=rendered.redact(observation.text),
        message=rendered.redact(judgement.message),
        metadata={**base_metadata, **extra},
    )


def _finished(now: datetime, started_monotonic: float) -> datetime:
    # The caller's clock gives the start; the elapsed part comes from the monotonic clock so a wall-clock jump
    # during a request cannot produce a measurement that finished before it started.
    return now + timedelta(seconds=max(0.0, time.monotonic() - started_monotonic))


def format_go_float(value: float) -> str:
    """A float as Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` prints it -- how Argo stores Prometheus values.

    Shortest round-trip digits, never an exponent: ``1`` not ``1.0``, ``0.1``, ``1e+21`` as all its digits,
    ``NaN``, ``+Inf``, ``-Inf``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@contextmanager
def request_failures(*, target: str, timeout: float, what: str = "request") -> Iterator[None]:
    """Turn a failed HTTP request into a :class:`ProviderError` with a one-line cause (timeout, unreachable, other)."""
    try:
        yield
    except RequestTimeoutError:
        raise ProviderError(f"{what} timed out after {timeout:g}s") from None
    except UnreachableError as error:
        raise ProviderError(f"cannot reach {target}: {error.reason}") from None
    except HostNotAllowedError as error:
        raise ProviderError(f"{what} refused: {error.reason}") from None
    except RequestError as error:
        raise ProviderError(f"{what} failed: {error.reason}") from None

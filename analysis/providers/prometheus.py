"""The ``prometheus`` provider: one query to Prometheus' HTTP API awaited on the event loop, value shaped as Argo
shapes it.

The query is a GET of ``/api/v1/query`` (or ``/api/v1/query_range``) through :func:`workflows.runtime.httpio.fetch`,
bounded by ``timeout`` (default 30 s) for the whole exchange; the end of the run cancels it and closes its connection
at once. (prometheus-api-client, which this provider used before, is synchronous: a hung Prometheus held a pool
thread until its timeout, whatever happened to the run.)

Result shapes (what conditions see as ``result`` / what is stored as the measurement's value):

- instant vector -> list of floats, stored as Argo prints it: ``[0.99,0.97]``; an empty vector is ``[]`` (so
  ``len(result) == 0`` and ``default(result[0], 0)``-style conditions decide, as in Argo -- no special casing);
- scalar -> float (``0.5``); NaN stays NaN (stored ``NaN``) for ``isNaN(result)`` to test, as Argo does;
- string -> str (Argo refuses this type; a string literal query is harmless, so we pass it on);
- range vector (matrix) from an instant query -> Error measurement: a condition over a matrix has no single meaning;
  use an instant query (``sum(rate(x[5m]))``);
- ``rangeQuery`` (``start``/``end`` as ``now()``, ``now() - duration("1h")``, ``step`` a duration) runs a range query;
  as in Argo, every sample of every series becomes one flat list of floats (``[0.99,0.97,...]``).

The shape of ``data.result`` tells vector (``value``) from matrix (``values``) exactly, so ``resultType`` is not
needed. A scalar and a string share the ``[time, "text"]`` shape; text that parses as a Prometheus float
is read as a scalar, so a string literal that looks like a number (``"1"``) is read as the number.

Answers larger than :data:`MAX_BODY_BYTES` are refused while they are read (an Error measurement naming the limit).

``at`` evaluates the query at a past instant (Prometheus' ``time`` parameter) -- what backtests replay.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from analysis.args import RenderedProvider
from analysis.assess import Measurement
from analysis.providers.base import (
    Observation,
    ProviderError,
    configured,
    format_go_float,
    measure_with_async,
    request_failures,
)
from analysis.spec import Metric
from workflows.errors import DurationError
from workflows.model.durations import parse_duration
from workflows.runtime.httpio import fetch

__all__ = [
    "DEFAULT_QUERY_TIMEOUT",
    "MAX_BODY_BYTES",
    "RESOLVED_QUERY",
    "PrometheusProvider",
    "convert_range_result",
    "convert_result",
    "eval_time",
]

#: Argo's default when ``timeout`` is not set: 30 seconds for the whole query.
DEFAULT_QUERY_TIMEOUT = 30.0
#: Largest answer read: refused while it is read, before it is parsed (a parsed JSON document takes several times its
#: size in memory). 16 MiB holds an instant vector of ~100,000 series or a range query at Prometheus' own limit of
#: 11,000 points per series for a few dozen series; a condition needs far less (docs/security.md).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Metadata key holding the query as sent (with secrets redacted), as Argo's ``ResolvedPrometheusQuery``.
RESOLVED_QUERY = "ResolvedPrometheusQuery"
_MAX_MESSAGE = 500


def convert_result(data: object) -> Observation:
    """``data.result`` of an instant query -> the value conditions see and the text stored. Pure.

    Raises :class:`ProviderError` for matrices and shapes Prometheus never returns.
    """
    if isinstance(data, list) and not data:
        return Observation(value=[], text="[]")
    if isinstance(data, list) and all(isinstance(item, Mapping) for item in data):
        if any("values" in item for item in data):
            raise ProviderError(
                "the query returned a range vector (matrix); use an instant query such as sum(rate(x[5m]))"
            )
        values = [_sample(item.get("value")) for item in data]
        return Observation(value=values, text="[" + ",".join(format_go_float(v) for v in values) + "]")
    if isinstance(data, list) and len(data) == 2 and isinstance(data[1], str):
        number = _parse_float(data[1])
        if number is None:
            return Observation(value=data[1], text=data[1])
        return Observation(value=number, text=format_go_float(number))
    raise ProviderError(f"unexpected Prometheus result shape: {type(data).__name__}")


def convert_range_result(data: object) -> Observation:
    """``data.result`` of a range query -> every sample of every series as one list, as Argo flattens a matrix."""
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise ProviderError("unexpected Prometheus range result shape")
    values = [_sample(sample) for item in data for sample in item.get("values") or []]
    return Observation(value=values, text="[" + ",".join(format_go_float(v) for v in values) + "]")


_TIME = re.compile(r'^\s*now\(\)\s*(?:([+-])\s*duration\(\s*"([^"]*)"\s*\)\s*)?$')


def eval_time(expression: object, now: datetime) -> datetime:
    """``rangeQuery.start``/``end``: ``now()``, ``now() - duration("1h")`` or ``now() + duration("5m")``. Pure.

    The forms Argo documents for its expr ``EvalTime``; anything else is a :class:`ProviderError` naming the form.
    """
    match = _TIME.match(expression) if isinstance(expression, str) else None
    if match is None:
        raise ProviderError(
            f'rangeQuery time {expression!r}: use now(), now() - duration("1h") or now() + duration(..)'
        )
    sign, text = match.groups()
    if sign is None:
        return now
    try:
        delta = parse_duration(text)
    except DurationError as error:
        raise ProviderError(f"rangeQuery time {expression!r}: {error}") from None
    return now - delta if sign == "-" else now + delta


def _sample(value: object) -> float:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ProviderError("unexpected Prometheus sample shape (expected [time, value])")
    number = _parse_float(value[1])
    if number is None:
        raise ProviderError(f"Prometheus returned a sample that is not a number: {str(value[1])[:40]!r}")
    return number


def _parse_float(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return float(text)  # Prometheus prints NaN, +Inf, -Inf and exponents; float() reads all of them
    except ValueError:
        return None


class PrometheusProvider:
    """Instant (or range) queries against the metric's ``address`` (or ``default_address``)."""

    def __init__(self, *, default_address: str | None = None) -> None:
        self.default_address = default_address

    async def measure_on_loop(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement:
        query = rendered.redacted.get("query")
        metadata = {RESOLVED_QUERY: str(query)} if query else {}
        return await measure_with_async(
            metric, rendered, lambda: self.observe(rendered.body, at=at, now=now), now=now, metadata=metadata
        )

    def measure(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement:
        """The same measurement for a caller outside any event loop (backtests; it runs one for the call)."""
        return asyncio.run(self.measure_on_loop(metric, rendered, now=now, at=at))

    async def observe(
        self, body: Mapping[str, object], *, at: datetime | None = None, now: datetime | None = None
    ) -> Observation:
        """Run the query of a rendered provider body; raises :class:`ProviderError` on any failure.

        A ``rangeQuery``'s ``now()`` is ``at`` (a backtest's instant), else ``now``, else the clock.
        """
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ProviderError("provider.prometheus.query is empty")
        address = body.get("address") or self.default_address
        if not isinstance(address, str) or not address:
            raise ProviderError("prometheus address is not configured: set provider.prometheus.address")
        if not address.startswith(("http://", "https://")):
            raise ProviderError(f"prometheus address {address!r} is not an http(s) URL")
        if configured(body.get("authentication")):
            raise ProviderError("provider.prometheus.authentication (sigv4/oauth2) is not supported; use headers")
        timeout = _timeout(body.get("timeout"))
        headers = _headers(body)
        range_query = body.get("rangeQuery")
        if range_query is not None and not isinstance(range_query, Mapping):
            raise ProviderError("provider.prometheus.rangeQuery must be a map of start, end and step")
        base = address.rstrip("/")
        if range_query is not None:
            url = f"{base}/api/v1/query_range"
            params = {"query": query, **_range_params(range_query, reference=at or now or datetime.now(UTC))}
        else:
            url = f"{base}/api/v1/query"
            params = {"query": query} if at is None else {"query": query, "time": f"{at.timestamp():.3f}"}
        with request_failures(target=f"Prometheus at {address}", timeout=timeout, what="Prometheus query"):
            response = await fetch(
                "GET",
                url,
                headers=headers,
                params=params,
                timeout=timeout,
                verify=not body.get("insecure"),
                max_body=MAX_BODY_BYTES,
            )
        if response.status != 200:
            detail = f"HTTP Status Code {response.status} ({response.body!r})"
            raise ProviderError(f"Prometheus refused the query: {detail[:_MAX_MESSAGE]}")
        data = _result_of(response.body, address)
        return convert_range_result(data) if range_query is not None else convert_result(data)


def _result_of(body: bytes, address: str) -> object:
    """``data.result`` of a Prometheus API answer."""
    try:
        document = json.loads(body)
        return document["data"]["result"]
    except (ValueError, KeyError, TypeError):  # not JSON, or JSON of another server (a proxy's page, a wrong address)
        raise ProviderError(f"{address} did not answer like a Prometheus server (response is not JSON)") from None


def _range_params(range_query: Mapping[str, object], *, reference: datetime) -> dict[str, str]:
    """``start``/``end``/``step`` of a range query; times in whole seconds (as prometheus-api-client sent them)."""
    start = eval_time(range_query.get("start"), reference)
    end = eval_time(range_query.get("end"), reference)
    try:
        step = parse_duration(str(range_query.get("step") or ""))
    except DurationError as error:
        raise ProviderError(f"provider.prometheus.rangeQuery.step: {error}") from None
    if step.total_seconds() <= 0 or end < start:
        raise ProviderError("provider.prometheus.rangeQuery needs start <= end and a positive step")
    return {
        "start": str(round(start.timestamp())),
        "end": str(round(end.timestamp())),
        "step": f"{step.total_seconds():g}s",
    }


def _timeout(value: object) -> float:
    if value is None or value == "":
        return DEFAULT_QUERY_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ProviderError("provider.prometheus.timeout must be a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise ProviderError(f"provider.prometheus.timeout must be a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise ProviderError("provider.prometheus.timeout must be positive")
    return seconds


def _headers(body: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    raw = body.get("headers") or []
    if not isinstance(raw, list):
        raise ProviderError("provider.prometheus.headers must be a list of {key, value}")
    headers: list[tuple[str, str]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str) or not item.get("key"):
            raise ProviderError(f"provider.prometheus.headers[{index}] needs key and value")
        headers.append((str(item["key"]), str(item.get("value", ""))))
    return tuple(headers)

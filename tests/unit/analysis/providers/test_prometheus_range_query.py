"""``prometheus.rangeQuery``: Argo's range query (start/end as ``now()`` expressions, a step), the matrix flattened.

The query goes to a loopback server answering like Prometheus' ``/api/v1/query_range``; what it was asked (start,
end, step) is checked from the request it saw.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from analysis.providers.base import ProviderError
from analysis.providers.prometheus import PrometheusProvider, convert_range_result, eval_time
from tests.support.http import json_server

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MATRIX = [
    {"metric": {"pod": "a"}, "values": [[1, "0.5"], [2, "0.75"]]},
    {"metric": {"pod": "b"}, "values": [[1, "1"]]},
]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("now()", NOW),
        ('now() - duration("1h")', NOW - timedelta(hours=1)),
        ('now()-duration("90s")', NOW - timedelta(seconds=90)),
        ('now() + duration("5m")', NOW + timedelta(minutes=5)),
    ],
)
def test_time_expressions(expression: str, expected: datetime) -> None:
    assert eval_time(expression, NOW) == expected


@pytest.mark.parametrize("expression", ["", "yesterday", 'now() - duration("1 hour")', "now() * 2", None])
def test_other_time_expressions_are_errors(expression: object) -> None:
    with pytest.raises(ProviderError, match="rangeQuery time"):
        eval_time(expression, NOW)


def test_every_sample_of_every_series_is_one_flat_list_as_in_argo() -> None:
    observed = convert_range_result(MATRIX)
    assert observed.value == [0.5, 0.75, 1.0]
    assert observed.text == "[0.5,0.75,1]"
    assert convert_range_result([]).value == []


def test_a_range_query_asks_prometheus_for_the_window() -> None:
    with json_server() as server:
        server.route("/api/v1/query_range", {"status": "success", "data": {"resultType": "matrix", "result": MATRIX}})
        body = {
            "address": server.url,
            "query": "up",
            "rangeQuery": {"start": 'now() - duration("10m")', "end": "now()", "step": "1m"},
        }
        observed = asyncio.run(PrometheusProvider().observe(body, now=NOW))  # a real loop: this unit tier's is virtual
        [seen] = [s for s in server.seen if s.path.startswith("/api/v1/query_range")]
    assert observed.value == [0.5, 0.75, 1.0]
    asked = {key: values[0] for key, values in parse_qs(urlsplit(seen.path).query).items()}
    assert asked["query"] == "up"
    assert float(asked["start"]) == (NOW - timedelta(minutes=10)).timestamp()
    assert float(asked["end"]) == NOW.timestamp()
    assert asked["step"] == "60s"


def test_a_bad_step_is_an_error_measurement_not_a_crash() -> None:
    body = {
        "address": "http://127.0.0.1:9",
        "query": "up",
        "rangeQuery": {"start": "now()", "end": "now()", "step": "x"},
    }
    with pytest.raises(ProviderError, match=r"rangeQuery\.step"):
        asyncio.run(PrometheusProvider().observe(body, now=NOW))

"""Pure parts of the providers: Prometheus result shapes and Argo's value text, JSONPath selection, loopback
detection, and the promise that a provider never raises and never leaks a secret."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.args import RenderedProvider
from analysis.assess import AnalysisPhase
from analysis.providers.base import Observation, ProviderError, format_go_float, is_loopback_url, measure_with
from analysis.providers.prometheus import convert_result
from analysis.providers.web import compile_json_path, select_value
from analysis.spec import Metric, Provider, ProviderKind

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def sample(value: str) -> dict[str, object]:
    return {"metric": {"job": "x"}, "value": [1714521600.0, value]}


@pytest.mark.parametrize(
    ("data", "value", "text"),
    [
        ([sample("0.99"), sample("0.97")], [0.99, 0.97], "[0.99,0.97]"),
        ([sample("1")], [1.0], "[1]"),
        ([], [], "[]"),
        ([1714521600.0, "0.5"], 0.5, "0.5"),
        ([1714521600.0, "1e+21"], 1e21, "1000000000000000000000"),
        ([1714521600.0, "+Inf"], math.inf, "+Inf"),
        ([1714521600.0, "hello"], "hello", "hello"),
    ],
)
def test_prometheus_results_convert_like_argo(data: object, value: object, text: str) -> None:
    observation = convert_result(data)
    assert observation.value == value
    assert observation.text == text


def test_nan_stays_nan_for_isnan_to_decide() -> None:
    observation = convert_result([sample("NaN")])
    assert isinstance(observation.value, list)
    assert math.isnan(observation.value[0])
    assert observation.text == "[NaN]"


def test_a_matrix_is_refused_with_the_fix() -> None:
    with pytest.raises(ProviderError, match="range vector"):
        convert_result([{"metric": {}, "values": [[1, "1"], [2, "2"]]}])


@pytest.mark.parametrize("data", [{"x": 1}, [sample("abc")], [{"metric": {}, "value": [1]}], "text"])
def test_shapes_prometheus_never_sends_are_errors(data: object) -> None:
    with pytest.raises(ProviderError):
        convert_result(data)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_text_round_trips_and_never_uses_an_exponent(number: float) -> None:
    text = format_go_float(number)
    assert "e" not in text.lower()
    assert float(text) == number
    assert not text.endswith(".")
    assert not (("." in text) and text.endswith("0"))


@pytest.mark.parametrize(
    ("document", "path", "value", "text"),
    [
        ({"data": {"ok": True}}, "{$.data.ok}", True, "true"),
        ({"data": {"rate": 0.99}}, "{.data.rate}", 0.99, "0.99"),
        ({"a": 1}, "{$}", {"a": 1}, '{"a":1}'),
        ({"a": 1}, "", {"a": 1}, '{"a":1}'),
        ({"s": "ok"}, "$.s", "ok", '"ok"'),
        ({"items": [{"n": "a", "v": 1}, {"n": "b", "v": 2}]}, "{$.items[?(@.n == 'b')].v}", 2, "2"),
        ({"x": None}, "{$.x}", None, "null"),
    ],
)
def test_json_path_selects_the_first_match(document: object, path: str, value: object, text: str) -> None:
    observation = select_value(document, path)
    assert observation.value == value
    assert observation.text == text


def test_json_path_that_selects_nothing_is_an_error() -> None:
    with pytest.raises(ProviderError, match="selected nothing"):
        select_value({"a": 1}, "{$.b}")


@pytest.mark.parametrize("path", ["{$.a[}", "value is {$.a} and {$.b}"])
def test_invalid_json_paths_are_errors(path: str) -> None:
    with pytest.raises(ProviderError):
        compile_json_path(path)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:9090", True),
        ("http://127.3.2.1/x", True),
        ("http://localhost:8080/", True),
        ("http://[::1]:80/", True),
        ("https://prometheus.monitoring.svc:9090", False),
        ("http://10.0.0.1", False),
        ("not a url", False),
    ],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def _metric(**fields: object) -> Metric:
    return Metric(name="m", provider=Provider(kind=ProviderKind.WEB, body={}), **fields)  # type: ignore[arg-type]


SECRET = "hunter2-token"
RENDERED = RenderedProvider(
    body={"url": f"http://x/?t={SECRET}"}, redacted={"url": "http://x/?t=*****"}, secret_values=frozenset({SECRET})
)


@given(st.sampled_from([ValueError, RuntimeError, KeyError, ProviderError, ZeroDivisionError]), st.text(max_size=30))
def test_measure_with_turns_any_failure_into_a_redacted_error(kind: type[Exception], noise: str) -> None:
    def observe() -> Observation:
        raise kind(f"{noise} failed with {SECRET} {noise}")

    measurement = measure_with(_metric(), RENDERED, observe, now=NOW, metadata={"url": f"http://x/?t={SECRET}"})
    assert measurement.phase is AnalysisPhase.ERROR
    assert SECRET not in repr(measurement)
    assert measurement.finished_at is not None
    assert measurement.finished_at >= NOW


def test_measure_with_judges_and_redacts_values() -> None:
    measurement = measure_with(
        _metric(success_condition="result == 'ok'"),
        RENDERED,
        lambda: Observation(value="nope", text=f"echo {SECRET}"),
        now=NOW,
    )
    assert measurement.phase is AnalysisPhase.FAILED
    assert measurement.value == "echo *****"


def test_measure_with_reports_condition_errors_as_error() -> None:
    measurement = measure_with(
        _metric(success_condition="result[0] > 1"), RENDERED, lambda: Observation(value="x", text="x"), now=NOW
    )
    assert measurement.phase is AnalysisPhase.ERROR

"""What the demo prints: per-version rates folded from Prometheus samples, the traffic line, the summary."""

from __future__ import annotations

import io

from rich.console import Console

from rollouts.demo.screen import (
    ReleaseResult,
    RouteState,
    result_lines,
    route_line,
    summary_table,
    traffic_line,
    version_rates,
)


def _sample(version: str, code: str, rate: float) -> dict[str, object]:
    return {"metric": {"version": version, "code": code}, "value": [1700000000.0, str(rate)]}


def test_rates_fold_codes_per_version_busiest_first() -> None:
    rates = version_rates(
        [_sample("stable", "200", 79.6), _sample("stable", "500", 0.4), _sample("canary", "200", 15.0),
         _sample("canary", "500", 5.0), {"metric": {}, "value": "junk"}]
    )  # fmt: skip
    assert [(r.version, r.requests, r.errors) for r in rates] == [("stable", 80.0, 0.4), ("canary", 20.0, 5.0)]
    assert rates[1].error_ratio == 0.25


def test_traffic_line_names_images_and_error_shares() -> None:
    rates = version_rates([_sample("abc", "200", 75.0), _sample("abc", "500", 25.0)])
    line = traffic_line(rates, images={"abc": "demo:3.0-bad"}).plain
    assert line == "traffic  demo:3.0-bad (abc) 100.0 req/s 25.0% errors"
    assert "no requests" in traffic_line([], images={}).plain


def _result(**overrides: object) -> ReleaseResult:
    fields: dict[str, object] = {
        "release": "demo:1.0 -> demo:2.0", "image": "demo:2.0", "phase": "Healthy", "message": "", "aborted": False,
        "stable_image": "demo:2.0", "seconds": 61.4, "verdicts": ("step 1 Successful", "step 4 Successful"),
        "error_ratio": 0.0048, "requests": 2911.0, "max_canary_weight": 100, "final_weights": (0, 100),
    }  # fmt: skip
    fields.update(overrides)
    return ReleaseResult(**fields)  # type: ignore[arg-type]


def test_outcomes_say_promoted_aborted_or_why_not() -> None:
    assert _result().outcome == "promoted, Healthy"
    assert _result(phase="Degraded", aborted=True, stable_image="demo:1.0").outcome == "aborted, Degraded"
    assert _result(phase="Timeout", message="waiting for step 1").outcome == "Timeout: waiting for step 1"
    # Healthy but the new image is not the stable one (e.g. an undo happened): not a promotion.
    assert _result(stable_image="demo:1.0").outcome == "Healthy"


def test_result_lines_are_plain_and_complete() -> None:
    unrouted = _result(release="a -> b", error_ratio=None, verdicts=(), max_canary_weight=None, final_weights=None)
    lines = result_lines([_result(), unrouted])
    assert lines[0] == (
        "release demo:1.0 -> demo:2.0: promoted, Healthy after 61s; analysis: step 1 Successful, step 4 Successful; "
        "canary weight max 100%, final 0/100; error rate 0.48%; stable demo:2.0"
    )
    assert "analysis: -; canary weight max n/a, final n/a; error rate n/a" in lines[1]


def test_summary_table_renders_every_release() -> None:
    out = io.StringIO()
    Console(file=out, width=200, no_color=True).print(summary_table([_result(), _result(release="x -> y")]))
    text = out.getvalue()
    assert "demo:1.0 -> demo:2.0" in text
    assert "x -> y" in text
    assert "0.48% of 2911 requests" in text
    assert "max 100%, final 0/100" in text


def test_route_line_shows_weights_and_where_each_service_points() -> None:
    state = RouteState(canary_weight=20, stable_weight=80, canary_version="bad1", stable_version="good2")
    line = route_line(state, images={"bad1": "demo:3.0-bad", "good2": "demo:2.0"}).plain
    assert line == "route    canary  20% -> demo:3.0-bad (bad1)  |  stable  80% -> demo:2.0 (good2)"


def test_route_line_percentages_follow_relative_weights() -> None:
    """Gateway API weights are relative: 1 and 3 is 25% / 75%, whatever wrote them."""
    state = RouteState(canary_weight=1, stable_weight=3, canary_version=None, stable_version="a")
    line = route_line(state, images={"a": "demo:1.0"}).plain
    assert "canary  25% -> ? (all versions)" in line
    assert "stable  75% -> demo:1.0 (a)" in line
    assert RouteState(canary_weight=0, stable_weight=0).canary_percent == 0.0
    assert "could not be read" in route_line(None, images={}).plain

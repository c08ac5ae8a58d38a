"""What the demo prints: the route and traffic lines under the Rollout view, and the summary table at the end.

Pure functions of plain data (no cluster, no Prometheus), so the wording is tested without either and the
orchestration in :mod:`rollouts.demo.run` stays about sequencing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

__all__ = [
    "ReleaseResult",
    "RouteState",
    "VersionRate",
    "result_lines",
    "route_line",
    "summary_table",
    "traffic_line",
    "version_rates",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionRate:
    """Requests and errors per second of one version, as Prometheus' ``rate()`` saw them."""

    version: str
    requests: float
    errors: float

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests > 0 else 0.0


def version_rates(samples: Sequence[Mapping[str, object]]) -> list[VersionRate]:
    """Fold ``sum by (version, code) (rate(...))`` vector samples into one rate per version (busiest first).

    A sample is Prometheus' ``{"metric": {...labels}, "value": [time, "12.5"]}``; a 5xx code counts as an error.
    """
    requests: dict[str, float] = {}
    errors: dict[str, float] = {}
    for sample in samples:
        labels = sample.get("metric")
        value = sample.get("value")
        if not isinstance(labels, Mapping) or not isinstance(value, Sequence) or len(value) != 2:
            continue
        version, code = str(labels.get("version", "")), str(labels.get("code", ""))
        rate = float(str(value[1]))
        requests[version] = requests.get(version, 0.0) + rate
        if code.startswith("5"):
            errors[version] = errors.get(version, 0.0) + rate
    rates = [VersionRate(version=v, requests=r, errors=errors.get(v, 0.0)) for v, r in requests.items()]
    return sorted(rates, key=lambda r: (-r.requests, r.version))


def traffic_line(rates: Sequence[VersionRate], *, images: Mapping[str, str]) -> Text:
    """``traffic  demo:2.0 (5f9c7d) 80.1 req/s 0.5% errors  |  demo:3.0-bad (...) 20.0 req/s 25.0% errors``."""
    line = Text("traffic  ", style="bold")
    shown = [r for r in rates if r.requests > 0.05]
    if not shown:
        line.append("no requests served in the last seconds", style="dim")
        return line
    for index, rate in enumerate(shown):
        if index:
            line.append("  |  ", style="dim")
        line.append(f"{images.get(rate.version, '?')} ", style="bold")
        line.append(f"({rate.version}) ", style="dim")
        line.append(f"{rate.requests:5.1f} req/s ")
        line.append(f"{100 * rate.error_ratio:4.1f}% errors", style="red" if rate.error_ratio >= 0.05 else "green")
    return line


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteState:
    """The HTTPRoute's split as the cluster shows it: each Service's backendRef weight and the version it selects."""

    canary_weight: int
    stable_weight: int
    canary_version: str | None = None
    stable_version: str | None = None

    @property
    def canary_percent(self) -> float:
        """The canary's share of the requests (weights are relative in Gateway API; the controller writes w/100-w)."""
        total = self.canary_weight + self.stable_weight
        return 100.0 * self.canary_weight / total if total > 0 else 0.0


def route_line(state: RouteState | None, *, images: Mapping[str, str]) -> Text:
    """``route    canary 20% -> demo:3.0-bad (66bc)  |  stable 80% -> demo:2.0 (5f9c)``: the weights and where
    each Service sends its share (``?`` while a Service is not pinned to a version)."""
    line = Text("route    ", style="bold")
    if state is None:
        line.append("the HTTPRoute could not be read", style="dim")
        return line
    for index, (role, percent, version) in enumerate(
        [
            ("canary", state.canary_percent, state.canary_version),
            ("stable", 100.0 - state.canary_percent, state.stable_version),
        ]
    ):
        if index:
            line.append("  |  ", style="dim")
        line.append(f"{role} {percent:3.0f}%", style="yellow" if role == "canary" and percent > 0 else "")
        line.append(" -> ")
        line.append(images.get(version or "", "?"), style="bold")
        line.append(f" ({version or 'all versions'})", style="dim")
    return line


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseResult:
    """How one release went, for the summary and the exit code."""

    release: str  # "demo:1.0 -> demo:2.0"
    image: str
    phase: str  # the Rollout's phase when the release settled ("Timeout" if it never did)
    message: str
    aborted: bool
    stable_image: str
    seconds: float
    verdicts: tuple[str, ...]  # "step 1 Successful", ...
    error_ratio: float | None  # the new version's 5xx share over the release, measured by Prometheus
    requests: float | None  # how many requests the new version served during the release
    max_canary_weight: int | None = None  # the highest canary weight the HTTPRoute carried during the release
    final_weights: tuple[int, int] | None = None  # (canary, stable) weights on the HTTPRoute when it settled

    @property
    def weights_text(self) -> str:
        """``max 20%, final 0/100`` (canary/stable weights of the HTTPRoute)."""
        peak = "n/a" if self.max_canary_weight is None else f"{self.max_canary_weight}%"
        final = "n/a" if self.final_weights is None else f"{self.final_weights[0]}/{self.final_weights[1]}"
        return f"max {peak}, final {final}"

    @property
    def outcome(self) -> str:
        if self.phase == "Healthy" and self.stable_image == self.image:
            return "promoted, Healthy"
        if self.phase == "Degraded" and self.aborted:
            return "aborted, Degraded"
        return f"{self.phase}: {self.message}" if self.message else self.phase


def summary_table(results: Sequence[ReleaseResult]) -> Table:
    table = Table(title="summary", title_justify="left")
    columns = (
        "release",
        "outcome",
        "duration",
        "analysis",
        "canary weight",
        "new version's error rate",
        "stable after",
    )
    for column in columns:
        table.add_column(column)
    for result in results:
        rate = "n/a" if result.error_ratio is None else f"{100 * result.error_ratio:.2f}%"
        if result.requests is not None and result.error_ratio is not None:
            rate += f" of {result.requests:.0f} requests"
        outcome_style = {"Healthy": "green", "Degraded": "red"}.get(result.phase, "yellow")
        table.add_row(
            result.release,
            Text(result.outcome, style=outcome_style),
            f"{result.seconds:.0f}s",
            ", ".join(result.verdicts) or "-",
            result.weights_text,
            rate,
            result.stable_image,
        )
    return table


def result_lines(results: Sequence[ReleaseResult]) -> list[str]:
    """One plain line per release (what a log or a test reads; the table may be cut to the terminal's width)."""
    lines = []
    for result in results:
        rate = "n/a" if result.error_ratio is None else f"{100 * result.error_ratio:.2f}%"
        lines.append(
            f"release {result.release}: {result.outcome} after {result.seconds:.0f}s; "
            f"analysis: {', '.join(result.verdicts) or '-'}; canary weight {result.weights_text}; error rate {rate}; "
            f"stable {result.stable_image}"
        )
    return lines

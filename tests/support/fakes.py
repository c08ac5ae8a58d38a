"""Fakes for analysis tests: a scripted metric provider and a dict-backed secret resolver (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from analysis.args import RenderedProvider
from analysis.assess import Measurement
from analysis.errors import SecretResolutionError
from analysis.providers.base import Observation, ProviderError, measure_with
from analysis.spec import Metric


@dataclass
class Call:
    metric: str
    now: datetime
    body: Mapping[str, object]
    at: datetime | None


@dataclass
class ScriptedProvider:
    """Returns scripted observations per metric name; a ProviderError in the script becomes an Error measurement.

    ``default`` answers metrics without a script (or once a script is exhausted).
    """

    scripts: dict[str, list[object]] = field(default_factory=dict)
    default: object = 1.0
    calls: list[Call] = field(default_factory=list)
    hook: Callable[[str], None] | None = None

    def measure(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement:
        self.calls.append(Call(metric=metric.name, now=now, body=rendered.body, at=at))
        if self.hook is not None:
            self.hook(metric.name)
        script = self.scripts.get(metric.name)
        value = script.pop(0) if script else self.default

        def observe() -> Observation:
            if isinstance(value, BaseException):
                raise value
            return Observation(value=value, text=repr(value))

        return measure_with(metric, rendered, observe, now=now, metadata={"query": str(rendered.redacted)})

    def times(self, name: str) -> list[datetime]:
        return [call.now for call in self.calls if call.metric == name]


class DictSecrets:
    def __init__(self, values: Mapping[tuple[str, str], str] | None = None) -> None:
        self.values = dict(values or {})

    def resolve_secret(self, namespace: str, name: str, key: str) -> str:
        try:
            return self.values[(name, key)]
        except KeyError:
            raise SecretResolutionError(arg="?", secret=name, key=key, reason="not found") from None


__all__ = ["Call", "DictSecrets", "ProviderError", "ScriptedProvider"]  # ProviderError: scripts raise it

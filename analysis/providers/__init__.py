"""Metric providers: the Protocol (:mod:`analysis.providers.base`) and one module per provider.

- :mod:`analysis.providers.prometheus` -- instant PromQL queries (also at a past instant, for backtests);
- :mod:`analysis.providers.web` -- an HTTP call and a JSONPath into the JSON answer.

The Job provider lives with the controller (it needs the cluster). Providers are I/O modules: the pure core in
:mod:`analysis` never imports them; the metric runner (:mod:`analysis.runner`) looks them up by kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.providers.base import (
    MetricProvider,
    Observation,
    ProviderError,
    ProviderRegistry,
    error_measurement,
    format_go_float,
    is_loopback_url,
    measure_with,
)
from analysis.spec import ProviderKind

if TYPE_CHECKING:
    from workflows.runtime.httpio import HostAllowList

__all__ = [
    "MetricProvider",
    "Observation",
    "ProviderError",
    "ProviderRegistry",
    "default_providers",
    "error_measurement",
    "format_go_float",
    "is_loopback_url",
    "measure_with",
]


def default_providers(
    *, prometheus_address: str | None = None, allowed_hosts: HostAllowList | None = None
) -> ProviderRegistry:
    """prometheus + web: everything that needs no cluster. ``prometheus_address`` serves metrics without one;
    ``allowed_hosts`` is where web metrics may send requests (the controller's ``--web-metric-allowed-hosts``)."""
    from analysis.providers.prometheus import PrometheusProvider
    from analysis.providers.web import WebProvider
    from workflows.runtime.httpio import ALLOW_ALL_HOSTS

    return ProviderRegistry(
        {
            ProviderKind.PROMETHEUS: PrometheusProvider(default_address=prometheus_address),
            ProviderKind.WEB: WebProvider(allowed_hosts=allowed_hosts or ALLOW_ALL_HOSTS),
        }
    )

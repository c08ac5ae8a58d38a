"""Fixtures for analysis integration tests: a session Prometheus scraping a test-controlled exporter (and the
success-rate series several files query), history Prometheus servers, and loopback JSON servers. A missing
prometheus binary skips locally and fails under CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.components import require_prometheus
from tests.support.http import JsonServer, json_server
from tests.support.prometheus import Exporter, PrometheusServer

SUCCESS_RATES = {"ok": 0.99, "bad": 0.5, "meh": 0.8, "nan": float("nan")}


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    exporter = Exporter.start()
    yield exporter
    exporter.close()


@pytest.fixture(scope="session")
def prometheus(exporter: Exporter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One live Prometheus for the session, scraping :func:`exporter` every second. Tests use their own series."""
    require_prometheus()
    with PrometheusServer.start(tmp_path_factory.mktemp("prometheus"), scrape=exporter.address) as server:
        yield server


@pytest.fixture(scope="session")
def rates(exporter: Exporter, prometheus: PrometheusServer) -> str:
    """``canary_success_rate{case=...}`` in the session Prometheus (ok 0.99, bad 0.5, meh 0.8, nan NaN); its URL."""
    for case, value in SUCCESS_RATES.items():
        exporter.set("canary_success_rate", value, case=case)
    exporter.wait_scraped(prometheus)
    prometheus.wait_for('canary_success_rate{case="nan"}')  # the last one set
    return prometheus.url


@pytest.fixture
def history_prometheus() -> type[PrometheusServer]:
    """The server class, once the binaries are known to exist: ``with history_prometheus.with_history(dir, series)``."""
    require_prometheus()
    return PrometheusServer


@pytest.fixture
def web() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server

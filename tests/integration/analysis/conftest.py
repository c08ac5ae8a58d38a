"""Fixtures for analysis integration tests: a session Prometheus scraping a test-controlled exporter, history
Prometheus servers, and loopback JSON servers. A missing prometheus binary skips locally and fails under CI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import unavailable
from tests.support.http import JsonServer, json_server
from tests.support.prometheus import Exporter, PrometheusServer, PrometheusUnavailableError


def _require_prometheus() -> None:
    try:
        PrometheusServer.require_binaries()
    except PrometheusUnavailableError as error:
        unavailable(str(error))


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    exporter = Exporter.start()
    yield exporter
    exporter.close()


@pytest.fixture(scope="session")
def prometheus(exporter: Exporter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One live Prometheus for the session, scraping :func:`exporter` every second. Tests use their own series."""
    _require_prometheus()
    with PrometheusServer.start(tmp_path_factory.mktemp("prometheus"), scrape=exporter.address) as server:
        yield server


@pytest.fixture
def history_prometheus() -> type[PrometheusServer]:
    """The server class, once the binaries are known to exist: ``with history_prometheus.with_history(dir, series)``."""
    _require_prometheus()
    return PrometheusServer


@pytest.fixture
def web() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path

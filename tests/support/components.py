"""The real components the integration tier runs on (the local cluster's binaries, Debian's Prometheus): find them,
or say why not.

A missing component is :func:`unavailable`: a skip with the reason locally, a failure under ``CI=true``, because CI
must never pass by skipping what it is meant to test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from rollouts.devcluster import ClusterError, ensure_binaries
from rollouts.devcluster.prometheus import PrometheusServer, PrometheusUnavailableError

__all__ = ["IN_CI", "require_cluster_binaries", "require_prometheus", "unavailable"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip outside CI, fail under CI: a missing real component is never a silent pass there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: missing components fail the run)", pytrace=False)
    pytest.skip(reason)


def require_cluster_binaries(*, build: bool = IN_CI) -> Path:
    """The directory of the local cluster's binaries (built first when ``build``), or :func:`unavailable`."""
    try:
        return ensure_binaries(build=build)
    except ClusterError as error:
        unavailable(f"local cluster binaries are not built: {error}")


def require_prometheus() -> None:
    """Debian's ``prometheus`` and ``promtool`` are installed, or :func:`unavailable`."""
    try:
        PrometheusServer.require_binaries()
    except PrometheusUnavailableError as error:
        unavailable(str(error))

"""Errors of the local development cluster."""

from __future__ import annotations

__all__ = ["ClusterError"]


class ClusterError(RuntimeError):
    """The local cluster could not be built, started, reached or stopped; the message says which and why."""

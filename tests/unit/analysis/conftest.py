"""Fixtures of the analysis unit tests: a fresh virtual clock per test."""

from __future__ import annotations

import pytest

from tests.support.virtual_time import VirtualTime


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()

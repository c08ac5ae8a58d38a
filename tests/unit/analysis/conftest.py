"""Fixtures of the analysis unit tests: every async test runs on a virtual-time event loop, with its wall clock.

The executor waits with loop timers (a metric's next interval, an error's retry) and the fakes wait with
``asyncio.sleep`` (a Job's duration), so on a :class:`~tests.support.virtual_time.VirtualTimeLoop` hours of schedule
take microseconds and measurement instants are exact.
"""

from __future__ import annotations

import pytest

from tests.support.virtual_time import VirtualTime, VirtualTimeLoop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, type[VirtualTimeLoop]]:
    return {"virtual-time": VirtualTimeLoop}


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()

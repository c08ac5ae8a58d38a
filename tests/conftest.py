"""Test-suite wiring shared by every tier: markers applied by path and the e2e opt-in flag.

Tiers live in folders (``tests/unit``, ``tests/integration``, ``tests/e2e``) and the marker follows the folder, so a
test cannot be filed in one tier and marked as another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_TIERS = ("unit", "integration", "e2e")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--e2e", action="store_true", default=False, help="run the kind-based e2e tier")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    run_e2e = bool(config.getoption("--e2e"))
    for item in items:
        relative = Path(str(item.fspath)).relative_to(root)
        tier = relative.parts[0]
        if tier not in _TIERS:
            raise pytest.UsageError(f"{relative}: tests must live under one of {', '.join(_TIERS)}")
        item.add_marker(getattr(pytest.mark, tier))
        if tier == "e2e" and not run_e2e:
            item.add_marker(pytest.mark.skip(reason="e2e tier is opt-in: pass --e2e"))

"""Shared fixtures of the CRD unit tests: the committed CRDs, loaded once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.crd_validator import load_crds


@pytest.fixture(scope="session")
def crds() -> dict[str, dict[str, Any]]:
    loaded = load_crds()
    assert loaded, "crds/ holds no CRD manifests"
    return loaded

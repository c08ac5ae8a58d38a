"""Shared fixtures of the CRD unit tests: the committed CRDs, loaded once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
# The helper modules beside this file (crd_validation, crd_cases) and the generator under tools/ are plain
# modules, not installed packages.
for entry in (str(HERE), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from crd_validation import load_crds  # noqa: E402


@pytest.fixture(scope="session")
def crds() -> dict[str, dict[str, Any]]:
    loaded = load_crds()
    assert loaded, "crds/ holds no CRD manifests"
    return loaded

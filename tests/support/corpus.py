"""Where the shared corpus of real Argo manifests lives: ``shared/corpus`` beside the repository checkout.

CI lays a copy of ``shared/`` next to its fresh clone, as the workplace does for development checkouts, so the path
is relative to the repository, never absolute. ``ROLLOUTS_CORPUS`` overrides it. A missing corpus is an error,
not an empty parametrisation: tests that load it must never pass by running nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CORPUS", "corpus_dir"]

REPO = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    path = Path(os.environ.get("ROLLOUTS_CORPUS") or REPO.parent / "shared" / "corpus")
    if not (path / "argo-rollouts").is_dir() or not (path / "argo-workflows").is_dir():
        raise FileNotFoundError(f"the shared corpus is missing at {path}; set ROLLOUTS_CORPUS to its location")
    return path


CORPUS = corpus_dir()

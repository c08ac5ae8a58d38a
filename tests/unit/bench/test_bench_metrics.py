"""The pure parts of bench/bench_metrics.py: counting samples, the results block and where it is written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_PATH = Path(__file__).resolve().parents[3] / "bench" / "bench_metrics.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_metrics", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_metrics"] = module
    spec.loader.exec_module(module)
    return module


def test_samples_are_the_lines_that_are_not_comments(bench: ModuleType) -> None:
    text = '# HELP a A.\n# TYPE a gauge\na{x="1"} 1\na{x="2"} 0\n\nb 3\n'
    assert bench.sample_count(text) == 3


def test_the_block_gives_both_states_and_their_ratios(bench: ModuleType) -> None:
    empty = bench.Scrapes("empty controller", 10_000, 2_000, 100, [2.0, 3.0, 4.0], [3.0, 4.0, 5.0], 1.0)
    loaded = bench.Scrapes("200 Rollouts", 510_000, 42_000, 5_100, [20.0, 30.0, 40.0], [40.0, 44.0, 48.0], 25.0)
    block = bench.table(empty, loaded, n=200, when="today", machine="2 cores")
    assert "| empty controller | 100 | 10,000 | 2,000 | 3.0 / 4.0 | 4.0 / 5.0 | 1.0 |" in block
    assert "| 200 Rollouts | 5,100 | 510,000 | 42,000 | 30.0 / 40.0 | 44.0 / 48.0 | 25.0 |" in block
    assert "bytes 51.0x plain, 21.0x gzip" in block
    assert "median time 10.0x plain, 11.0x gzip" in block
    assert "CPU per scrape 25.0x" in block
    assert "adds 2,500 bytes (25 samples)" in block


def test_the_block_replaces_only_what_is_between_the_markers(bench: ModuleType) -> None:
    document = f"# Doc\n\n{bench.BEGIN}\nold\n{bench.END}\n\nafter\n"
    assert bench.replace_block(document, "new") == f"# Doc\n\n{bench.BEGIN}\nnew\n{bench.END}\n\nafter\n"

"""The committed crds/*.yaml are exactly what tools/crdgen produces: nobody edits the YAML by hand."""

from __future__ import annotations

from pathlib import Path

from tools import crdgen
from tools.crdgen.__main__ import main


def test_committed_crds_equal_generator_output() -> None:
    stale = crdgen.stale_files()
    assert stale == [], f"run `python -m tools.crdgen`: {stale} differ from the generator output"


def test_generator_writes_one_file_per_kind(tmp_path: Path) -> None:
    written = crdgen.write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(crdgen.BUILDERS)
    assert crdgen.stale_files(tmp_path) == []


def test_stale_file_is_detected(tmp_path: Path) -> None:
    crdgen.write_all(tmp_path)
    target = tmp_path / "rollouts.yaml"
    target.write_text(target.read_text(encoding="utf-8").replace("default: 10", "default: 11"), encoding="utf-8")
    assert crdgen.stale_files(tmp_path) == ["rollouts.yaml"]


def test_check_mode_exit_code_reflects_committed_files() -> None:
    assert main(["--check"]) == 0

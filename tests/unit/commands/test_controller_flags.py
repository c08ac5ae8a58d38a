"""`rollouts controller`'s request limits and workers: a value that could never work is a usage error, at once."""

from __future__ import annotations

import pytest

from rollouts.cli import main


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--qps", "0", "must be above 0 (got 0)"),
        ("--burst", "-1", "must be above 0 (got -1)"),
        ("--workers", "x", "'x' is not a number"),
    ],
)
def test_a_limit_that_could_never_work_is_refused_with_its_flag(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["controller", flag, value])
    assert exited.value.code == 2
    assert f"argument {flag}: {message}" in capsys.readouterr().err

"""``rollouts workflow run`` (the real command, in its own process) with ``timeout: 1s`` against an endpoint that
hangs 5 s exits about 1 s in: the step's request is cancelled and its connection closed, so the process has nothing
left to wait for. (Before, it failed the step after 1 s but exited only when the HTTP call returned, 5.4 s.)

The wall-clock bound has a wide margin (3.5 s against the 5 s hang, for a loaded CI machine); the unit tier proves
the same without a clock (``tests/unit/workflows/test_hung_http_steps_are_abandoned.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.hung import HUNG_WORKFLOW, hung_server

HANG = 5.0
BOUND = 3.5  # seconds from start to exit: the 1 s timeout plus interpreter start-up and a wide margin


def test_the_command_exits_at_the_step_timeout_not_when_the_endpoint_answers(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    with hung_server(hang=HANG) as hung:
        path.write_text(HUNG_WORKFLOW.format(url=hung.url))
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from rollouts.cli import main; sys.exit(main())",
                "workflow",
                "run",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
            check=False,
        )
        took = time.monotonic() - started
        assert done.returncode == 1, done.stdout + done.stderr
        assert "did not finish within 1s" in done.stdout
        assert took < BOUND, f"exited after {took:.2f}s"
        assert hung.wait_until(lambda s: s.abandoned == 1, timeout=1.0)
        assert hung.answered == 0

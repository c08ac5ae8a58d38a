"""``make demo`` is also a test: ``python -m rollouts.demo --fast`` must promote the good release, abort the bad one
by analysis with the HTTPRoute's canary weight sent back to 0% (stable 100%), say so in its summary, exit 0 and
leave no process behind.

It starts its own local cluster, Prometheus and controller (no session fixtures), exactly as a user's run does.
A missing Prometheus or cluster build skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.cluster import REPO
from tests.support.components import require_cluster_binaries, require_prometheus


def _demo_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker`` (the demo's work directory)."""
    result = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if marker in line and "ps -eo" not in line]


def test_fast_demo_promotes_the_good_release_and_aborts_the_bad_one() -> None:
    require_prometheus()
    require_cluster_binaries()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run(
        [sys.executable, "-m", "rollouts.demo", "--fast"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"demo exited {result.returncode}:\n{output[-8000:]}"

    good = re.search(r"^release demo:1\.0 -> demo:2\.0: (.*)$", output, re.MULTILINE)
    bad = re.search(r"^release demo:2\.0 -> demo:3\.0-bad: (.*)$", output, re.MULTILINE)
    assert good, output[-4000:]
    assert bad, output[-4000:]
    assert good.group(1).startswith("promoted, Healthy"), good.group(0)
    assert "step 1 Successful, step 4 Successful" in good.group(1), good.group(0)
    assert good.group(1).endswith("stable demo:2.0"), good.group(0)
    assert bad.group(1).startswith("aborted, Degraded"), bad.group(0)
    assert "Failed" in bad.group(1), bad.group(0)
    assert bad.group(1).endswith("stable demo:2.0"), bad.group(0)

    # Routed through the HTTPRoute: the good release went all the way to 100% before it became stable, the bad one
    # never got past the first step's 20%, and both ended with everything on the stable Service.
    assert "canary weight max 100%, final 0/100;" in good.group(1), good.group(0)
    assert "canary weight max 20%, final 0/100;" in bad.group(1), bad.group(0)
    weights = [
        (int(canary), int(stable))
        for canary, stable in re.findall(r"^  HTTPRoute demo: canary (\d+) / stable (\d+)$", output, re.MULTILINE)
    ]
    assert all(canary + stable == 100 for canary, stable in weights), weights
    good_start, bad_start = output.index("release demo:2.0 (stable"), output.index("release demo:3.0-bad (stable")
    route_change = re.compile(r"^  HTTPRoute demo: canary (\d+) / stable (\d+)$", re.MULTILINE)
    good_weights = [int(c) for c, _ in route_change.findall(output[good_start:bad_start])]
    bad_weights = [int(c) for c, _ in route_change.findall(output[bad_start:])]
    assert good_weights == [0, 20, 50, 100, 0], good_weights
    assert bad_weights == [0, 20, 0], bad_weights

    # The error rates in the summary are Prometheus' measurements of what the simulated app served.
    good_rate = float(re.search(r"error rate ([\d.]+)%", good.group(1)).group(1))  # type: ignore[union-attr]
    bad_rate = float(re.search(r"error rate ([\d.]+)%", bad.group(1)).group(1))  # type: ignore[union-attr]
    assert good_rate < 2.0
    assert 15.0 < bad_rate < 35.0

    assert "demo passed" in output
    assert "every process stopped, nothing left running" in output
    work = re.search(r"^work directory (\S+)", output, re.MULTILINE)
    assert work, output[:2000]
    assert not _demo_processes(work.group(1)), "the demo left processes running"

"""`rollouts cluster up|env|down` manage a detached cluster and leave no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.cluster import run_cli, wait_for
from tests.support.components import require_cluster_binaries


def rollouts(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("cluster", f"--state-dir={state_dir}", *args, timeout=180)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def test_up_env_down_round_trip_leaves_no_processes(tmp_path: Path) -> None:
    require_cluster_binaries(build=False)
    state_dir = tmp_path / "cli-cluster"
    up = rollouts("up", "--nodes=1", state_dir=state_dir)
    try:
        assert up.returncode == 0, up.stderr
        assert "cluster ready in" in up.stdout
        state = json.loads((state_dir / "state.json").read_text())
        pids = list(state["processes"].values())
        assert sorted(state["processes"]) == sorted(
            ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "pod-planner"]
        )
        assert all(alive(pid) for pid in pids)

        env = rollouts("env", state_dir=state_dir)
        assert env.returncode == 0
        assert f"export KUBECONFIG={state_dir / 'kubeconfig'}" in env.stdout

        again = rollouts("up", state_dir=state_dir)
        assert again.returncode == 1
        assert "already running" in again.stderr

        # A component that dies later is not left to be guessed from pods that never start.
        os.killpg(state["processes"]["pod-planner"], signal.SIGKILL)
        wait_for(lambda: not alive(state["processes"]["pod-planner"]), timeout=10, what="the pod planner to exit")
        warned = rollouts("env", state_dir=state_dir)
        assert warned.returncode == 0
        assert "warning: pod-planner is no longer running" in warned.stderr
        assert "pod-planner.log" in warned.stderr
    finally:
        down = rollouts("down", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    assert "cluster stopped" in down.stdout
    assert not any(alive(pid) for pid in pids)
    assert not (state_dir / "state.json").exists()
    assert rollouts("env", state_dir=state_dir).returncode == 1


@pytest.mark.parametrize("nodes", [0])
def test_env_without_a_cluster_explains_how_to_start_one(tmp_path: Path, nodes: int) -> None:
    result = rollouts("env", state_dir=tmp_path / f"none-{nodes}")
    assert result.returncode == 1
    assert "rollouts cluster up" in result.stderr

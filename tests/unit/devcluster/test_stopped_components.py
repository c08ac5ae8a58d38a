"""A cluster names the components whose processes have exited since its start, from its state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rollouts.devcluster import LocalCluster


def test_components_whose_process_groups_are_gone_are_named(tmp_path: Path) -> None:
    exited = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    exited.wait()
    state = {"processes": {"kube-apiserver": os.getpgid(0), "pod-planner": exited.pid}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert LocalCluster(state_dir=tmp_path).stopped_components() == ["pod-planner"]


def test_a_directory_without_a_cluster_has_nothing_stopped(tmp_path: Path) -> None:
    assert LocalCluster(state_dir=tmp_path).stopped_components() == []

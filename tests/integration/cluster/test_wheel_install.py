"""The built wheel installs itself: `pip install` into an empty virtualenv, then `rollouts install` with no checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.cluster import REPO, Kube


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}{result.stdout[-2000:]}"
    return result


def test_the_wheel_in_an_empty_virtualenv_prints_and_installs_its_manifests(kube: Kube, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, REPO, cwd=tmp_path)
    [wheel] = wheels.glob("rollouts-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "pip", "install", "--quiet", wheel, cwd=tmp_path)
    where = _run(venv / "bin" / "python", "-c", "import rollouts, workflows; print(rollouts.__file__)", cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the installed copy, not this checkout

    printed = _run(venv / "bin" / "rollouts", "install", "--print", cwd=tmp_path).stdout
    checkout = _run(sys.executable, "-m", "rollouts.cli", "install", "--print", cwd=REPO).stdout
    assert printed == checkout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(printed) if doc]
    assert kinds.count("CustomResourceDefinition") == 6

    applied = _run(venv / "bin" / "rollouts", "install", f"--kubeconfig={kube.kubeconfig}", cwd=tmp_path).stdout
    assert "applied CustomResourceDefinition rollouts.rollouts.dev" in applied
    assert "applied Role rollouts-controller-leader-election -n rollouts-system" in applied

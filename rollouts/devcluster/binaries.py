"""Where the local cluster's binaries come from: a cache filled by ``tools/cluster/build.sh``.

The binaries are built from pinned Go modules (see ``tools/cluster/*/go.mod``) and cached outside the repository,
keyed by a hash of those pins, so a fresh machine builds once and every later start reuses the build. An explicit
``ROLLOUTS_CLUSTER_BIN`` directory wins, for users who bring their own binaries.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rollouts.devcluster.errors import ClusterError

__all__ = ["BINARIES", "build_script", "ensure_binaries"]

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")


def build_script() -> Path:
    """The build script of the source tree this package was installed from (editable installs)."""
    return Path(__file__).resolve().parents[2] / "tools" / "cluster" / "build.sh"


def _complete(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in BINARIES)


def ensure_binaries(*, build: bool = True) -> Path:
    """Return a directory holding every cluster binary, building them first when allowed and needed."""
    explicit = os.environ.get("ROLLOUTS_CLUSTER_BIN")
    if explicit:
        directory = Path(explicit)
        if not _complete(directory):
            missing = [name for name in BINARIES if not os.access(directory / name, os.X_OK)]
            raise ClusterError(f"ROLLOUTS_CLUSTER_BIN={directory} lacks executables: {', '.join(missing)}")
        return directory
    script = build_script()
    if not script.exists():
        raise ClusterError(
            f"cannot find {script}: run from a source checkout or set ROLLOUTS_CLUSTER_BIN to a directory "
            f"holding {', '.join(BINARIES)}"
        )
    # build.sh prints progress on stderr (left attached, so a cold build is visible) and the directory last on stdout.
    args = [str(script)] if build else [str(script), "--print"]
    result = subprocess.run(args, check=False, stdout=subprocess.PIPE, text=True)  # noqa: S603
    if result.returncode != 0 or not result.stdout.strip():
        hint = "the build failed (see its output above)" if build else "binaries are not built yet"
        raise ClusterError(f"{script.name}: {hint}; run `{script}` to build them")
    output = result.stdout
    directory = Path(output.strip().splitlines()[-1])
    if not _complete(directory):
        raise ClusterError(f"{script.name} reported {directory}, but some binaries are missing there")
    return directory

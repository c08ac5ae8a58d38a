"""Where the peer lives: Argo Rollouts built from its pinned Go module by ``tools/conformance/build.sh``.

The build is cached outside the repository, keyed by Argo's version (a cold build takes ~25 min); this module
runs the script (a no-op when built) and hands out paths into the result. ``ROLLOUTS_ARGO_DIR=/dir`` uses a build
you bring instead (the same layout: ``src/`` the module copy, ``bin/`` the three binaries).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BUILD_SCRIPT", "Peer", "PeerError", "ensure_peer", "test2json"]

BUILD_SCRIPT = Path(__file__).with_name("build.sh")
_BINARIES = ("rollouts-controller", "kubectl-argo-rollouts", "e2e.test")
_BUILT_MODULE = re.compile(r"^module: \S+@(v\S+)$", re.MULTILINE)
_PINNED_VERSION = re.compile(r'^ARGO_VERSION="(v[^"]+)"$', re.MULTILINE)


class PeerError(Exception):
    """The peer cannot be built or found."""


@dataclass(frozen=True)
class Peer:
    root: Path

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def e2e_dir(self) -> Path:
        """The e2e suite's working directory: it reads its fixtures (``@functional/...``) relative to it."""
        return self.src / "test" / "e2e"

    @property
    def e2e_binary(self) -> Path:
        return self.root / "bin" / "e2e.test"

    @property
    def controller_binary(self) -> Path:
        return self.root / "bin" / "rollouts-controller"

    @property
    def crds_dir(self) -> Path:
        """Argo's published CRDs (a kustomization: apply with ``-k``)."""
        return self.src / "manifests" / "crds"

    @property
    def istio_crds(self) -> Path:
        """The Istio CRDs Argo's own e2e CI installs (``test/e2e/crds/istio.yaml``)."""
        return self.e2e_dir / "crds" / "istio.yaml"

    @property
    def cluster_role(self) -> Path:
        """Argo's published ClusterRole for its controller."""
        return self.src / "manifests" / "role" / "argo-rollouts-clusterrole.yaml"

    @property
    def version(self) -> str:
        """The module version built: BUILD-INFO's ``module:`` line, else the pin in ``build.sh``.

        Not the module's ``VERSION`` file, which Argo does not bump for patch releases (v1.10.1 says 1.2.0).
        """
        for path, pattern in ((self.root / "BUILD-INFO", _BUILT_MODULE), (BUILD_SCRIPT, _PINNED_VERSION)):
            try:
                found = pattern.search(path.read_text())
            except OSError:
                continue
            if found:
                return found.group(1)
        return "unknown version"

    def e2e_sources(self) -> list[str]:
        return [path.read_text() for path in sorted(self.e2e_dir.glob("*_test.go"))]

    def check(self) -> None:
        missing = [name for name in _BINARIES if not os.access(self.root / "bin" / name, os.X_OK)]
        if missing or not self.e2e_dir.is_dir():
            what = ", ".join(missing) if missing else "src/test/e2e"
            raise PeerError(f"{self.root} is not a complete Argo Rollouts build: missing {what}")


def ensure_peer(*, build: bool = True) -> Peer:
    """The built peer, building it first when allowed and needed (progress on stderr: a cold build takes long)."""
    explicit = os.environ.get("ROLLOUTS_ARGO_DIR")
    if explicit:
        peer = Peer(Path(explicit))
        peer.check()
        return peer
    args = [str(BUILD_SCRIPT)] if build else [str(BUILD_SCRIPT), "--print"]
    result = subprocess.run(args, check=False, stdout=subprocess.PIPE, text=True)  # noqa: S603
    if result.returncode != 0 or not result.stdout.strip():
        hint = "the build failed (see its output above)" if build else "Argo Rollouts is not built yet"
        raise PeerError(f"{BUILD_SCRIPT.name}: {hint}; run `{BUILD_SCRIPT}`")
    peer = Peer(Path(result.stdout.strip().splitlines()[-1]))
    peer.check()
    return peer


def test2json() -> Path:
    """Go's test2json tool (from the toolchain that built the peer), which frames the e2e binary's output as JSON."""
    go = shutil.which("go")
    if go is None:
        raise PeerError("Go is required (its test2json tool reads the e2e binary's output)")
    result = subprocess.run(  # noqa: S603
        [go, "tool", "-n", "test2json"],
        check=False,
        capture_output=True,
        text=True,
        env=os.environ | {"GOTOOLCHAIN": "local"},
    )
    path = Path(result.stdout.strip())
    if result.returncode != 0 or not os.access(path, os.X_OK):
        raise PeerError(f"`go tool -n test2json` found no tool: {result.stderr.strip()}")
    return path

"""The local development cluster: real Kubernetes control-plane binaries plus KWOK, run as plain processes.

No Docker needed. ``tools/cluster/build.sh`` builds the binaries from pinned Go modules into a cache;
:class:`LocalCluster` starts them with generated certificates and RBAC, and tears them down without orphans. Pods are
simulated honestly enough for failure paths (exit codes, crash loops, unpullable images, probe and preStop delays):
:mod:`rollouts.devcluster.podsim` decides how each pod would run, ``kwok-stages.yaml`` plays it out.
Used by ``rollouts cluster up|down|env`` and by the integration-test fixtures.
"""

from rollouts.devcluster.binaries import BINARIES, ensure_binaries
from rollouts.devcluster.cluster import ClusterInfo, LocalCluster, default_state_dir, running_cluster
from rollouts.devcluster.errors import ClusterError

__all__ = [
    "BINARIES",
    "ClusterError",
    "ClusterInfo",
    "LocalCluster",
    "default_state_dir",
    "ensure_binaries",
    "running_cluster",
]

#!/usr/bin/env bash
# Build the local cluster's binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok) from the pinned Go modules next to this script, into a cache outside the repository.
#
# The cache key is a hash of the wrapper go.mod/go.sum files, so a pin change rebuilds and nothing else does.
# Prints the bin directory on its last line of stdout. Progress goes to stderr.
#
#   tools/cluster/build.sh            # build if missing, print the bin dir
#   tools/cluster/build.sh --print    # print the bin dir only (exit 1 when not built)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rollouts}"
key="$(cat "$here"/*/go.mod "$here"/*/go.sum "$here/build.sh" | sha256sum | cut -c1-16)"
bin="$cache_root/cluster-$key/bin"
k8s_version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/kubernetes/go.mod")"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

built() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if [[ "${1:-}" == "--print" ]]; then
  built && { echo "$bin"; exit 0; }
  exit 1
fi

if built; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the local cluster" >&2; exit 2; }
mkdir -p "$bin.partial"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
start=$SECONDS

log() { echo "[cluster build $((SECONDS - start))s] $*" >&2; }

# etcd and kwok pin their own k8s.io/* versions, hence separate modules.
log "etcd"
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin.partial/etcd" go.etcd.io/etcd/server/v3)
log "kwok"
(cd "$here/kwok" && go build -trimpath -ldflags "-s -w" -o "$bin.partial/kwok" sigs.k8s.io/kwok/cmd/kwok)
major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
ver_flags="-X k8s.io/component-base/version.gitVersion=$k8s_version"
ver_flags+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
ver_flags+=" -X k8s.io/component-base/version.gitTreeState=clean"
ver_flags+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  log "$cmd ($k8s_version)"
  (cd "$here/kubernetes" && go build -trimpath -ldflags "-s -w $ver_flags" -o "$bin.partial/$cmd" "k8s.io/kubernetes/cmd/$cmd")
done
rm -rf "$bin"
mv "$bin.partial" "$bin"
log "done: $(du -sh "$bin" | cut -f1) in $bin"
echo "$bin"

#!/usr/bin/env bash
# Build the PEER of the conformance harness: Argo Rollouts' controller, its kubectl plugin and its e2e test binary,
# from the published Go module github.com/argoproj/argo-rollouts at a pinned version, into a cache outside the
# repository. Nothing of Argo's code is ever committed to ours: only the pin (version + module hash) and this script.
#
# Reproducible: the module zip is verified twice (by the Go checksum database as the go command downloads it, and
# against the hash pinned below); the build uses the module's own go.sum read-only, the local Go toolchain only
# (GOTOOLCHAIN=local), CGO_ENABLED=0, -trimpath and no VCS stamping, so the same Go version gives the same bytes.
# The cache directory is keyed by the Argo version only: a cold build takes ~25 minutes on two cores, so a new Go
# toolchain or an edit of this script does not throw a working build away. BUILD-INFO records what built it; remove
# the directory (or change ARGO_VERSION) to build afresh.
#
#   tools/conformance/build.sh            # build if missing, print the directory
#   tools/conformance/build.sh --print    # print the directory only (exit 1 when not built)
#
# Layout of the directory (printed on the last line of stdout; progress goes to stderr):
#   src/                 a writable copy of the module (the e2e suite reads its fixtures from src/test/e2e)
#   bin/rollouts-controller, bin/kubectl-argo-rollouts, bin/e2e.test   (go test -c -tags e2e ./test/e2e)
#   BUILD-INFO           what was built, from what, with what
#
# Pinned at v1.10.1: v1.10.2 needs a newer Go than this machine's. The e2e binary needs the same module's CRDs
# (src/manifests/crds), which the harness installs from the same directory.
set -euo pipefail

ARGO_MODULE="github.com/argoproj/argo-rollouts"
ARGO_VERSION="v1.10.1"
# The go.sum line of the module zip (h1: hash), as published in sum.golang.org.
ARGO_MODULE_SUM="h1:6oyVPGiHHxu3ixkT6mngemh88HLPDoTX1IwO6KNR1Y4="

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rollouts}"
binaries=(rollouts-controller kubectl-argo-rollouts e2e.test)

out="$cache_root/argo-rollouts-$ARGO_VERSION"

built() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$out/bin/$b" ]] || return 1; done
  [[ -d "$out/src/test/e2e" && -d "$out/src/manifests/crds" ]]
}

if [[ "${1:-}" == "--print" ]]; then
  built && { echo "$out"; exit 0; }
  exit 1
fi
if built; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build Argo Rollouts" >&2; exit 2; }
export GOTOOLCHAIN=local
go_version="$(go env GOVERSION)"
script_sum="$(sha256sum "$here/build.sh" | cut -c1-12)"
start=$SECONDS
log() { echo "[argo build $((SECONDS - start))s] $*" >&2; }

# Download outside any module (a temporary directory), so no go.mod around us changes what is fetched.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
log "downloading $ARGO_MODULE@$ARGO_VERSION"
(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$ARGO_MODULE@$ARGO_VERSION") >"$scratch/download.json"
field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p" "$scratch/download.json"; }
module_dir="$(field Dir)"
module_sum="$(field Sum)"
[[ -n "$module_dir" && -d "$module_dir" ]] || { echo "build.sh: go mod download gave no directory" >&2; exit 1; }
if [[ "$module_sum" != "$ARGO_MODULE_SUM" ]]; then
  echo "build.sh: $ARGO_MODULE@$ARGO_VERSION has hash $module_sum, pinned $ARGO_MODULE_SUM" >&2
  exit 1
fi

rm -rf "$out.partial"
mkdir -p "$out.partial/bin"
cp -r "$module_dir" "$out.partial/src"
chmod -R u+w "$out.partial/src"  # the module cache is read-only; the e2e suite and Go's test runner need not be

export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
flags=(-trimpath -ldflags "-s -w")
cd "$out.partial/src"
log "rollouts-controller ($go_version)"
go build "${flags[@]}" -o "$out.partial/bin/rollouts-controller" ./cmd/rollouts-controller
log "kubectl-argo-rollouts"
go build "${flags[@]}" -o "$out.partial/bin/kubectl-argo-rollouts" ./cmd/kubectl-argo-rollouts
log "e2e.test (go test -c -tags e2e ./test/e2e)"
go test -c -tags e2e "${flags[@]}" -o "$out.partial/bin/e2e.test" ./test/e2e

cat >"$out.partial/BUILD-INFO" <<EOF
module: $ARGO_MODULE@$ARGO_VERSION
module-sum: $module_sum
go: $go_version $(go env GOOS)/$(go env GOARCH)
env: CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=$GOFLAGS
flags: ${flags[*]}
e2e: go test -c -tags e2e ${flags[*]} ./test/e2e
script: tools/conformance/build.sh sha256:$script_sum
EOF
(cd "$out.partial/bin" && sha256sum "${binaries[@]}") >>"$out.partial/BUILD-INFO"

cd /
rm -rf "$out"
mv "$out.partial" "$out"
log "done: $(du -sh "$out/bin" | cut -f1) of binaries in $out"
echo "$out"

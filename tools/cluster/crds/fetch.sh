#!/usr/bin/env bash
# Fetch the PUBLISHED Istio, Gateway API and Argo Rollouts CRD manifests at the versions pinned by the wrapper modules
# next to this script (istio/go.mod, gateway-api/go.mod, argo-rollouts/go.mod), through the Go module proxy, into a
# cache outside the repository. Argo's CRDs are what drop-in mode serves (`rollouts install --api-group argoproj.io`).
#
# The router integration tests install exactly these files, so every VirtualService, DestinationRule and HTTPRoute
# our routers write is validated by the real upstream schema. The manifests are never committed: only the pins
# (go.mod + go.sum, which also make the download verified) and this script.
#
# The cache key is a hash of the pins and this script. Prints the CRD directory on its last line of stdout; progress
# goes to stderr.
#
#   tools/cluster/crds/fetch.sh           # fetch if missing, print the directory
#   tools/cluster/crds/fetch.sh --print   # print the directory only (exit 1 when not fetched)
#
# Layout of the directory: istio/customresourcedefinitions.gen.yaml, gateway-api/<one file per CRD>.yaml,
# argo-rollouts/<kind>-crd.yaml
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rollouts}"
key="$(cat "$here"/*/go.mod "$here"/*/go.sum "$here/fetch.sh" | sha256sum | cut -c1-16)"
out="$cache_root/crds-$key"

fetched() {
  [[ -s "$out/istio/customresourcedefinitions.gen.yaml" && -s "$out/gateway-api/gateway.networking.k8s.io_httproutes.yaml" \
     && -s "$out/argo-rollouts/rollout-crd.yaml" ]]
}

if [[ "${1:-}" == "--print" ]]; then
  fetched && { echo "$out"; exit 0; }
  exit 1
fi
if fetched; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "fetch.sh: Go is required to fetch the CRD manifests" >&2; exit 2; }
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

# The module's extracted directory in the module cache (verified against the wrapper's go.sum).
module_dir() {
  local wrapper="$1" module="$2"
  (cd "$here/$wrapper" && go mod download -json "$module") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

rm -rf "$out.partial"
mkdir -p "$out.partial/istio" "$out.partial/gateway-api" "$out.partial/argo-rollouts"

istio="$(module_dir istio istio.io/api)"
[[ -n "$istio" ]] || { echo "fetch.sh: go mod download istio.io/api gave no directory" >&2; exit 1; }
echo "[crds] istio.io/api from $istio" >&2
cp "$istio/kubernetes/customresourcedefinitions.gen.yaml" "$out.partial/istio/"

gateway="$(module_dir gateway-api sigs.k8s.io/gateway-api)"
[[ -n "$gateway" ]] || { echo "fetch.sh: go mod download sigs.k8s.io/gateway-api gave no directory" >&2; exit 1; }
echo "[crds] sigs.k8s.io/gateway-api from $gateway" >&2
# Only CustomResourceDefinitions (the standard channel also ships a ValidatingAdmissionPolicy, not a CRD).
for file in "$gateway"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  grep -q '^kind: CustomResourceDefinition' "$file" && cp "$file" "$out.partial/gateway-api/"
done
argo="$(module_dir argo-rollouts github.com/argoproj/argo-rollouts)"
[[ -n "$argo" ]] || { echo "fetch.sh: go mod download github.com/argoproj/argo-rollouts gave no directory" >&2; exit 1; }
echo "[crds] github.com/argoproj/argo-rollouts from $argo" >&2
cp "$argo"/manifests/crds/*-crd.yaml "$out.partial/argo-rollouts/"
chmod -R u+w "$out.partial"  # the module cache is read-only; the copies need not be

rm -rf "$out"
mv "$out.partial" "$out"
echo "$out"

#!/usr/bin/env bash
# Build helm from the Go module proxy into a cache outside the repository (the chart's tests lint, render and install
# deploy/helm/rollouts with it). Prints the binary's path on its last line of stdout; progress goes to stderr.
#
#   tools/helm/build.sh            # build if missing (~2 min cold), print the path
#   tools/helm/build.sh --print    # print the path only (exit 1 when not built)
set -euo pipefail
version=v3.21.4
cache_root="${ROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rollouts}"
dir="$cache_root/helm-$version"
if [[ -x "$dir/helm" ]]; then echo "$dir/helm"; exit 0; fi
[[ "${1:-}" == "--print" ]] && exit 1
command -v go >/dev/null || { echo "tools/helm/build.sh: Go is required to build helm" >&2; exit 2; }
echo "[helm build] helm.sh/helm/v3@$version" >&2
mkdir -p "$dir.partial"
# helm's module has no replace directives, so `go install module@version` builds exactly the pinned release.
GOBIN="$dir.partial" CGO_ENABLED=0 GOTOOLCHAIN=local \
  go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" \
  "helm.sh/helm/v3/cmd/helm@$version" >&2
rm -rf "$dir"; mv "$dir.partial" "$dir"
echo "$dir/helm"

#!/usr/bin/env bash
# Run one of the Go programs of tools/argo inside Argo Rollouts' v1.10.1 module (the writable copy the conformance
# harness builds, tools/conformance/build.sh), so Argo's packages and its pinned k8s.io/api are the ones compiled in.
#   tools/argo/run.sh podshape > rollouts/core/go_shapes/argo.json     # (make argo-shapes)
#   tools/argo/run.sh podhash < cases.jsonl                             # Argo's pod-template hash per line
#   tools/argo/run.sh stephash < steps.jsonl                            # Argo's currentStepHash per line
set -euo pipefail
name="${1:?usage: tools/argo/run.sh podshape|podhash|stephash}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
argo="$("$here/../conformance/build.sh")"
mkdir -p "$argo/src/hack/$name"
cp "$here/$name.go" "$argo/src/hack/$name/main.go"
cd "$argo/src"
GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" go build -o "$argo/bin/$name" "./hack/$name"
exec "$argo/bin/$name"

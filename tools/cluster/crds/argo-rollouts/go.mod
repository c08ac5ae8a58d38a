// Wrapper module: pins the Argo Rollouts release whose published CRDs drop-in mode installs
// (`rollouts install --api-group argoproj.io`) and the conformance harness runs against.
module rollouts.dev/tools/cluster/crds/argo-rollouts

go 1.26.0

require github.com/argoproj/argo-rollouts v1.10.1

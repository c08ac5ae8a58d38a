// Wrapper module: pins the Istio API release whose published CRD manifest the router tests install.
module rollouts.dev/tools/cluster/crds/istio

go 1.26.0

require istio.io/api v1.31.4

// Wrapper module: pins the Gateway API release whose published standard-channel CRDs the router tests install.
module rollouts.dev/tools/cluster/crds/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.3

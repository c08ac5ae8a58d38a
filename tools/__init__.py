"""Developer tools of the repository (not installed): CRD generation, the local cluster build, conformance."""

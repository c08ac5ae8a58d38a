"""The conformance harness: Argo Rollouts' own e2e suite, run against Argo's controller or ours.

Drop-in mode promises that a cluster can swap Argo Rollouts' controller for ours with nothing else changed; the
strongest evidence is Argo's e2e suite passing against ours. This package runs that suite, built from Argo's
published Go module (``build.sh``, cached outside the repository: nothing of Argo's code is committed here), on a
fresh local cluster per controller, and reports per suite and test: passed, failed, or not applicable with a reason.
Argo's own controller run through the same harness defines what is applicable on a container-less cluster.

One module per concern:
- ``catalog``: the suites in scope, the test list read from the suite's Go source, the fixed CI subset (pure).
- ``events``: ``go test -json`` (test2json) events of one e2e invocation -> per-test outcomes and failure lines (pure).
- ``applicability``: the reviewed table of tests that need the internet or fail for environmental reasons (pure).
- ``report``: the results section of ``docs/conformance.md``, written and read back for merging (pure).
- ``peer``: where the built peer lives (``build.sh``), its binaries, source and CRDs.
- ``processes``: child processes in their own process group that die with the harness (no orphans).
- ``environment``: a fresh local cluster with Argo's CRDs, Istio's, the controller's namespace, RBAC and kubeconfig.
- ``controllers``: the controller under test (Argo's ``rollouts-controller`` or ``rollouts controller``).
- ``runner``: one measurement: cluster, controller, the e2e binary per suite under watchdogs, results.

Run it with ``python -m tools.conformance`` (``docs/conformance.md`` documents the options). It never runs as part
of ``make test``: ``make conformance`` and ``make conformance-ci`` are separate, opt-in targets.
"""

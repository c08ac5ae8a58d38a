"""Everything tests share, in one place: builders, fakes, harnesses and the integration tier's cluster helpers.

Import as ``from tests.support.<module> import ...``; nothing here is collected as tests and nothing here is a
fixture (fixtures live in the nearest ``conftest.py`` of the tests that use them). One module per concern:

Pure (any tier):
- ``corpus``: where the shared Argo corpus lives, its documents with our apiVersion.
- ``rollouts``: Rollout bodies, parsed specs and the simulated cluster (``settle``, ``deployed``).
- ``routing``: routed Rollouts, the routed objects (Ingress, VirtualService, ...), the parsed routing spec, routers.
- ``crds``: the CRD case tables both tiers check; ``crd_validator``: a create request without a cluster (the
  schema's defaults, then the product's own validator, :mod:`workflows.model.schema`) that the unit tier uses;
  ``schema_cases``: values built from a schema (hypothesis) and single-keyword breakage of manifests.
- ``argo_crds``: Argo's published CRDs (fetched once) as field paths, and objects with one field set, for the walks.
- ``analysis_manifests``: metrics (prometheus, web, job), AnalysisRuns and job AnalysisTemplates as users write them.
- ``fakes``: a scripted metric provider, a dict of secrets; ``virtual_time``: a virtual clock and an inline pool.
- ``fake_kube``: an in-memory API for the kubectl plugin's commands (patches applied, requests recorded).
- ``metric_runner``: whole analyses through the real metric runner and executor, in virtual time or for real.
- ``http``: loopback JSON servers; ``prometheus``: a real Prometheus scraping an exporter the test controls.

The integration tier (a real cluster or real components):
- ``components``: find the cluster binaries and Prometheus, or skip locally / fail under ``CI=true``.
- ``cluster``: the cluster handle, the controller subprocess, ``wait_for``, plain-dict reads and writes.
- ``cluster_rollouts``, ``cluster_analysis_runs``, ``cluster_workflows``: each kind on the cluster.
"""

"""``make demo``: a metric-gated canary, end to end, on a local cluster the demo starts and stops itself.

``python -m rollouts.demo [--fast] [--keep]`` deploys ``demo:1.0``, releases ``demo:2.0`` (promoted step by step as
the analysis passes) and ``demo:3.0-bad`` (aborted by the analysis, traffic back to stable); the exit code is 0 only
when both happened, so the demo doubles as an end-to-end test. ``docs/demo.md`` tells the story.

Where things live:

- :mod:`rollouts.demo.run` -- the run: cluster, controller, Prometheus, the releases, the verdict (the only module
  here that talks to Kubernetes);
- :mod:`rollouts.demo.manifests` -- the Services, HTTPRoute, AnalysisTemplate and Rollout it applies;
- :mod:`rollouts.demo.app` -- the simulated application and gateway (pure traffic model, Prometheus metrics);
- :mod:`rollouts.demo.screen` -- what the terminal shows.

This package's ``__init__`` stays free of imports, so the kube-free modules load without the run's dependencies.
"""

"""Argo-Workflows-shaped DAG engine: one shared, parallel executor for Workflows and AnalysisRuns.

Layering: this package depends on nothing else of ours. Only its I/O modules (the Kubernetes Job runner and the
kopf controller) may import ``kubernetes``; the model, the compiler and the executor are pure Python.
"""

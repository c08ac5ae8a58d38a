"""Analysis: AnalysisTemplates and AnalysisRuns, metric providers and the safe condition evaluator.

Layering: may use :mod:`workflows` (a run executes as a DAG on the shared executor), never :mod:`rollouts`.
"""

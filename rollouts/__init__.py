"""Rollouts: the Rollout controller, traffic routers, the CLI and the local development cluster.

Layering: the top of the stack; may use :mod:`analysis` and :mod:`workflows`.
"""

"""The Kubernetes I/O edge of the rollouts package: client construction and operator login.

Only modules in this package, the act/apply modules and the kopf shell import ``kubernetes`` or ``kopf``; the
decision core never does (a layering test enforces it).
"""

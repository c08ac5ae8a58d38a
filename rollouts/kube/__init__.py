"""``rollouts install``: the CRDs and the controller's RBAC, by server-side apply (:mod:`rollouts.kube.install`).

Reaching the API (kubeconfig, in-cluster config, every request) is :mod:`workflows.runtime.kube`'s job, the only
module of the product that imports ``kubernetes``; the kopf login lives in the operator's shell
(:mod:`rollouts.controller`).
"""

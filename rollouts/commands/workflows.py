"""``rollouts workflow resume``: record the request in ``status.resume``; the Workflow controller applies it.

Recording on the object rather than calling the controller keeps the CLI a patcher: RBAC on
``workflows/status`` decides who may resume, and GitOps tools can do the same with a status patch.
"""

from __future__ import annotations

from collections.abc import Sequence

from rollouts.commands import CommandError
from workflows.runtime.kube import WORKFLOWS, ApiError, Kube

__all__ = ["request_resume"]


def request_resume(
    name: str, *, nodes: Sequence[str], namespace: str | None, kubeconfig: str | None, context: str | None
) -> str:
    """Patch ``status.resume``; returns the namespace used (default: the kubeconfig context's). Raises
    :class:`CommandError` when the Workflow does not exist or the API refuses.
    """
    kube = Kube.from_kubeconfig(kubeconfig, context)
    namespace = namespace or kube.namespace
    try:
        patched = kube.patch(WORKFLOWS, name, {"status": {"resume": list(nodes)}}, namespace, subresource="status")
    except ApiError as error:
        raise CommandError(f"workflow {namespace}/{name}: {error}") from None
    finally:
        kube.close()
    if patched is None:
        raise CommandError(f"workflow {namespace}/{name} not found")
    return namespace

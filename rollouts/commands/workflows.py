"""``rollouts workflow resume``: record the request in ``status.resume``; the Workflow controller applies it.

Recording on the object rather than calling the controller keeps the CLI a patcher: RBAC on
``workflows/status`` decides who may resume, and GitOps tools can do the same with a status patch.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubernetes import client, config

from rollouts.commands import CommandError
from rollouts.kube.login import load_api_client
from workflows.api import GROUP, VERSION

__all__ = ["default_namespace", "request_resume"]


def default_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the chosen kubeconfig context, as kubectl would use it."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), current) if context else current
    return str((chosen or {}).get("context", {}).get("namespace") or "default")


def request_resume(
    name: str, *, nodes: Sequence[str], namespace: str | None, kubeconfig: str | None, context: str | None
) -> str:
    """Patch ``status.resume``; returns the namespace used. Raises :class:`CommandError` when the API refuses."""
    namespace = namespace or default_namespace(kubeconfig, context)
    api = load_api_client(kubeconfig, context)
    try:
        client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "workflows", name, {"status": {"resume": list(nodes)}}
        )
    except client.ApiException as error:
        raise CommandError(f"workflow {namespace}/{name}: {error.status} {error.reason}") from None
    finally:
        api.close()
    return namespace

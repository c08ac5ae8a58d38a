"""The operator process: one kopf operator, one shared workflow executor, every controller of the product.

``rollouts controller`` builds a kopf registry, registers the handlers of each package on it (Workflows,
AnalysisRuns, Rollouts), logs in with the given kubeconfig/context (or in-cluster), starts the
shared :class:`workflows.runtime.controller.Engine` on kopf's event loop at startup and shuts it down at cleanup.
The engine's blocking work runs on its own thread pool, never kopf's, so a handler waiting on the engine cannot
starve kopf's synchronous handlers.

Login: kopf's built-in login reads the default kubeconfig once, at import time of the kubernetes client, so a
controller started with ``--kubeconfig``/``--context`` (or a test pointing at a throwaway cluster) logs in through
its own handler. :meth:`workflows.runtime.kube.Kube.credentials` says who we are; :func:`connection_info` turns that
into kopf's :class:`kopf.ConnectionInfo`, so kopf and our client reach the same server as the same identity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import kopf

from analysis.controller import install_metric_runner, register_analysis_handlers
from rollouts.controller.rollouts import Reconciler, register_rollout_handlers
from workflows.runtime.controller import Engine, register_workflow_handlers
from workflows.runtime.kube import Credentials, Kube

__all__ = ["build_registry", "connection_from_kubeconfig", "connection_info", "run_controller"]

logger = logging.getLogger(__name__)


def connection_info(credentials: Credentials) -> kopf.ConnectionInfo:
    """kopf's credentials for the server and identity :meth:`Kube.credentials` describes."""
    return kopf.ConnectionInfo(
        server=credentials.server,
        ca_path=credentials.ca_path,
        insecure=not credentials.verify,
        certificate_path=credentials.certificate_path,
        private_key_path=credentials.private_key_path,
        scheme=credentials.scheme,
        token=credentials.token,
    )


def connection_from_kubeconfig(kubeconfig: str | None = None, context: str | None = None) -> kopf.ConnectionInfo:
    """kopf's credentials for a kubeconfig/context (in-cluster config when neither is given and one exists)."""
    kube = Kube.from_kubeconfig(kubeconfig, context)
    try:
        return connection_info(kube.credentials())
    finally:
        kube.close()


def build_registry(*, kubeconfig: str | None, context: str | None) -> kopf.OperatorRegistry:
    """A registry with login, engine lifecycle and every resource's handlers."""
    registry = kopf.OperatorRegistry()
    engine_ref: dict[str, Engine] = {}
    rollout_state: dict[str, Any] = {}

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_from_kubeconfig(kubeconfig, context)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.INFO
        settings.persistence.finalizer = "rollouts.dev/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="rollouts.dev")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="rollouts.dev")
        settings.watching.server_timeout = 300
        engine_ref["engine"] = Engine.start(Kube.from_kubeconfig(kubeconfig, context))
        install_metric_runner(engine_ref["engine"])  # AnalysisRuns' metric nodes run on the same executor
        rollout_state["rollouts"] = Reconciler(kube=Kube.from_kubeconfig(kubeconfig, context))
        logger.info("shared workflow executor started")

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        reconciler = rollout_state.pop("rollouts", None)
        if isinstance(reconciler, Reconciler):
            await reconciler.close()
            reconciler.kube.close()
        engine = engine_ref.pop("engine", None)
        if engine is not None:
            await engine.stop()
            engine.kube.close()

    register_workflow_handlers(registry, engine_ref)
    register_analysis_handlers(registry, engine_ref)
    register_rollout_handlers(registry, rollout_state)
    return registry


def run_controller(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespaces: Sequence[str] = (),
    verbose: bool = False,
) -> int:
    """Run until interrupted (SIGINT/SIGTERM). Watches ``namespaces``, or the whole cluster when empty."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    registry = build_registry(kubeconfig=kubeconfig, context=context)
    asyncio.run(
        kopf.operator(
            registry=registry,
            namespaces=list(namespaces),
            clusterwide=not namespaces,
            standalone=True,
        )
    )
    return 0

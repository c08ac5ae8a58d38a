"""The operator process: one kopf operator, one shared workflow executor, every controller of the product.

``rollouts controller`` builds a kopf registry, registers the handlers of each package on it (Workflows,
AnalysisRuns, Rollouts), logs in with the given kubeconfig/context (or in-cluster), starts the
shared :class:`workflows.runtime.controller.Engine` on kopf's event loop at startup and shuts it down at cleanup.
The engine's blocking work runs on its own thread pool, never kopf's, so a handler waiting on the engine cannot
starve kopf's synchronous handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import kopf

from analysis.controller import install_metric_runner, register_analysis_handlers
from rollouts.controller.rollouts import Reconciler, register_rollout_handlers
from rollouts.kube.login import connection_from_kubeconfig, load_api_client
from workflows.runtime.controller import Engine, register_workflow_handlers
from workflows.runtime.kube import Kube

__all__ = ["build_registry", "run_controller"]

logger = logging.getLogger(__name__)


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
        api = load_api_client(kubeconfig, context)
        engine_ref["engine"] = Engine.start(api)
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
            engine.api.close()

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

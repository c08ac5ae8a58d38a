"""The operator process: one kopf operator, one shared workflow executor, every controller of the product.

``rollouts controller`` builds one :class:`Operator` -- the typed, frozen context every handler shares: the one API
client, the engine (the shared executor and the Job watch), the Workflow, AnalysisRun and Rollout controllers, and
the thread pools, sized in one place (:class:`ControllerConfig`) -- and hands it to kopf as ``memo``. kopf gives it
to every handler as is (its ``__copy__`` returns itself), so there are no module globals and no dicts filled at
start-up. :meth:`Operator.start` binds the watches to kopf's running loop at startup; :meth:`Operator.stop` shuts
everything down at cleanup without touching what runs in the cluster.

The engine's blocking work runs on the operator's I/O pool, never kopf's, so a handler waiting on the engine cannot
starve kopf's synchronous handlers; Rollout reconciles (observe/plan/act) have a pool of their own.

Login: kopf's built-in login reads the default kubeconfig once, at import time of the kubernetes client, so a
controller started with ``--kubeconfig``/``--context`` (or a test pointing at a throwaway cluster) logs in through
its own handler. :meth:`workflows.runtime.kube.Kube.credentials` says who we are; :func:`connection_info` turns that
into kopf's :class:`kopf.ConnectionInfo`, so kopf and our client reach the same server as the same identity.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from analysis.controller import AnalysisController, register_analysis_handlers
from rollouts.controller.health import DEFAULT_HEALTHZ_PORT, Health, serve_health
from rollouts.controller.logs import LogFormat, configure_logging
from rollouts.controller.metrics import DEFAULT_METRICS_PORT, ScrapeSources, process_metrics, serve_metrics
from rollouts.controller.rollouts import EVENT_COMPONENT, Reconciler, rollout_cache
from rollouts.notifications.sender import Notifier
from workflows.api import ROLLOUTS_DEV, ApiMode
from workflows.runtime.controller import Engine, WorkflowController, register_workflow_handlers
from workflows.runtime.crds import SchemaCheck
from workflows.runtime.events import EventRecorder
from workflows.runtime.executor import ExecutorConfig
from workflows.runtime.httpio import HostAllowList
from workflows.runtime.informer import Cache
from workflows.runtime.kube import Credentials, Kube, RequestLimits
from workflows.runtime.lease import LeaderElector, LeaseConfig

__all__ = [
    "ControllerConfig",
    "Election",
    "Operator",
    "build_registry",
    "connection_from_kubeconfig",
    "connection_info",
    "run_controller",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerConfig:
    """How much the operator may do at once: every pool and the API connection pool are sized from here."""

    io_threads: int = 16  # the engine's blocking work: provider calls, Job and status writes, Secret reads
    reconcile_threads: int = 8  # Rollout reconciles running at once (each one observe -> plan -> act)
    # seconds between status writes of one Workflow/AnalysisRun (the final one at once), and between a Rollout's
    # writes that only report counts and conditions (its decisions are written at once)
    status_interval: float = 1.0
    mode: ApiMode = ROLLOUTS_DEV  # the group the Rollout kinds are served under and the names written (drop-in: Argo's)
    instance_id: str = ""  # only objects labelled with this instance id (empty: only objects without the label)
    metrics_port: int = DEFAULT_METRICS_PORT  # /metrics (0: not served)
    healthz_port: int = DEFAULT_HEALTHZ_PORT  # /healthz and /readyz (0: not served)
    metrics_address: str = "0.0.0.0"  # noqa: S104 -- scraped from other pods
    namespaces: tuple[str, ...] = ()  # the namespaces watched (empty: the whole cluster)
    qps: float = 40.0  # client-side API requests per second and API group, as client-go limits (Argo's --qps default)
    burst: int = 80  # requests allowed at once above qps, per API group (Argo's --burst default)
    # where the notifications ConfigMap and Secret are (empty: the controller's own namespace, as Argo reads them)
    notifications_namespace: str = ""
    # glob patterns of the hosts web metrics and http steps may reach (--web-metric-allowed-hosts; empty: any host,
    # as Argo's web provider); docs/security.md
    web_metric_allowed_hosts: tuple[str, ...] = ()

    def label_filter(self) -> dict[str, Any]:
        """kopf's label filter for this instance's objects, as Argo's ``--instance-id`` selects them."""
        return {self.mode.instance_id_label: self.instance_id or kopf.ABSENT}

    @property
    def api_connections(self) -> int:
        """HTTP connections to the API server: one per thread that may call it, plus the watch streams."""
        return self.io_threads + self.reconcile_threads + 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Operator:
    """Everything the handlers share, built once before kopf starts (kopf's ``memo``; never copied)."""

    kube: Kube
    config: ControllerConfig
    engine: Engine
    workflows: WorkflowController
    analysis: AnalysisController
    rollouts: Reconciler
    cache: Cache  # the informers the Rollout reconciles read from
    notifier: Notifier  # notifications: the ConfigMap and Secret followed, deliveries on its own thread
    io_pool: concurrent.futures.ThreadPoolExecutor = field(repr=False)
    stopped: asyncio.Event = field(default_factory=asyncio.Event, repr=False)  # set once :meth:`stop` has finished

    def __copy__(self) -> Operator:
        return self  # kopf copies the memo per resource: every handler must see this one context

    @classmethod
    def create(cls, kube: Kube, config: ControllerConfig | None = None) -> Operator:
        config = config or ControllerConfig()
        kube.api.configuration.connection_pool_maxsize = config.api_connections
        kube.limiter = RequestLimits(config.qps, config.burst)
        metrics = process_metrics() if config.metrics_port else None
        if metrics is not None:
            kube.observer = metrics.request  # every API request of the process, by resource, object and verb
        io_pool = concurrent.futures.ThreadPoolExecutor(config.io_threads, thread_name_prefix="engine")
        engine = Engine.create(
            kube,
            config=ExecutorConfig(status_interval=config.status_interval, max_threads=config.io_threads),
            thread_pool=io_pool,
            namespaces=config.namespaces,
            allowed_hosts=HostAllowList.parse(config.web_metric_allowed_hosts),
        )
        reconcile_pool = concurrent.futures.ThreadPoolExecutor(config.reconcile_threads, thread_name_prefix="rollouts")
        schema = SchemaCheck(config.mode)  # our CRD schema where the served CRDs do not apply it (drop-in mode)
        cache = rollout_cache(kube, mode=config.mode, namespaces=config.namespaces, instance_id=config.instance_id)
        recorder = EventRecorder(kube, EVENT_COMPONENT)
        notifier = Notifier(
            kube,
            mode=config.mode,
            namespace=config.notifications_namespace or os.environ.get("POD_NAMESPACE") or kube.namespace,
            recorder=recorder,
            reads=cache,
        )
        reconciler = Reconciler(
            kube=kube,
            mode=config.mode,
            pool=reconcile_pool,
            metrics=metrics,
            schema=schema,
            status_interval=config.status_interval,
            recorder=recorder,
            notifier=notifier,
        )
        reconciler.listen(cache)
        if metrics is not None:  # the per-object series are computed from the caches and the executor at each scrape
            metrics.attach(ScrapeSources(cache, config.mode, engine.executor.stats))
        return cls(
            kube=kube,
            config=config,
            engine=engine,
            workflows=WorkflowController(engine),
            # registers the metric runner on the executor
            analysis=AnalysisController(
                engine, mode=config.mode, schema=schema, metrics=metrics.analysis_runs if metrics is not None else None
            ),
            rollouts=reconciler,
            cache=cache,
            notifier=notifier,
            io_pool=io_pool,
        )

    async def start(self) -> None:
        """On kopf's loop, at startup: the watches begin serving it."""
        self.engine.start()
        self.analysis.start()
        self.cache.start(asyncio.get_running_loop())
        self.notifier.start()
        logger.info("shared workflow executor started")

    async def stop(self) -> None:
        """At cleanup: stop reconciling, shut the executor down (Jobs stay for the next controller), close."""
        self.cache.stop()
        if self.config.metrics_port:
            process_metrics().detach(ScrapeSources(self.cache, self.config.mode, self.engine.executor.stats))
        await self.rollouts.close()
        await asyncio.get_running_loop().run_in_executor(None, self.notifier.flush, 5.0)  # the last ones queued
        self.notifier.stop()
        await self.engine.stop()
        self.analysis.stop()
        self.io_pool.shutdown(wait=False, cancel_futures=True)
        self.kube.close()
        self.stopped.set()


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


def build_registry(operator: Operator) -> kopf.OperatorRegistry:
    """A registry with login, the operator's lifecycle and every resource's handlers."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(operator.kube.credentials())

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.INFO
        settings.persistence.finalizer = "rollouts.dev/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="rollouts.dev")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="rollouts.dev")
        settings.watching.server_timeout = 300
        await operator.start()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await operator.stop()

    config = operator.config
    register_workflow_handlers(registry, labels=config.label_filter())
    register_analysis_handlers(registry, mode=config.mode, labels=config.label_filter())
    return registry


@dataclass(frozen=True, slots=True, kw_only=True)
class Election:
    """Leader election as the command line asks for it (``--leader-elect``); :func:`run_controller` fills in the
    namespace (the client's: the pod's own in-cluster) and the identity (``POD_NAME``, else the host name)."""

    lease_name: str = "rollouts-controller"
    lease_namespace: str = ""
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def lease(self, kube: Kube) -> LeaseConfig:
        identity = self.identity or os.environ.get("POD_NAME") or socket.gethostname()
        return LeaseConfig(
            name=self.lease_name,
            namespace=self.lease_namespace or os.environ.get("POD_NAMESPACE") or kube.namespace,
            identity=identity,
            lease_duration=self.lease_duration,
            renew_deadline=self.renew_deadline,
            retry_period=self.retry_period,
        )


def _stand_by(elector: LeaderElector) -> bool:
    """Wait to become the leader; False when told to stop (SIGINT/SIGTERM) first."""
    stopping = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    with contextlib.suppress(ValueError):  # not the main thread (tests): no signal handlers, wait until leading
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.is_set():
            if elector.wait_leading(0.5):
                return True
        return False
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def _heartbeat(health: Health, every: float = 5.0) -> None:
    while True:
        health.heartbeat()
        await asyncio.sleep(every)


async def _operate(operator: Operator, namespaces: Sequence[str], stop: asyncio.Event) -> None:
    """Run kopf until ``stop`` is set or a signal arrives, and return as soon as our own cleanup has finished."""
    running = asyncio.create_task(kopf.operator(
        registry=build_registry(operator),
        memo=operator,
        namespaces=list(namespaces),
        clusterwide=not namespaces,
        standalone=True,
        # kopf's default identity asks the passwd database for the user's name, which a container running
        # as a bare numeric uid (ours: 65532) has no entry for: name the process as the Lease does.
        identity=cast("Any", os.environ.get("POD_NAME") or socket.gethostname()),  # kopf's private NewType
        stop_flag=stop,  # losing the Lease stops the operator (and the write gate is already shut)
    ))  # fmt: skip
    cleaned = asyncio.create_task(operator.stopped.wait())
    await asyncio.wait({running, cleaned}, return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        # Our cleanup is done; kopf then gives its own leftover tasks (insights waiters, schedulers'
        # spawners and cleaners) a fixed 5 s before cancelling them. Nothing of ours is left to wait for, so
        # the process does not: the Lease goes back (and a rolling update proceeds) 5 s sooner.
        done, _ = await asyncio.wait({running}, timeout=0.5)
        if not done:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    cleaned.cancel()
    if not running.cancelled():
        running.result()  # kopf's own failure, if it ended with one


def run_controller(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespaces: Sequence[str] = (),
    verbose: bool = False,
    log_format: LogFormat = "text",
    config: ControllerConfig | None = None,
    election: Election | None = None,
) -> int:
    """Run until interrupted (SIGINT/SIGTERM). Watches ``namespaces``, or the whole cluster when empty.

    With ``election``, stand by until this process holds the Lease, then run; every write of the process is gated on
    holding it. Exit 0 after a stop (the Lease handed back at once), 1 when the Lease was lost (the container is
    restarted and stands by again), 2 for a port already taken. Logs go to stderr as ``log_format`` (``text`` or
    ``json``: one object per line, see :mod:`rollouts.controller.logs`), kopf's included."""
    configure_logging(log_format=log_format, verbose=verbose)
    config = config or ControllerConfig()
    kube = Kube.from_kubeconfig(kubeconfig, context)
    health = Health()
    try:
        if config.metrics_port:
            serve_metrics(config.metrics_port, config.metrics_address)
        if config.healthz_port:
            serve_health(health, config.healthz_port, config.metrics_address)
    except OSError as error:
        logger.error(  # noqa: TRY400 -- a configuration error: the message is all there is to say
            "cannot serve metrics or probes: %s (another process has the port? --metrics-port 0 and --healthz-port 0 "
            "turn them off)",
            error,
        )
        return 2
    elector: LeaderElector | None = None
    lost = threading.Event()
    if election is not None:
        lease = election.lease(kube)
        # Its own client: renewals never queue behind the reconciles' requests or their rate limit.
        elector = LeaderElector(Kube.from_kubeconfig(kubeconfig, context), lease, on_stopped=lost.set)
        kube.write_gate = lambda: elector.leading if elector is not None else True
        health.ready = elector.has_read
        logger.info("standing by for the Lease %s/%s as %s", lease.namespace, lease.name, lease.identity)
        elector.start()
        if not _stand_by(elector):
            elector.stop()
            return 0
    operator = Operator.create(kube, config)
    health.ready = lambda: operator.cache.synced and (elector is None or elector.leading)
    logger.info("serving %s (instance %s)", config.mode.api_version, config.instance_id or "without an id")

    async def main() -> None:
        beat = asyncio.create_task(_heartbeat(health))
        # kopf waits on a threading.Event in an executor thread that nothing would release on a normal stop (the
        # process would hang at exit): hand it an asyncio.Event, set from the elector's thread when the Lease is lost.
        stop = asyncio.Event()
        if elector is not None:
            loop = asyncio.get_running_loop()

            def stopped() -> None:
                lost.set()
                loop.call_soon_threadsafe(stop.set)

            elector.on_stopped = stopped
            if lost.is_set():  # lost while the operator was being built
                stop.set()
        try:
            await _operate(operator, namespaces, stop)
        finally:
            beat.cancel()

    asyncio.run(main())
    if elector is not None:
        if lost.is_set():
            logger.error("stopped: the Lease was lost; exiting for a restart")
            return 1
        elector.release()
    return 0

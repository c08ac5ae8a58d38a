"""The one door to the Kubernetes API: plain dicts in and out, typed errors, one place for every request.

Why one module: twelve modules used to build their own generated API objects, decode raw responses by hand and test
``error.status == 404`` each in their own way. Here every request is the same few lines (a path from a
:class:`Resource`, JSON in, JSON out, no generated models: building them was most of a LIST's cost), and the HTTP
answers callers care about become values or types:

- a missing object is ``None`` (``get``, ``patch``, ``replace``) or ``False`` (``delete``), never an exception;
- a resource type the API server does not serve (a CRD that is not installed) is :class:`NotServedError`;
- 409 is :class:`ConflictError` (already exists, or a stale ``resourceVersion``), 422 :class:`InvalidError` (with
  the server's message), everything else :class:`ApiError` carrying the status and the server's message.

It is the only module of the product that imports ``kubernetes`` (the layering test enforces it); the kopf shells
import ``kopf`` for their handlers and take their credentials from :meth:`Kube.credentials`. Everything here blocks:
callers on an event loop run it on a worker thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from kubernetes import client, config
from kubernetes.client import ApiException
from kubernetes.watch.watch import iter_resp_lines

from workflows.api import ARGO, GROUP, ROLLOUTS_DEV, VERSION, Resource

__all__ = [
    "ANALYSIS_RUNS",
    "ANALYSIS_TEMPLATES",
    "CLUSTER_ANALYSIS_TEMPLATES",
    "CONFIG_MAPS",
    "CRDS",
    "DEPLOYMENTS",
    "EVENTS",
    "HTTP_ROUTES",
    "INGRESSES",
    "JOBS",
    "NAMESPACES",
    "PODS",
    "REPLICA_SETS",
    "ROLLOUTS",
    "SECRETS",
    "SERVICES",
    "SERVICE_ACCOUNTS",
    "WORKFLOWS",
    "WORKFLOW_TEMPLATES",
    "ApiError",
    "ConflictError",
    "Credentials",
    "FieldValidation",
    "InvalidError",
    "Kube",
    "Listing",
    "NotLeaderError",
    "NotServedError",
    "RequestLimits",
    "RequestTarget",
    "Resource",
    "TokenBucket",
    "WatchEvent",
    "request_kind_verb",
    "request_target",
    "resource_for",
]

logger = logging.getLogger(__name__)

_JSON = "application/json"
#: What the API server does with undeclared fields on a write (``fieldValidation``).
FieldValidation = Literal["Strict", "Warn", "Ignore"]
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


PODS = Resource("", "v1", "pods", "Pod")
SERVICES = Resource("", "v1", "services", "Service")
SECRETS = Resource("", "v1", "secrets", "Secret")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
EVENTS = Resource("", "v1", "events", "Event")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
JOBS = Resource("batch", "v1", "jobs", "Job")
REPLICA_SETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", "Ingress")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False)
HTTP_ROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")  # Gateway API (the demo's route)
# Our own group's Rollout kinds; a controller in drop-in mode uses its ``ApiMode``'s (``mode.rollouts``, ...).
ROLLOUTS = ROLLOUTS_DEV.rollouts
ANALYSIS_RUNS = ROLLOUTS_DEV.analysis_runs
ANALYSIS_TEMPLATES = ROLLOUTS_DEV.analysis_templates
CLUSTER_ANALYSIS_TEMPLATES = ROLLOUTS_DEV.cluster_analysis_templates
WORKFLOWS = Resource(GROUP, VERSION, "workflows", "Workflow")
WORKFLOW_TEMPLATES = Resource(GROUP, VERSION, "workflowtemplates", "WorkflowTemplate")

_KNOWN = (
    PODS, SERVICES, SECRETS, SERVICE_ACCOUNTS, EVENTS, NAMESPACES, JOBS, REPLICA_SETS, DEPLOYMENTS, INGRESSES, CRDS,
    HTTP_ROUTES, ROLLOUTS, ANALYSIS_RUNS, ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES, WORKFLOWS, WORKFLOW_TEMPLATES,
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", namespaced=False),
    ARGO.rollouts, ARGO.analysis_runs, ARGO.analysis_templates, ARGO.cluster_analysis_templates,
)  # fmt: skip
_BY_KIND = {(resource.api_version, resource.kind): resource for resource in _KNOWN}


def resource_for(api_version: str, kind: str) -> Resource:
    """The :class:`Resource` of a manifest's ``apiVersion``/``kind`` (the kinds this product installs or manages)."""
    try:
        return _BY_KIND[(api_version, kind)]
    except KeyError:
        raise ValueError(f"unknown kind {kind} ({api_version}): add it to workflows.runtime.kube") from None


# -- errors -----------------------------------------------------------------------------------------------------------
class ApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP status, ``message`` the server's own explanation."""

    def __init__(self, status: int, reason: str, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.details: Mapping[str, Any] = details or {}
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")


class ConflictError(ApiError):
    """409: the object already exists, or it changed since the ``resourceVersion`` the request was built from."""


class InvalidError(ApiError):
    """422: the API server's validation refused the object (schema, CEL, immutable field); ``message`` says why."""


class NotServedError(ApiError):
    """404 for a whole resource type: the API server does not serve it (typically a CRD that is not installed)."""


class NotLeaderError(ApiError):
    """Refused before sending: this process's ``write_gate`` is closed (it does not hold the leader Lease)."""


def _error(status: int, reason: str, data: bytes | str | None) -> ApiError:
    body: Mapping[str, Any] = {}
    if data:
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            body = parsed
    message = str(body.get("message") or (data.decode("utf-8", "replace") if isinstance(data, bytes) else data or ""))
    details = body.get("details") if isinstance(body.get("details"), Mapping) else {}
    reason = str(body.get("reason") or reason or "")
    kind: type[ApiError] = ApiError
    if status == 409:
        kind = ConflictError
    elif status == 422:
        kind = InvalidError
    elif status == 404:
        kind = NotServedError  # callers that expect "object not found" turn the other 404s into None first
    return kind(status, reason, message[:2000], details=details)


#: How long a "this kind is not served" answer of :meth:`Kube.served` stands before discovery is asked again.
UNSERVED_RECHECK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """What one API request was about, in the words of Argo's ``controller_clientset_k8s_request_total``: the
    resource plural (``kind``; a subresource counts as its resource, discovery is ``""``), the namespace and object
    name when the request names them (a create: from its body), and the verb (``List``, ``Watch``, ``Get``,
    ``Create``, ``Update``, ``Patch``, ``Delete``, ``DeleteCollection``)."""

    kind: str
    namespace: str
    name: str
    verb: str


def request_target(method: str, path: str, query: Sequence[tuple[str, str]] = (), body: object = None) -> RequestTarget:
    """The :class:`RequestTarget` of a request. Pure."""
    parts = [part for part in path.split("?", maxsplit=1)[0].strip("/").split("/") if part]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else []
    namespace = ""
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]  # /namespaces/<ns>/<plural>/...
    kind = rest[0] if rest else ""
    named = len(rest) >= 2
    name = rest[1] if named else ""
    watching = any(key == "watch" and value in {"true", "1"} for key, value in query)
    verb = {
        "GET": "Watch" if watching else ("Get" if named or not kind else "List"),
        "POST": "Create",
        "PUT": "Update",
        "PATCH": "Patch",
        "DELETE": "Delete" if named else "DeleteCollection",
    }.get(method.upper(), method.title())
    if verb == "Watch":  # a watch of one object names it in a field selector
        selector = next((value for key, value in query if key == "fieldSelector"), "")
        if selector.startswith("metadata.name="):
            name = selector.removeprefix("metadata.name=")
    if verb == "Create" and isinstance(body, Mapping):
        meta = body.get("metadata")
        if isinstance(meta, Mapping):
            name = str(meta.get("name") or "")
            namespace = namespace or str(meta.get("namespace") or "")
    return RequestTarget(kind=kind, namespace=namespace, name=name, verb=verb)


def request_kind_verb(method: str, path: str, query: Sequence[tuple[str, str]] = ()) -> tuple[str, str]:
    """(resource plural, verb) of a request: ``("replicasets", "List")``, ``("rollouts", "Patch")`` (a subresource
    counts as its resource), ``("", "Get")`` for discovery. Pure."""
    target = request_target(method, path, query)
    return target.kind, target.verb


def _is_missing_object(error: ApiError) -> bool:
    """A 404 about one named object (it does not exist), as opposed to the resource type not being served."""
    return error.status == 404 and bool(error.details.get("name"))


# -- values -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Listing:
    """The items of a LIST and the ``resourceVersion`` to watch from."""

    items: list[dict[str, Any]]
    resource_version: str


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch event: ``ADDED``/``MODIFIED``/``DELETED``/``BOOKMARK``/``ERROR`` and its object (ERROR: a Status)."""

    type: str
    object: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an operator framework needs to reach the same API server with the same identity."""

    server: str
    ca_path: str | None
    verify: bool
    certificate_path: str | None
    private_key_path: str | None
    token: str | None
    scheme: str | None


_POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the kubeconfig context in use (kubectl's default for namespaced commands)."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), current) if context else current
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _load_incluster(configuration: client.Configuration) -> bool:
    """In-cluster config (a pod's ServiceAccount) into ``configuration``; False when not running in a pod."""
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        return False
    return True


def _pod_namespace() -> str:
    try:
        return _POD_NAMESPACE_FILE.read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"


class TokenBucket:
    """A client-side request limit (client-go's ``--qps``/``--burst``): ``qps`` tokens a second, at most ``burst``
    saved up; :meth:`take` blocks the calling thread until a token is free. Thread-safe."""

    def __init__(self, qps: float, burst: int) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"qps must be > 0 and burst >= 1 (got {qps}, {burst})")
        self.qps, self.burst = qps, burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds callers spent waiting for a token, in total

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.qps)
            self._at = now
            self._tokens -= 1.0  # a debt when negative: the caller waits it off, later callers queue behind it
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            time.sleep(wait)


class RequestLimits:
    """Client-side request limits as client-go applies them: one :class:`TokenBucket` of ``qps``/``burst`` per API
    group (client-go gives each group's REST client its own limiter, so Argo's ``--qps 40`` is 40 a second for
    Rollouts, 40 for ReplicaSets and Events, ...). Thread-safe."""

    def __init__(self, qps: float, burst: int) -> None:
        TokenBucket(qps, burst)  # validates
        self.qps, self.burst = qps, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, path: str) -> TokenBucket:
        """The bucket of the API group ``path`` addresses (``/api/...``: the core group)."""
        parts = path.split("/")
        group = parts[2] if len(parts) > 2 and parts[1] == "apis" else ""
        bucket = self._buckets.get(group)
        if bucket is None:
            with self._lock:
                bucket = self._buckets.setdefault(group, TokenBucket(self.qps, self.burst))
        return bucket

    def take(self, path: str) -> None:
        self.bucket(path).take()

    @property
    def waited(self) -> float:
        """Seconds callers waited for a token, over every group."""
        return sum(bucket.waited for bucket in list(self._buckets.values()))


@dataclass
class Kube:
    """A client for one API server and identity. Thread-safe (a pooled HTTP client underneath); every call blocks.

    ``namespace`` is where namespaced commands act when the user names none: the kubeconfig context's namespace (the
    pod's own namespace in-cluster), ``default`` when unset, as kubectl does.
    """

    api: client.ApiClient
    request_timeout: float = 30.0
    field_manager: str = "rollouts"
    namespace: str = "default"
    _closed: bool = field(default=False, repr=False)
    _served: dict[tuple[str, str], Resource] = field(default_factory=dict, repr=False)
    _unserved: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)  # kind -> when to ask again
    #: Told of every request this client makes: what it was about and the HTTP status (0 when no answer came). The
    #: controller counts them for /metrics (``controller_clientset_k8s_request_total``, as Argo's controller names it).
    observer: Callable[[RequestTarget, int], None] | None = field(default=None, repr=False)
    #: Told of every object a write returned (create, replace, patch of the object or its status, apply): the
    #: informer caches take our own writes from here at once (read-your-writes), before the watch echoes them.
    written: Callable[[Resource, Mapping[str, Any]], None] | None = field(default=None, repr=False)
    #: The client-side request limits shared by everyone using this client (None: unlimited).
    limiter: RequestLimits | None = field(default=None, repr=False)
    #: Asked before every request that is not a read (None: always allowed): a controller replica that is not (or no
    #: longer) the leader gets :class:`NotLeaderError` instead of a write, even from a reconcile already under way.
    write_gate: Callable[[], bool] | None = field(default=None, repr=False)

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        request_timeout: float = 30.0,
        field_manager: str = "rollouts",
    ) -> Kube:
        """The given kubeconfig/context; with neither, in-cluster config when running in a pod, else ``~/.kube``.

        The kubernetes client's loader does the parsing (exec plugins, embedded certificates, tokens), so flags such
        as ``--kubeconfig``/``--context`` mean exactly what they mean to kubectl.
        """
        configuration = client.Configuration()
        if kubeconfig is None and context is None and _load_incluster(configuration):
            namespace = _pod_namespace()
        else:
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
            namespace = _context_namespace(kubeconfig, context)
        return cls(
            client.ApiClient(configuration),
            request_timeout=request_timeout,
            field_manager=field_manager,
            namespace=namespace,
        )

    def with_timeout(self, seconds: float) -> Kube:
        """The same connection pool and identity with another per-request timeout (close the original, not this).

        For callers that read on a tight loop and would rather miss one answer than wait for it (the demo's 1 Hz
        observers), next to the same process's ordinary writes.
        """
        return Kube(
            self.api,
            request_timeout=seconds,
            field_manager=self.field_manager,
            namespace=self.namespace,
            observer=self.observer,
            written=self.written,
            limiter=self.limiter,
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.api.close()

    def credentials(self) -> Credentials:
        cfg = self.api.configuration
        token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
        scheme = None
        if token and " " in token:
            scheme, token = token.split(" ", 1)
        return Credentials(
            server=cfg.host,
            ca_path=cfg.ssl_ca_cert,
            verify=bool(cfg.verify_ssl),
            certificate_path=cfg.cert_file,
            private_key_path=cfg.key_file,
            token=token,
            scheme=scheme or ("Bearer" if token else None),
        )

    # -- one request --------------------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = _JSON,
        timeout: float | tuple[float, float] | None = None,
        stream: bool = False,
    ) -> Any:
        if method != "GET" and self.write_gate is not None and not self.write_gate():
            raise NotLeaderError(0, "NotLeader", f"{method} {path}: this replica does not hold the leader Lease")
        headers = {"Accept": _JSON}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.limiter is not None:
            self.limiter.take(path)
        serialized = self.api.param_serialize(
            method, path, query_params=list(query), header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self.api.call_api(*serialized, _request_timeout=timeout or self.request_timeout)
        except ApiException as error:  # raised by the REST layer for some transport-level refusals
            self._observe(method, path, query, body, int(error.status or 0))
            raise _error(int(error.status or 0), str(error.reason or ""), error.body) from None
        except Exception:
            self._observe(method, path, query, body, 0)
            raise
        self._observe(method, path, query, body, response.status)
        if not 200 <= response.status <= 299:
            response.read()
            raise _error(response.status, str(response.reason or ""), response.data)
        if stream:
            return response.response
        response.read()
        return json.loads(response.data) if response.data else {}

    def _observe(self, method: str, path: str, query: Sequence[tuple[str, str]], body: Any, status: int) -> None:
        if self.observer is not None:
            self.observer(request_target(method, path, query, body), status)

    def _written(self, resource: Resource, body: Mapping[str, Any]) -> None:
        if self.written is not None and body.get("metadata"):
            self.written(resource, body)

    @staticmethod
    def _query(**params: object) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for key, value in params.items():
            if value is None or value is False:
                continue
            out.append((key, "true" if value is True else str(value)))
        return out

    # -- discovery ----------------------------------------------------------------------------------------------
    def served(self, resource: Resource, *alternatives: str) -> Resource:
        """``resource`` at the first of its own version and then ``alternatives`` that the API server serves.

        For kinds published under several versions, of which a cluster may serve only an older one (Istio's
        ``v1alpha3``/``v1beta1``/``v1``: Argo Rollouts' e2e suite installs Istio CRDs without ``v1``). Discovery
        (``GET /apis/<group>/<version>``) runs once per client and kind; when no version is served ``resource`` itself
        is returned and discovery is asked again after :data:`UNSERVED_RECHECK_SECONDS` (a CRD installed later is
        found, without a discovery round per reconcile on clusters that never install it); :meth:`forget` drops an
        answer that went stale.
        """
        key = (resource.group, resource.plural)
        known = self._served.get(key)
        if known is not None:
            return known
        if self._unserved.get(key, 0.0) > time.monotonic():
            return resource  # asked recently: not served then (a CRD installed since is found within a minute)
        for version in (resource.version, *alternatives):
            try:
                listing = self._request("GET", f"/apis/{resource.group}/{version}" if resource.group else "/api/v1")
            except NotServedError:
                continue
            if any(item.get("name") == resource.plural for item in listing.get("resources") or ()):
                found = resource if version == resource.version else replace(resource, version=version)
                self._served[key] = found
                self._unserved.pop(key, None)
                return found
        self._unserved[key] = time.monotonic() + UNSERVED_RECHECK_SECONDS
        return resource

    def serving(self, resource: Resource, *alternatives: str) -> Resource | None:
        """:meth:`served`, or None when the API server serves none of the versions (as last asked)."""
        found = self.served(resource, *alternatives)
        return found if (resource.group, resource.plural) in self._served else None

    def forget(self, resource: Resource) -> None:
        """Drop what :meth:`served` found for ``resource``'s kind (its CRD changed versions or went away)."""
        self._served.pop((resource.group, resource.plural), None)
        self._unserved.pop((resource.group, resource.plural), None)

    # -- reads --------------------------------------------------------------------------------------------------
    def get(
        self, resource: Resource, name: str, namespace: str | None = None, *, subresource: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist (:class:`NotServedError` when its type is not served)."""
        try:
            return cast(
                "dict[str, Any]",
                self._request("GET", resource.path(namespace=namespace, name=name, subresource=subresource)),
            )
        except NotServedError as error:
            if _is_missing_object(error):
                return None
            raise

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Listing:
        """Every object matching the selectors (namespace None: all namespaces)."""
        body = self._request(
            "GET",
            resource.path(namespace=namespace),
            query=self._query(labelSelector=label_selector, fieldSelector=field_selector),
        )
        metadata = body.get("metadata") or {}
        return Listing(items=list(body.get("items") or []), resource_version=str(metadata.get("resourceVersion") or ""))

    def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        bookmarks: bool = True,
    ) -> Iterator[WatchEvent]:
        """Events from ``resource_version`` on until the server ends the stream (``timeout_seconds``) or it breaks.

        An ``ERROR`` event (e.g. 410 Gone: the version expired) is yielded, not raised: the caller re-lists.
        ``BOOKMARK`` events (with ``bookmarks``) carry only ``metadata.resourceVersion``: the version to resume from,
        so a stream that times out is resumed without a re-list.
        """
        query = self._query(
            watch=True,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            resourceVersion=resource_version or None,
            timeoutSeconds=timeout_seconds,
            allowWatchBookmarks=bookmarks,
        )
        response = self._request(
            "GET", resource.path(namespace=namespace), query=query, stream=True, timeout=(10.0, timeout_seconds + 30.0)
        )
        try:
            for line in iter_resp_lines(response):
                if not line:
                    continue
                event = json.loads(line)
                yield WatchEvent(type=str(event.get("type") or ""), object=dict(event.get("object") or {}))
        finally:
            response.release_conn()

    # -- writes -------------------------------------------------------------------------------------------------
    def create(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        dry_run: bool = False,
        field_validation: FieldValidation | None = None,
    ) -> dict[str, Any]:
        """Create ``body``; :class:`ConflictError` when it already exists.

        ``dry_run``: the server validates and defaults the object and returns it, storing nothing (``dryRun=All``).
        ``field_validation``: what the server does with fields the schema does not declare -- ``Strict`` refuses the
        request (400, ``strict decoding error: unknown field "spec.x"``), ``Warn`` prunes them with a warning,
        ``Ignore`` prunes them silently; the server's default is ``Warn``.
        """
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        query = self._query(dryRun="All" if dry_run else None, fieldValidation=field_validation)
        created = cast(
            "dict[str, Any]", self._request("POST", resource.path(namespace=namespace), query=query, body=dict(body))
        )
        if not dry_run:
            self._written(resource, created)
        return created

    def replace(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """PUT ``body``, guarded by its ``metadata.resourceVersion`` when set (:class:`ConflictError` if it moved)."""
        meta = body.get("metadata") or {}
        try:
            replaced = cast(
                "dict[str, Any]",
                self._request(
                    "PUT", resource.path(namespace=meta.get("namespace"), name=meta["name"]), body=dict(body)
                ),
            )
        except NotServedError as error:
            if _is_missing_object(error):
                return None
            raise
        self._written(resource, replaced)
        return replaced

    def patch(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> dict[str, Any] | None:
        """Patch one object (``merge`` | ``json`` | ``strategic``); None when it does not exist."""
        body: Any = list(patch) if patch_type == "json" else dict(cast("Mapping[str, Any]", patch))
        try:
            patched = cast(
                "dict[str, Any]",
                self._request(
                    "PATCH",
                    resource.path(namespace=namespace, name=name, subresource=subresource),
                    body=body,
                    content_type=PATCH_TYPES[patch_type],
                ),
            )
        except NotServedError as error:
            if _is_missing_object(error):
                return None
            raise
        if subresource in (None, "status"):  # a scale subresource answers with a Scale, not the object
            self._written(resource, patched)
        return patched

    def delete(
        self, resource: Resource, name: str, namespace: str | None = None, *, propagation: str | None = None
    ) -> bool:
        """Delete one object; False when it was already gone."""
        body = {"propagationPolicy": propagation} if propagation else None
        try:
            self._request("DELETE", resource.path(namespace=namespace, name=name), body=body)
        except NotServedError as error:
            if _is_missing_object(error):
                return False
            raise
        return True

    def apply(self, body: Mapping[str, Any], *, force: bool = True, field_manager: str | None = None) -> dict[str, Any]:
        """Server-side apply of a whole manifest (``rollouts install``), as ``field_manager`` (default: the client's).

        ``force`` takes over fields another manager set (what an installer wants on upgrade); without it such a
        clash is a :class:`ConflictError`.
        """
        meta = body.get("metadata") or {}
        resource = resource_for(str(body.get("apiVersion")), str(body.get("kind")))
        applied = cast(
            "dict[str, Any]",
            self._request(
                "PATCH",
                resource.path(namespace=meta.get("namespace"), name=str(meta["name"])),
                query=self._query(fieldManager=field_manager or self.field_manager, force=force),
                body=dict(body),
                content_type="application/apply-patch+yaml",
            ),
        )
        self._written(resource, applied)
        return applied

    def evict(self, name: str, namespace: str) -> bool:
        """Evict a pod through the Eviction API; False when a PodDisruptionBudget says not now (429) or it is gone."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        try:
            self._request("POST", PODS.path(namespace=namespace, name=name, subresource="eviction"), body=body)
        except ApiError as error:
            if error.status in (404, 429):
                return False
            raise
        return True

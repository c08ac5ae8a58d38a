"""The demo's simulated application: ~100 requests/s shared by the running versions, served as Prometheus metrics.

There are no real containers on the local cluster (KWOK plays kubelet), so the "application" is simulated here,
together with the gateway in front of it. Once per second it asks the cluster how the Gateway API HTTPRoute splits
the traffic between the stable and canary Services and which version each Service selects, splits the requests with
:func:`routed_split` (what a gateway does with backendRef weights), and counts requests, errors and latencies per
version with a profile chosen by the image tag (``demo:1.0`` / ``demo:2.0`` healthy, ``demo:3.0-bad`` failing and
slow). A backend whose Service selects no Ready pod answers 503, as a gateway without endpoints would. Prometheus
scrapes the counters; the AnalysisTemplate judges the canary from them, so every verdict in the demo comes from a
real PromQL query.

The model is deliberately deterministic where the demo's outcome depends on it: errors are counted by accumulating
the expected fraction (0.5% of 20 requests/s is one error every 10 s, never a lucky burst of five), so a healthy
canary cannot fail its analysis by chance and a bad one cannot pass. Only latencies are random (seeded).

This module never talks to Kubernetes: the caller injects ``observe`` (a function returning the Ready backends and
the split), so the traffic model and the routing arithmetic are tested without a cluster.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rollouts.devcluster.prometheus import label_text, number_text

__all__ = [
    "BAD",
    "HEALTHY",
    "LATENCY_BUCKETS",
    "UNROUTED",
    "Backend",
    "DemoApp",
    "RouteBackend",
    "Split",
    "TrafficModel",
    "VersionProfile",
    "profile_for_image",
    "replica_weighted_split",
    "route_backend_weights",
    "routed_split",
]

logger = logging.getLogger(__name__)

REQUESTS_METRIC = "demo_requests_total"
LATENCY_METRIC = "demo_request_duration_seconds"
INFO_METRIC = "demo_version_info"
# Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The version label of requests the gateway could not attribute to any version (no weight anywhere, or a Service
# that is not pinned to a version and selects no Ready pod).
UNROUTED = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionProfile:
    """How a version behaves: the share of requests it fails with 500 and its median latency (log-normal)."""

    error_rate: float
    median_latency: float
    spread: float = 0.4  # sigma of log(latency): how far the tail reaches


HEALTHY = VersionProfile(error_rate=0.005, median_latency=0.045)
BAD = VersionProfile(error_rate=0.25, median_latency=0.3, spread=0.6)


def profile_for_image(image: str) -> VersionProfile:
    """The image tag decides: a tag ending in ``-bad`` (``demo:3.0-bad``) is the broken build, anything else is fine.

    Keyed on the tag rather than on a list of known versions, so a viewer can release ``demo:4.0`` or
    ``demo:4.0-bad`` with ``kubectl rollouts set image`` and see the expected outcome.
    """
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return BAD if tag.endswith("-bad") else HEALTHY


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """One version of the application as the cluster shows it: pod-template hash, image and Ready pod count."""

    version: str
    image: str
    ready_pods: int


def replica_weighted_split(backends: Sequence[Backend]) -> dict[str, float]:
    """Traffic share per version when a Service selects every pod: proportional to Ready pods (sums to 1).

    This is what a replica-weighted canary means (the Rollout's ``setWeight`` is a share of pods). An empty dict
    means nobody can serve. With a traffic router, the shares come from the route's weights instead.
    """
    ready = {b.version: b.ready_pods for b in backends if b.ready_pods > 0}
    total = sum(ready.values())
    return {version: count / total for version, count in ready.items()} if total else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteBackend:
    """One backendRef of the HTTPRoute rule, resolved: the Service, its weight, the version its selector pins.

    ``version`` is the ``rollouts-pod-template-hash`` in the Service's selector (the controller pins the stable and
    canary Services to one version each); ``None`` means the selector is not pinned and selects every version.
    """

    service: str
    weight: int
    version: str | None


def route_backend_weights(route: Mapping[str, Any]) -> list[tuple[str, int]]:
    """``(service, weight)`` of the first rule of an HTTPRoute body that has backendRefs (the demo's route has one
    catch-all rule). Gateway API's default weight is 1; references to anything but a core Service are skipped, as
    no pod of the demo could answer them.
    """
    for rule in (route.get("spec") or {}).get("rules") or []:
        refs = [
            ref
            for ref in rule.get("backendRefs") or []
            if ref.get("kind", "Service") == "Service" and not ref.get("group") and ref.get("name")
        ]
        if refs:
            return [(str(ref["name"]), int(ref.get("weight", 1))) for ref in refs]
    return []


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """Shares of all requests (together they sum to 1 while anything is routed).

    ``served``: answered by a version's Ready pods (its profile decides errors and latency). ``unavailable``: sent
    to a backend with no Ready endpoint, so the gateway answers 503; keyed by the version the Service selects
    (:data:`UNROUTED` when it selects no particular one).
    """

    served: Mapping[str, float] = field(default_factory=dict)
    unavailable: Mapping[str, float] = field(default_factory=dict)


def routed_split(route: Sequence[RouteBackend], backends: Sequence[Backend]) -> Split:
    """What a gateway does with the rule's backendRef weights: each backend gets ``weight / sum(weights)`` of the
    requests, spread over the Ready pods its Service selects (kube-proxy style, equal per pod).

    Worked example: weights stable 80 / canary 20, the stable Service pinned to ``a`` (5 Ready pods), the canary
    Service to ``b`` (1 Ready pod) -> ``served == {"a": 0.8, "b": 0.2}``; the pod counts do not matter, only that
    there is at least one. With ``b`` not Ready yet -> ``served == {"a": 0.8}``, ``unavailable == {"b": 0.2}``.
    No weight at all (every weight 0, or no backendRef) -> everything is unavailable: Gateway API answers such a
    rule with an error too.
    """
    total = sum(max(0, ref.weight) for ref in route)
    if total == 0:
        return Split(unavailable={UNROUTED: 1.0})
    ready = {b.version: b.ready_pods for b in backends if b.ready_pods > 0}
    served: dict[str, float] = {}
    unavailable: dict[str, float] = {}
    for ref in route:
        share = max(0, ref.weight) / total
        if share == 0:
            continue
        if ref.version is None:
            spread = replica_weighted_split(backends)
            if not spread:
                unavailable[UNROUTED] = unavailable.get(UNROUTED, 0.0) + share
            for version, part in spread.items():
                served[version] = served.get(version, 0.0) + share * part
        elif ready.get(ref.version, 0) > 0:
            served[ref.version] = served.get(ref.version, 0.0) + share
        else:
            unavailable[ref.version] = unavailable.get(ref.version, 0.0) + share
    return Split(served=served, unavailable=unavailable)


@dataclass
class _VersionCounters:
    image: str
    profile: VersionProfile
    ok: int = 0
    errors: int = 0
    unavailable: int = 0  # 503s answered by the gateway: no Ready pod of this version to send them to
    owed_requests: float = 0.0  # fractional requests carried to the next tick
    owed_unavailable: float = 0.0
    owed_errors: float = 0.0  # fractional errors carried to the next request
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    latency_sum: float = 0.0


class TrafficModel:
    """Counters of a simulated service; :meth:`tick` advances them by ``seconds`` of traffic for a given split.

    Counters only ever grow (they are Prometheus counters) and every version seen once keeps its series, starting
    at zero before its first request, so ``rate()`` sees the whole increase of a new canary.
    """

    def __init__(self, *, requests_per_second: float = 100.0, seed: int = 7) -> None:
        self.requests_per_second = requests_per_second
        self._random = random.Random(seed)  # noqa: S311 -- simulated latencies, not security
        self._versions: dict[str, _VersionCounters] = {}
        self._lock = threading.Lock()

    def tick(
        self,
        *,
        backends: Sequence[Backend],
        split: Mapping[str, float],
        seconds: float,
        unavailable: Mapping[str, float] | None = None,
    ) -> None:
        """``seconds`` of traffic: ``split`` shares are served by their version, ``unavailable`` shares get 503."""
        with self._lock:
            for backend in backends:
                counters = self._versions.get(backend.version)
                if counters is None:
                    self._versions[backend.version] = _VersionCounters(
                        image=backend.image, profile=profile_for_image(backend.image)
                    )
                elif not counters.image:  # first seen through its 503s: the image is known now
                    counters.image, counters.profile = backend.image, profile_for_image(backend.image)
            for version, share in split.items():
                counters = self._versions.get(version)
                if counters is None or share <= 0:
                    continue
                counters.owed_requests += self.requests_per_second * share * seconds
                requests = math.floor(counters.owed_requests)
                counters.owed_requests -= requests
                self._serve(counters, requests)
            for version, share in (unavailable or {}).items():
                if share <= 0:
                    continue
                counters = self._versions.setdefault(version, _VersionCounters(image="", profile=HEALTHY))
                counters.owed_unavailable += self.requests_per_second * share * seconds
                failed = math.floor(counters.owed_unavailable)
                counters.owed_unavailable -= failed
                counters.unavailable += failed

    def _serve(self, counters: _VersionCounters, requests: int) -> None:
        profile = counters.profile
        for _ in range(requests):
            counters.owed_errors += profile.error_rate
            if counters.owed_errors >= 1.0:
                counters.owed_errors -= 1.0
                counters.errors += 1
            else:
                counters.ok += 1
            latency = profile.median_latency * math.exp(self._random.gauss(0.0, profile.spread))
            counters.latency_sum += latency
            for index, bound in enumerate(LATENCY_BUCKETS):
                if latency <= bound:
                    counters.buckets[index] += 1

    def totals(self) -> dict[str, tuple[int, int]]:
        """``{version: (ok, errors)}`` so far; errors include the gateway's 503s."""
        with self._lock:
            return {version: (c.ok, c.errors + c.unavailable) for version, c in self._versions.items()}

    def exposition(self) -> str:
        """The Prometheus text format (0.0.4) of every counter, the latency histogram and a version info gauge."""
        with self._lock:
            versions = sorted(self._versions.items())
            lines = [
                f"# HELP {REQUESTS_METRIC} Requests answered, by version (pod-template hash) and status code.",
                f"# TYPE {REQUESTS_METRIC} counter",
            ]
            for version, c in versions:
                lines.append(f"{REQUESTS_METRIC}{label_text({'version': version, 'code': '200'})} {c.ok}")
                lines.append(f"{REQUESTS_METRIC}{label_text({'version': version, 'code': '500'})} {c.errors}")
                lines.append(f"{REQUESTS_METRIC}{label_text({'version': version, 'code': '503'})} {c.unavailable}")
            lines += [
                f"# HELP {LATENCY_METRIC} Request latency, by version.",
                f"# TYPE {LATENCY_METRIC} histogram",
            ]
            for version, c in versions:
                for bound, count in zip(LATENCY_BUCKETS, c.buckets, strict=True):
                    labels = label_text({"version": version, "le": number_text(bound)})
                    lines.append(f"{LATENCY_METRIC}_bucket{labels} {count}")
                total = c.ok + c.errors
                lines.append(f"{LATENCY_METRIC}_bucket{label_text({'version': version, 'le': '+Inf'})} {total}")
                lines.append(f"{LATENCY_METRIC}_sum{label_text({'version': version})} {number_text(c.latency_sum)}")
                lines.append(f"{LATENCY_METRIC}_count{label_text({'version': version})} {total}")
            lines += [f"# HELP {INFO_METRIC} The image each version runs.", f"# TYPE {INFO_METRIC} gauge"]
            lines.extend(
                f"{INFO_METRIC}{label_text({'version': version, 'image': c.image})} 1"
                for version, c in versions
                if c.image
            )
            return "\n".join(lines) + "\n"


class DemoApp:
    """The simulated application: a thread that ticks :class:`TrafficModel` once per second with what ``observe``
    reports, and a loopback HTTP server answering ``GET /metrics`` (any path) with the exposition.

    ``observe`` returns the backends and the traffic split; it may raise (an API hiccup): the tick is skipped and
    the failure logged, because a demo's traffic should not stop over one failed read.
    """

    def __init__(
        self,
        *,
        observe: Callable[[], tuple[Sequence[Backend], Split]],
        model: TrafficModel | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        self.model = model or TrafficModel()
        self._observe = observe
        self._tick_seconds = tick_seconds
        self._stopping = threading.Event()
        self.last_split = Split()
        self.ticks = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = app.model.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the stdlib's name
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="demo-app-http", daemon=True),
            threading.Thread(target=self._run, name="demo-app-traffic", daemon=True),
        ]

    @property
    def address(self) -> str:
        """``host:port`` of the metrics endpoint (what Prometheus scrapes)."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> DemoApp:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stopping.wait(self._tick_seconds):
            try:
                backends, split = self._observe()
            except Exception:
                logger.exception("demo app: reading the cluster failed; skipping this second of traffic")
                continue
            now = time.monotonic()
            # Real elapsed time (a slow API read stretches a tick), capped so a stall does not dump a burst.
            elapsed, last = min(now - last, 3 * self._tick_seconds), now
            self.model.tick(backends=backends, split=split.served, unavailable=split.unavailable, seconds=elapsed)
            self.last_split = split
            self.ticks += 1

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

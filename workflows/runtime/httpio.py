"""Outbound HTTP for ``http`` steps and the web and Prometheus metric providers: one client construction, one
deadline, awaited on the event loop so that cancelling the task ends the request.

Why it exists: a blocking request on the executor's thread pool cannot be cancelled. A step's ``timeout``, an
AnalysisRun's termination or a Rollout's abort cancelled the awaiting task, but the thread stayed in the call until
the server answered, so hung endpoints could hold every pool thread and delay every other run's work. A request made
here is a coroutine (httpx's ``AsyncClient``): cancelling it closes its connection at once and holds no thread.

:func:`fetch` is the one request: the client is built per request by :func:`new_client` (no proxy or CA-bundle detour
for loopback targets, TLS context built once per process, no retries: a measurement is one attempt), and the whole
exchange -- connect, send, headers, body -- is bounded by one deadline (:func:`within`), as Go's
``http.Client.Timeout`` bounds Argo's web provider. httpx's own timeouts are per operation: alone they would let a
server that trickles a byte per second hold a request for ever. A body larger than ``max_body`` is refused while it
is read, never buffered whole.

Where a request may go: only ``http``/``https`` URLs (:func:`check_url`), and, when the operator configured one, only
hosts that a :class:`HostAllowList` allows -- checked before the first connection and again on every redirect (an
allowed host cannot bounce the request elsewhere). ``http`` steps and web metrics pass the controller's list
(``--web-metric-allowed-hosts``); an empty list allows every host, as Argo's web provider does (docs/security.md).

Failures are :class:`~workflows.errors.RequestError` s with a one-line reason (timeout, unreachable, refused host,
other); it never logs, and never puts a header value or a body into a message (they carry tokens).
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from workflows.errors import HostNotAllowedError, RequestError, RequestTimeoutError, UnreachableError

__all__ = [
    "ALLOWED_HOSTS_FLAG",
    "ALLOW_ALL_HOSTS",
    "HostAllowList",
    "HttpResponse",
    "check_url",
    "fetch",
    "is_loopback_url",
    "new_client",
    "within",
]

#: The controller flag that sets the allow-list; refusals name it so the reader knows where the rule comes from.
ALLOWED_HOSTS_FLAG = "--web-metric-allowed-hosts"
_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class HostAllowList:
    """Glob patterns (``fnmatch``, case-insensitive) a request's host must match; no patterns: every host.

    A pattern matches the URL's host name only (no scheme, no port): ``*.monitoring.svc.cluster.local``,
    ``metrics.example.com``, ``10.0.0.*``. ``*`` also matches dots, so ``*.example.com`` covers
    ``a.b.example.com`` but not ``example.com`` itself.
    """

    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: Sequence[str]) -> HostAllowList:
        """From the flag's values: each may hold several patterns separated by commas; blanks are ignored."""
        found = [part.strip().lower() for value in values for part in value.split(",")]
        return cls(tuple(pattern for pattern in found if pattern))

    def allows(self, host: str) -> bool:
        if not self.patterns:
            return True
        name = host.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    def check(self, host: str) -> None:
        """Raise :class:`~workflows.errors.HostNotAllowedError` naming the host and the flag when it is refused."""
        if not self.allows(host):
            raise HostNotAllowedError(
                f"host {host!r} is not allowed by {ALLOWED_HOSTS_FLAG} ({', '.join(self.patterns)})"
            )


ALLOW_ALL_HOSTS = HostAllowList()


def check_url(url: str, *, field: str) -> str:
    """``url`` if it is an http(s) URL with a host, else a :class:`~workflows.errors.RequestError` naming ``field``."""
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise RequestError(f"{field} is not a valid URL: {error}") from None
    if parts.scheme.lower() not in _SCHEMES:
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise RequestError(f"{field} must be an http:// or https:// URL ({scheme})")
    if not parts.hostname:
        raise RequestError(f"{field} must name a host")
    return url


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    """A complete answer: status, headers as sent (a repeated name appears once per value), body and its charset."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    encoding: str = "utf-8"

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding, errors="replace")

    def grouped_headers(self) -> dict[str, list[str]]:
        """Header name (as the server spelled it) -> its values, in order."""
        grouped: dict[str, list[str]] = {}
        for name, value in self.headers:
            grouped.setdefault(name, []).append(value)
        return grouped


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    Loopback calls must not go through the proxy or CA bundle the environment configures for the outside world.
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~20 ms: once per process, not once per request. The environment's bundle
    # (SSL_CERT_FILE / SSL_CERT_DIR) is honoured as httpx honours it.
    return httpx.create_ssl_context(trust_env=True)


def new_client(
    *,
    url: str,
    timeout: float,
    verify: bool = True,
    follow_redirects: bool = False,
    allowed_hosts: HostAllowList = ALLOW_ALL_HOSTS,
) -> httpx.AsyncClient:
    """The one construction of an outbound client (cheap: ~0.2 ms; the TLS context is shared).

    ``trust_env`` (proxies from the environment) stays on for real hosts -- corporate proxies are how those are
    reached -- and goes off for loopback targets, where the environment's proxy would only break the call.
    ``allowed_hosts`` is checked by a request hook, so every request the client sends (redirects included) passes it.
    """
    hooks = {"request": [_host_check(allowed_hosts)]} if allowed_hosts.patterns else {}
    return httpx.AsyncClient(
        verify=_tls_context() if verify else False,
        trust_env=not is_loopback_url(url),
        timeout=httpx.Timeout(timeout),
        follow_redirects=follow_redirects,
        event_hooks=hooks,
    )


def _host_check(allowed_hosts: HostAllowList) -> Any:
    async def check(request: httpx.Request) -> None:
        allowed_hosts.check(request.url.host)

    return check


@asynccontextmanager
async def within(seconds: float) -> AsyncIterator[None]:
    """The one deadline: everything inside must end within ``seconds`` or :class:`RequestTimeoutError` is raised
    (and the work inside is cancelled). A cancellation from outside (a step's timeout, a run's end) passes through
    unchanged."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise RequestTimeoutError(f"timed out after {seconds:g}s") from None


async def fetch(
    method: str,
    url: str,
    *,
    timeout: float,  # noqa: ASYNC109 -- the request's own bound, applied by within(): one deadline for the whole exchange
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    params: Mapping[str, str] | None = None,
    content: bytes | None = None,
    verify: bool = True,
    follow_redirects: bool = False,
    max_body: int | None = None,
    allowed_hosts: HostAllowList = ALLOW_ALL_HOSTS,
) -> HttpResponse:
    """One request, its whole answer read (at most ``max_body`` bytes) within ``timeout`` seconds.

    Raises :class:`~workflows.errors.RequestTimeoutError`, :class:`~workflows.errors.UnreachableError`,
    :class:`~workflows.errors.HostNotAllowedError` (before any connection is made to that host) or
    :class:`~workflows.errors.RequestError`; ``asyncio.CancelledError`` when cancelled, after closing the connection.
    """
    allowed_hosts.check(urlsplit(check_url(url, field="url")).hostname or "")
    try:
        async with (
            within(timeout),
            new_client(
                url=url, timeout=timeout, verify=verify, follow_redirects=follow_redirects, allowed_hosts=allowed_hosts
            ) as client,
            client.stream(method, url, headers=headers, params=params, content=content) as response,
        ):
            body = await _read(response, max_body)
            return HttpResponse(
                status=response.status_code,
                headers=tuple(response.headers.multi_items()),
                body=body,
                encoding=response.encoding or "utf-8",
            )
    except httpx.TimeoutException:
        raise RequestTimeoutError(f"timed out after {timeout:g}s") from None
    except (httpx.ConnectError, httpx.UnsupportedProtocol) as error:
        raise UnreachableError(_reason(error)) from None
    except httpx.HTTPError as error:
        raise RequestError(_reason(error)) from None
    except ssl.SSLError as error:
        raise UnreachableError(f"TLS: {error.reason or type(error).__name__}") from None


async def _read(response: httpx.Response, limit: int | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes(65536):
        size += len(chunk)
        if limit is not None and size > limit:
            raise RequestError(f"response body is larger than {_size(limit)}")
        chunks.append(chunk)
    return b"".join(chunks)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def _reason(error: BaseException) -> str:
    """A one-line cause (``Connection refused``), from the innermost OS error when there is one, else the type."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno is not None:
            return os.strerror(seen.errno) if seen.errno > 0 else str(seen.strerror or seen)
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    if text.startswith("[Errno"):
        return text.split("] ", 1)[-1]
    return text if text and len(text) < 120 and "://" not in text else type(error).__name__

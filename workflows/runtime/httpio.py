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

Failures are :class:`~workflows.errors.RequestError` s with a one-line reason (timeout, unreachable, other); it never
logs, and never puts a header value or a body into a message (they carry tokens).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

from workflows.errors import RequestError, RequestTimeoutError, UnreachableError

__all__ = ["HttpResponse", "fetch", "is_loopback_url", "new_client", "within"]


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


def new_client(*, url: str, timeout: float, verify: bool = True, follow_redirects: bool = False) -> httpx.AsyncClient:
    """The one construction of an outbound client (cheap: ~0.2 ms; the TLS context is shared).

    ``trust_env`` (proxies from the environment) stays on for real hosts -- corporate proxies are how those are
    reached -- and goes off for loopback targets, where the environment's proxy would only break the call.
    """
    return httpx.AsyncClient(
        verify=_tls_context() if verify else False,
        trust_env=not is_loopback_url(url),
        timeout=httpx.Timeout(timeout),
        follow_redirects=follow_redirects,
    )


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
) -> HttpResponse:
    """One request, its whole answer read (at most ``max_body`` bytes) within ``timeout`` seconds.

    Raises :class:`~workflows.errors.RequestTimeoutError`, :class:`~workflows.errors.UnreachableError` or
    :class:`~workflows.errors.RequestError`; ``asyncio.CancelledError`` when cancelled, after closing the connection.
    """
    try:
        async with (
            within(timeout),
            new_client(url=url, timeout=timeout, verify=verify, follow_redirects=follow_redirects) as client,
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

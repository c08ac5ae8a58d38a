"""The ``web`` provider: one HTTP call awaited on the event loop, a JSONPath into the JSON answer, judged like any
value.

Fields (Argo's names): ``url``, ``method`` (GET by default; POST/PUT may carry ``body`` (text) or ``jsonBody`` (an
object sent as JSON)), ``headers`` (``[{key, value}]``, values may come from secret args), ``jsonPath`` (Kubernetes
JSONPath syntax, ``{$.data.ok}``; default ``{$}`` = the whole body), ``timeoutSeconds`` (default 10: the whole
request, connect to last byte, as Go's ``http.Client.Timeout`` in Argo), ``insecure``.

The request goes through :func:`workflows.runtime.httpio.fetch`: the end of the run (termination, fail-fast, a
Rollout's abort) cancels it and closes its connection at once, and no thread waits on the endpoint.

Outcome: a non-2xx status, a body that is not JSON, or a JSONPath that selects nothing is an Error measurement; the
value is the first thing the JSONPath selects (number, string, bool, map, list or null), stored as compact JSON the
way Argo marshals it (``0.99``, ``"ok"``, ``{"a":1}``). Response bodies are never copied into messages: a server
echoing the request would echo the token too.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from analysis.args import RenderedProvider
from analysis.assess import Measurement
from analysis.providers.base import (
    Observation,
    ProviderError,
    configured,
    measure_with,
    measure_with_async,
    request_failures,
)
from analysis.spec import Metric
from workflows.errors import RequestError
from workflows.runtime.httpio import ALLOW_ALL_HOSTS, HostAllowList, check_url, fetch

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "MAX_BODY_BYTES", "WebProvider", "compile_json_path", "select_value"]

DEFAULT_TIMEOUT_SECONDS = 10.0
#: Bodies beyond this are refused rather than buffered: a metric endpoint answers with a small JSON document.
MAX_BODY_BYTES = 8 * 1024 * 1024
_METHODS = frozenset({"GET", "POST", "PUT"})
_COMPILE_LOCK = threading.Lock()


def compile_json_path(expression: str) -> Any:
    """Kubernetes-style ``{$.a.b}`` / ``{.a.b}`` / ``$.a`` -> a compiled jsonpath-ng expression (filters allowed).

    Serialised: building jsonpath-ng's parser costs tens of milliseconds of pure Python, and twenty worker threads
    compiling the same path at once would spend a second fighting over the GIL instead of compiling it once.
    """
    with _COMPILE_LOCK:
        return _compile_json_path(expression)


@lru_cache(maxsize=256)
def _compile_json_path(expression: str) -> Any:
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext.parser import parse

    text = expression.strip() or "{$}"
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    elif "{" in text:
        raise ProviderError(f"jsonPath {expression!r} must be a single expression such as {{$.data.value}}")
    if text.startswith("."):
        text = "$" + text
    if not text.startswith("$"):
        text = "$." + text
    try:
        return parse(text)
    except (JsonPathLexerError, JsonPathParserError) as error:
        raise ProviderError(f"jsonPath {expression!r} is not valid: {error}") from None
    except Exception as error:  # noqa: BLE001 -- jsonpath-ng's ext grammar raises bare Exception for some inputs
        raise ProviderError(f"jsonPath {expression!r} is not valid: {error}") from None


def select_value(document: object, json_path: str) -> Observation:
    """The first value ``json_path`` selects in a parsed JSON ``document``, as Argo's web provider picks it. Pure."""
    matches = compile_json_path(json_path).find(document)
    if not matches:
        raise ProviderError(f"jsonPath {json_path!r} selected nothing in the response")
    value = matches[0].value
    return Observation(value=value, text=json.dumps(value, separators=(",", ":"), allow_nan=True))


class WebProvider:
    """HTTP metrics; stateless (each measurement opens its own connection, see :mod:`workflows.runtime.httpio`).

    ``allowed_hosts``: the hosts measurements may reach (the controller's ``--web-metric-allowed-hosts``; redirects
    included); the default allows every host, as Argo's provider does.
    """

    def __init__(self, *, allowed_hosts: HostAllowList = ALLOW_ALL_HOSTS) -> None:
        self.allowed_hosts = allowed_hosts

    async def measure_on_loop(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement:
        if at is not None:
            return measure_with(metric, rendered, _cannot_replay, now=now)
        return await measure_with_async(metric, rendered, lambda: self.observe(rendered.body), now=now)

    def measure(
        self, metric: Metric, rendered: RenderedProvider, *, now: datetime, at: datetime | None = None
    ) -> Measurement:
        """The same measurement for a caller outside any event loop (it runs one for the call)."""
        return asyncio.run(self.measure_on_loop(metric, rendered, now=now, at=at))

    async def observe(self, body: Mapping[str, object]) -> Observation:
        """Call the endpoint of a rendered provider body; raises :class:`ProviderError` on any failure."""

        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise ProviderError("provider.web.url must be an http:// or https:// URL")
        try:
            check_url(url, field="provider.web.url")
        except RequestError as error:
            raise ProviderError(error.reason) from None
        method = str(body.get("method") or "GET").upper()
        if method not in _METHODS:
            raise ProviderError(f"provider.web.method {method!r} is not supported (GET, POST or PUT)")
        if configured(body.get("authentication")):
            raise ProviderError("provider.web.authentication (sigv4/oauth2) is not supported; use headers")
        headers = _headers(body.get("headers"))
        data = _request_body(body, method, headers)
        timeout = _timeout(body.get("timeoutSeconds"))
        json_path = str(body.get("jsonPath") or "{$}")
        compile_json_path(json_path)  # a bad path is reported before any request is made
        with request_failures(target=url, timeout=timeout):
            response = await fetch(
                method,
                url,
                headers=headers,
                content=data,
                timeout=timeout,
                verify=not bool(body.get("insecure")),
                follow_redirects=True,
                max_body=MAX_BODY_BYTES,
                allowed_hosts=self.allowed_hosts,
            )
        if not 200 <= response.status < 300:
            raise ProviderError(f"received non 2xx response code: {response.status}")
        try:
            document = json.loads(response.body)
        except ValueError as error:
            raise ProviderError(f"could not parse JSON body ({type(error).__name__} at byte {_pos(error)})") from None
        return select_value(document, json_path)


def _cannot_replay() -> Observation:
    raise ProviderError("web metrics cannot be evaluated at a past instant")


def _headers(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ProviderError("provider.web.headers must be a list of {key, value}")
    headers: dict[str, str] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str) or not item.get("key"):
            raise ProviderError(f"provider.web.headers[{index}] needs key and value")
        headers[str(item["key"])] = str(item.get("value", ""))
    return headers


def _request_body(body: Mapping[str, object], method: str, headers: dict[str, str]) -> bytes | None:
    text = body.get("body")
    json_body = body.get("jsonBody")
    if text is not None and json_body is not None:
        raise ProviderError("provider.web: set either body or jsonBody, not both")
    if (text is not None or json_body is not None) and method == "GET":
        raise ProviderError("provider.web: a GET request cannot carry body or jsonBody; use method POST or PUT")
    if json_body is not None:
        if not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(json_body, separators=(",", ":")).encode()
    if text is not None:
        return str(text).encode()
    return None


def _timeout(value: object) -> float:
    if value is None or value in {"", 0}:
        return DEFAULT_TIMEOUT_SECONDS  # Argo: <= 0 means the default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ProviderError("provider.web.timeoutSeconds must be a number")
    try:
        seconds = float(value)
    except ValueError:
        raise ProviderError(f"provider.web.timeoutSeconds must be a number, got {value!r}") from None
    return seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS


def _pos(error: ValueError) -> int:
    return int(getattr(error, "pos", 0))

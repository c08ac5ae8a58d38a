"""The ``http`` step runner: one request awaited on the event loop (:mod:`workflows.runtime.httpio`).

Success is judged by ``successCondition`` (``response.statusCode == 201``, ``response.body contains "ok"``,
``response.headers["Server"][0] == "x"``) in expr-lang's dialect, as Argo's agent does, with the environment Argo
gives it: ``response`` (``statusCode``, ``body``, ``headers`` as name -> list of values) and ``request`` (``method``,
``url``, ``body``, ``headers``), through :func:`workflows.model.expr.compile_condition`; without one, any status
below 400 succeeds. Connection errors and timeouts are transient ``Error`` s (``OnTransientError`` retries
them); a response that fails the condition is ``Failed``. Header values are never echoed into messages (they carry
tokens).

Where it may go: only ``http``/``https`` URLs, and only hosts the controller's ``--web-metric-allowed-hosts`` allows
(when set; redirects included); a refusal is a non-transient ``Error`` naming the field or the host and the flag. The
response body is read up to :data:`MAX_BODY_BYTES` and refused past it (docs/security.md, resource bounds).

``timeoutSeconds`` (default 30) bounds the whole request; the template's ``timeout``, the run's end or the executor's
shutdown cancel it sooner, and cancelling closes the connection at once: no thread is held by a hung endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from workflows.errors import ExpressionError, RequestError, RequestTimeoutError, UnreachableError
from workflows.model.expr import compile_condition
from workflows.runtime.httpio import ALLOW_ALL_HOSTS, HostAllowList, HttpResponse, check_url, fetch
from workflows.runtime.runners import NodeContext, NodeResult

_NAMES = frozenset({"request", "response"})
_MAX_RESULT = 256 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Largest response body an ``http`` step reads (the web metric's cap): bodies beyond it are refused while read.
MAX_BODY_BYTES = 8 * 1024 * 1024


async def _request(payload: Mapping[str, Any], allowed_hosts: HostAllowList) -> HttpResponse:
    headers = [(str(h["name"]), str(h.get("value", ""))) for h in payload.get("headers") or []]
    body = payload.get("body")
    return await fetch(
        str(payload.get("method") or "GET").upper(),
        str(payload["url"]),
        headers=headers,
        content=None if body is None else str(body).encode(),
        timeout=float(payload.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS),
        verify=not bool(payload.get("insecureSkipVerify", False)),
        follow_redirects=True,  # as Argo's agent (Go's default client) follows them
        max_body=MAX_BODY_BYTES,
        allowed_hosts=allowed_hosts,
    )


class HttpRunner:
    uses_slot = True

    def __init__(self, *, allowed_hosts: HostAllowList = ALLOW_ALL_HOSTS) -> None:
        self.allowed_hosts = allowed_hosts

    async def run(self, node: NodeContext) -> NodeResult:
        payload = node.payload
        condition_text = payload.get("successCondition")
        try:
            condition = None if not condition_text else compile_condition(str(condition_text), names=_NAMES)
        except ExpressionError as exc:
            return NodeResult.error(f"successCondition: {exc}")
        try:
            check_url(str(payload.get("url") or ""), field="http.url")
            response = await _request(payload, self.allowed_hosts)
        except (RequestTimeoutError, UnreachableError) as exc:
            return NodeResult.error(f"request failed: {exc.reason}", transient=True)
        except RequestError as exc:
            return NodeResult.error(f"request failed: {exc.reason}")
        status, headers, body = response.status, response.grouped_headers(), response.text
        result = body[:_MAX_RESULT]
        if condition is None:
            if status < 400:
                return NodeResult.succeeded(result=result)
            return NodeResult.failed(f"status code {status}", result=result)
        env = {
            "request": {
                "method": str(payload.get("method") or "GET").upper(),
                "url": str(payload["url"]),
                "body": str(payload.get("body") or ""),
                "headers": _CaseInsensitive(_request_headers(payload)),
            },
            "response": {"statusCode": status, "body": body, "headers": _CaseInsensitive(headers)},
        }
        try:
            ok = condition.evaluate(env)
        except ExpressionError as exc:
            # An evaluation error may quote the value it failed on; header values carry tokens, never echo them.
            secrets = [*_request_headers(payload).values(), *headers.values()]
            return NodeResult.error(f"successCondition: {_scrub(str(exc), secrets)}")
        if ok:
            return NodeResult.succeeded(result=result)
        return NodeResult.failed(
            f"successCondition {condition_text!r} evaluated false (status {status})", result=result
        )


def _scrub(message: str, values: list[list[str]]) -> str:
    for value in sorted((v for group in values for v in group if len(v) >= 4), key=len, reverse=True):
        message = message.replace(value, "*****").replace(repr(value)[1:-1], "*****")
    return message


def _request_headers(payload: Mapping[str, Any]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for header in payload.get("headers") or []:
        grouped.setdefault(str(header["name"]), []).append(str(header.get("value", "")))
    return grouped


class _CaseInsensitive(Mapping[str, list[str]]):
    """HTTP header names are case-insensitive; users write ``headers["Server"]`` whatever the server sent.

    A read-only Mapping (the evaluator looks values up with ``get`` and ``in``, which both go through here).
    """

    def __init__(self, data: Mapping[str, list[str]]) -> None:
        self._data = {key.lower(): value for key, value in data.items()}
        self._names = {key.lower(): key for key in data}

    def __getitem__(self, key: str) -> list[str]:
        return self._data[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._data)

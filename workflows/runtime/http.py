"""The ``http`` step runner: one request through ``requests`` on the executor's thread pool.

Success is judged by ``successCondition`` (``response.statusCode == 201``, ``response.body contains "ok"``,
``response.headers["Server"][0] == "x"``) with the safe evaluator in :mod:`workflows.model.expr`; without one,
any status below 400 succeeds. Connection errors and timeouts are transient ``Error`` s (``OnTransientError`` retries
them); a response that fails the condition is ``Failed``. Header values are never echoed into messages (they carry
tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.errors import ExpressionError
from workflows.model.expr import compile_expression
from workflows.runtime.runners import NodeContext, NodeResult

_NAMES = frozenset({"response"})
_MAX_RESULT = 256 * 1024


def _request(payload: Mapping[str, Any]) -> tuple[int, dict[str, list[str]], str]:
    import requests

    headers = {str(h["name"]): str(h.get("value", "")) for h in payload.get("headers") or []}
    timeout = float(payload.get("timeoutSeconds") or 30)
    response = requests.request(
        str(payload.get("method") or "GET").upper(),
        str(payload["url"]),
        headers=headers,
        data=payload.get("body"),
        timeout=timeout,
        verify=not bool(payload.get("insecureSkipVerify", False)),
    )
    grouped: dict[str, list[str]] = {}
    for key, value in response.headers.items():
        grouped.setdefault(key, []).append(value)
    return response.status_code, grouped, response.text


class HttpRunner:
    uses_slot = True

    async def run(self, node: NodeContext) -> NodeResult:
        import requests

        payload = node.payload
        condition_text = payload.get("successCondition")
        try:
            condition = None if not condition_text else compile_expression(str(condition_text), names=_NAMES)
        except ExpressionError as exc:
            return NodeResult.error(f"successCondition: {exc}")
        try:
            status, headers, body = await node.run_blocking(_request, payload)
        except (requests.Timeout, requests.ConnectionError) as exc:
            return NodeResult.error(f"request failed: {type(exc).__name__}", transient=True)
        except requests.RequestException as exc:
            return NodeResult.error(f"request failed: {type(exc).__name__}")
        result = body[:_MAX_RESULT]
        if condition is None:
            if status < 400:
                return NodeResult.succeeded(result=result)
            return NodeResult.failed(f"status code {status}", result=result)
        headers_ci = _CaseInsensitive(headers)
        env = {"response": {"statusCode": status, "body": body, "headers": headers_ci}}
        try:
            ok = condition.truth(env)
        except ExpressionError as exc:
            return NodeResult.error(f"successCondition: {exc}")
        if ok:
            return NodeResult.succeeded(result=result)
        return NodeResult.failed(
            f"successCondition {condition_text!r} evaluated false (status {status})", result=result
        )


class _CaseInsensitive(dict[str, list[str]]):
    """HTTP header names are case-insensitive; users write ``headers["Server"]`` whatever the server sent."""

    def __init__(self, data: Mapping[str, list[str]]) -> None:
        super().__init__({key.lower(): value for key, value in data.items()})

    def __getitem__(self, key: str) -> list[str]:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

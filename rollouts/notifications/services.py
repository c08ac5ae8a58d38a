"""The notification services: their options (``service.<type>[.<name>]`` in the ConfigMap) and, for one rendered
notification and one recipient, the exact HTTP request to make and how to judge the answer.

Pure builders behind a tiny sender (``rollouts.notifications.sender`` does the I/O), as httpx keeps its transports
apart: a test checks the request a service would make, byte for byte, without a socket.

* ``webhook`` (named: ``service.webhook.<name>``): ``url``, ``headers`` (``[{name, value}]``), ``basicAuth``
  (``{username, password}``), ``retryWaitMin``/``retryWaitMax`` (Go durations), ``retryMax``,
  ``insecureSkipVerify``. The request is ``GET url`` with the template's ``message`` as body, unless the template
  has ``webhook.<name>``: then its ``method`` (default GET), ``path`` (appended to the URL) and ``body``.
* ``slack``: either ``token`` (the chat.postMessage API: ``POST <apiURL>chat.postMessage`` with a bearer token, the
  recipient as ``channel``) or ``webhookURL`` (an incoming webhook: ``POST`` to it; the channel is the webhook's, a
  recipient is sent as ``channel`` only for legacy webhooks that honour it). ``username``, ``icon`` (``:emoji:`` or
  an image URL), ``disableUnfurl``, ``insecureSkipVerify``, ``apiURL`` (default ``https://slack.com/api/``). The
  template's ``slack.attachments``/``slack.blocks`` are JSON texts, ``slack.username``/``slack.icon`` override.
* ``teams``: ``recipientUrls`` (recipient -> incoming webhook URL), ``insecureSkipVerify``; an Office 365
  connector MessageCard from the template's ``teams`` fields, or ``teams.template`` sent as is.

Every option is checked: an unknown one, or one that would change what is sent in a way not done here (Slack
threads with ``groupingKey``, ``signingSecret`` for Argo's bot), is a :class:`ConfigError` naming it, never ignored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from rollouts.notifications.errors import ConfigError
from workflows.model.durations import parse_duration

__all__ = [
    "SERVICE_TYPES",
    "HttpRequest",
    "Rendered",
    "Retry",
    "Service",
    "SlackService",
    "TeamsService",
    "Verdict",
    "WebhookService",
    "parse_service",
]

SERVICE_TYPES: Final = ("webhook", "slack", "teams")
#: Seconds one request may take (connect + answer); the sender retries within :class:`Retry`.
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Retry:
    """How often to try one notification: ``attempts`` in all, waiting from ``wait_min`` doubling to ``wait_max``
    seconds between tries (a receiver's ``Retry-After`` is honoured up to ``wait_max``)."""

    attempts: int = 4
    wait_min: float = 1.0
    wait_max: float = 5.0


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    verify: bool = True  # TLS verification (insecureSkipVerify turns it off)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How an answer (or a transport failure) ends one try: delivered, try again (after ``wait`` s if the receiver
    said), or failed for good with a ``reason`` safe to show (no URL, no token)."""

    outcome: Literal["delivered", "retry", "failed"]
    reason: str = ""
    wait: float | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """One notification, its templates rendered for one recipient (later templates of a trigger override earlier
    ones field by field, as Argo's engine merges them)."""

    message: str = ""
    slack: Mapping[str, Any] = field(default_factory=dict)  # username, icon (text); attachments, blocks (JSON)
    teams: Mapping[str, Any] = field(default_factory=dict)  # title, summary, text, themeColor (text); facts, ... (JSON)
    webhook: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # service name -> method, path, body


def _retry_or_fail(status: int, retry_after: str | None, what: str) -> Verdict:
    if status == 429 or (status >= 500 and status != 501):
        wait = None
        if retry_after is not None and retry_after.strip().isdigit():
            wait = float(retry_after.strip())
        return Verdict("retry", f"{what} answered HTTP {status}", wait)
    return Verdict("failed", f"{what} answered HTTP {status}")


def _excerpt(body: bytes, limit: int = 120) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


class Service:
    """One configured service (``service.<type>[.<name>]``): its name, type, retry policy, the secret-bearing
    option values to redact from anything shown, and the request for a notification."""

    name: str
    type: str
    retry: Retry
    sensitive: frozenset[str]

    def request(self, rendered: Rendered, recipient: str) -> HttpRequest:
        raise NotImplementedError

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        raise NotImplementedError


# -- option reading -------------------------------------------------------------------------------------------------
@dataclass
class _Options:
    where: str
    values: Mapping[str, Any]
    used: set[str] = field(default_factory=set)

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.values.get(key)

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self._get(key)
        if value is None or value == "":
            if required:
                raise ConfigError(self.where, f"{key} is required")
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(self.where, f"{key} must be a string")
        return str(value)

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ConfigError(self.where, f"{key} must be true or false")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self._get(key)
        if value in (None, "", 0):
            return default
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) / 1e9  # Go's time.Duration in JSON: nanoseconds
        try:
            return parse_duration(str(value)).total_seconds()
        except ValueError as error:
            raise ConfigError(self.where, f"{key}: {error}") from None

    def count(self, key: str, default: int) -> int:
        value = self._get(key)
        if value is None or value == 0:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(self.where, f"{key} must be a non-negative integer")
        return value

    def url(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.text(key, required=required, default=default)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                # The value may hold a token: name the key, never quote it.
                raise ConfigError(self.where, f"{key} must be an http(s) URL")
        return value

    def refuse(self, key: str, why: str) -> None:
        if self.values.get(key) not in (None, "", False, [], {}):
            raise ConfigError(self.where, f"{key}: {why}")
        self.used.add(key)

    def finish(self) -> None:
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            raise ConfigError(self.where, f"unknown option(s) {', '.join(unknown)}")


def _sensitive(*values: str) -> frozenset[str]:
    """Values to redact: each secret-bearing option, and a URL's path and query (a receiver may echo either)."""
    out: set[str] = set()
    for value in values:
        if not value:
            continue
        out.add(value)
        parts = urlsplit(value)
        if parts.scheme and parts.path not in ("", "/"):
            out.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return frozenset(v for v in out if len(v) >= 4)


# -- webhook --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookService(Service):
    name: str
    url: str
    headers: tuple[tuple[str, str], ...]
    basic_auth: tuple[str, str] | None
    retry: Retry
    verify: bool
    type: str = "webhook"
    sensitive: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, name: str, options: _Options) -> WebhookService:
        url = options.url("url", required=True)
        headers: list[tuple[str, str]] = []
        raw_headers = options._get("headers") or []
        if not isinstance(raw_headers, list):
            raise ConfigError(options.where, "headers must be a list of {name, value}")
        for index, header in enumerate(raw_headers):
            if not isinstance(header, Mapping) or set(header) - {"name", "value"} or not header.get("name"):
                raise ConfigError(options.where, f"headers[{index}] must be {{name, value}}")
            headers.append((str(header["name"]), str(header.get("value") or "")))
        auth = options._get("basicAuth")
        basic: tuple[str, str] | None = None
        if auth is not None:
            if not isinstance(auth, Mapping) or set(auth) - {"username", "password"}:
                raise ConfigError(options.where, "basicAuth must be {username, password}")
            basic = (str(auth.get("username") or ""), str(auth.get("password") or ""))
        retry = Retry(
            attempts=options.count("retryMax", 3) + 1,
            wait_min=options.seconds("retryWaitMin", 1.0),
            wait_max=options.seconds("retryWaitMax", 5.0),
        )
        verify = not options.flag("insecureSkipVerify")
        options.refuse("maxIdleConns", "HTTP transport tuning is not supported")
        options.refuse("maxIdleConnsPerHost", "HTTP transport tuning is not supported")
        options.refuse("maxConnsPerHost", "HTTP transport tuning is not supported")
        options.refuse("idleConnTimeout", "HTTP transport tuning is not supported")
        options.finish()
        secrets = _sensitive(url, *(value for _, value in headers), *(basic or ()))
        return cls(name, url, tuple(headers), basic, retry, verify, sensitive=secrets)

    def request(self, rendered: Rendered, recipient: str) -> HttpRequest:
        method, url, body = "GET", self.url, rendered.message
        override = rendered.webhook.get(self.name)
        if override is not None:
            body = override.get("body", "")
            method = override.get("method") or method
            path = override.get("path", "")
            if path:
                url = url.rstrip("/") + "/" + path.lstrip("/")
        headers = list(self.headers)
        if self.basic_auth is not None:
            token = base64.b64encode(f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()).decode()
            headers.append(("Authorization", f"Basic {token}"))
        return HttpRequest(method.upper(), url, tuple(headers), body.encode(), self.verify)

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        if 200 <= status <= 299:
            return Verdict("delivered")
        return _retry_or_fail(status, headers.get("retry-after"), f"webhook {self.name!r}")


# -- slack ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlackService(Service):
    name: str
    token: str
    webhook_url: str
    api_url: str
    username: str
    icon: str
    disable_unfurl: bool
    verify: bool
    type: str = "slack"
    retry: Retry = Retry()
    sensitive: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, name: str, options: _Options) -> SlackService:
        token = options.text("token")
        webhook_url = options.url("webhookURL")
        if bool(token) == bool(webhook_url):
            raise ConfigError(
                options.where, "set exactly one of token (chat.postMessage) and webhookURL (incoming webhook)"
            )
        api_url = options.url("apiURL", default="https://slack.com/api/")
        username, icon = options.text("username"), options.text("icon")
        disable_unfurl, verify = options.flag("disableUnfurl"), not options.flag("insecureSkipVerify")
        options.refuse("signingSecret", "used by Argo's Slack bot, which is not part of this controller")
        options.refuse("channels", "used by Argo's Slack bot, which is not part of this controller")
        options.finish()
        return cls(
            name,
            token,
            webhook_url,
            api_url,
            username,
            icon,
            disable_unfurl,
            verify,
            sensitive=_sensitive(token, webhook_url),
        )

    def payload(self, rendered: Rendered, recipient: str) -> dict[str, Any]:
        slack = rendered.slack
        payload: dict[str, Any] = {"text": rendered.message}
        if recipient:
            payload["channel"] = recipient
        username = slack.get("username") or self.username
        if username:
            payload["username"] = username
        icon = slack.get("icon") or self.icon
        if icon:
            if icon.startswith(":") and icon.endswith(":") and len(icon) > 2:
                payload["icon_emoji"] = icon
            elif urlsplit(icon).scheme in ("http", "https"):
                payload["icon_url"] = icon
        for key in ("attachments", "blocks"):
            if slack.get(key):
                payload[key] = slack[key]
        if self.disable_unfurl:
            payload["unfurl_links"] = False
            payload["unfurl_media"] = False
        return payload

    def request(self, rendered: Rendered, recipient: str) -> HttpRequest:
        body = json.dumps(self.payload(rendered, recipient)).encode()
        headers = [("Content-Type", "application/json; charset=utf-8")]
        if self.webhook_url:
            return HttpRequest("POST", self.webhook_url, tuple(headers), body, self.verify)
        headers.append(("Authorization", f"Bearer {self.token}"))
        url = self.api_url.rstrip("/") + "/chat.postMessage"
        return HttpRequest("POST", url, tuple(headers), body, self.verify)

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        if not 200 <= status <= 299:
            return _retry_or_fail(status, headers.get("retry-after"), f"slack {self.name!r}")
        if self.webhook_url:
            return Verdict("delivered")
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return Verdict("failed", f"slack {self.name!r} answered something that is not JSON")
        if isinstance(answer, Mapping) and answer.get("ok") is True:
            return Verdict("delivered")
        error = str(answer.get("error") if isinstance(answer, Mapping) else "") or "not ok"
        if error == "ratelimited":
            return Verdict("retry", f"slack {self.name!r}: ratelimited")
        return Verdict("failed", f"slack {self.name!r}: {error[:80]}")


# -- teams ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TeamsService(Service):
    name: str
    recipient_urls: Mapping[str, str]
    verify: bool
    type: str = "teams"
    retry: Retry = Retry()
    sensitive: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, name: str, options: _Options) -> TeamsService:
        urls = options._get("recipientUrls")
        if not isinstance(urls, Mapping) or not urls:
            raise ConfigError(options.where, "recipientUrls must map each recipient to its incoming webhook URL")
        checked: dict[str, str] = {}
        for recipient, url in urls.items():
            parts = urlsplit(str(url))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(options.where, f"recipientUrls.{recipient} must be an http(s) URL")
            checked[str(recipient)] = str(url)
        verify = not options.flag("insecureSkipVerify")
        options.finish()
        return cls(name, checked, verify, sensitive=_sensitive(*checked.values()))

    def card(self, rendered: Rendered) -> dict[str, Any]:
        teams = rendered.teams
        card: dict[str, Any] = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "title": teams.get("title", ""),
            "summary": teams.get("summary", ""),
            "text": teams.get("text") or rendered.message,
        }
        if teams.get("themeColor"):
            card["themeColor"] = teams["themeColor"]
        sections: list[Any] = list(teams.get("sections") or [])
        if teams.get("facts"):
            sections.append({"facts": teams["facts"]})
        if sections:
            card["sections"] = sections
        if teams.get("potentialAction"):
            card["potentialAction"] = teams["potentialAction"]
        return card

    def request(self, rendered: Rendered, recipient: str) -> HttpRequest:
        url = self.recipient_urls.get(recipient)
        if url is None:
            raise ConfigError(
                f"service.teams{'' if self.name == 'teams' else '.' + self.name}",
                f"recipientUrls has no entry for recipient {recipient!r}",
            )
        template = rendered.teams.get("template")
        body = template.encode() if template else json.dumps(self.card(rendered)).encode()
        return HttpRequest("POST", url, (("Content-Type", "application/json"),), body, self.verify)

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        if not 200 <= status <= 299:
            return _retry_or_fail(status, headers.get("retry-after"), f"teams {self.name!r}")
        text = body.decode("utf-8", errors="replace").strip()
        if text in ("", "1"):
            return Verdict("delivered")
        return Verdict("failed", f"teams {self.name!r} answered {_excerpt(body)!r}")


_PARSERS: Final = {"webhook": WebhookService.parse, "slack": SlackService.parse, "teams": TeamsService.parse}


def parse_service(kind: str, name: str, options: object, *, where: str) -> Service:
    """The service ``service.<kind>[.<name>]`` configures, from its options (secrets already substituted)."""
    if kind not in _PARSERS:
        raise ConfigError(where, f"service type {kind!r} is not supported (supported: {', '.join(SERVICE_TYPES)})")
    if not isinstance(options, Mapping):
        raise ConfigError(where, "expected a map of options")
    return _PARSERS[kind](name, _Options(where, options))

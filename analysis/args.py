"""Template args: ``{{args.name}}`` substitution, merging, fieldRef lookup and secret rendering with redaction.

Why secrets are special: a secret-backed arg (``valueFrom.secretKeyRef``) is read only at measurement time, through
a :class:`SecretResolver` the controller supplies, and only into the provider body that goes on the wire. Everything
that may be logged, stored in ``status`` or put in an Event uses the redacted copy (values replaced by ``*****``),
and :func:`redact` scrubs provider messages that might echo a secret back. A secret arg is therefore refused
anywhere outside ``provider`` (a condition or a count would end up in status).

Pure: no Kubernetes client here; the resolver is a Protocol.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from analysis.errors import SecretResolutionError, SpecError
from workflows.errors import FieldIssue

__all__ = [
    "REDACTED",
    "Argument",
    "FieldRef",
    "RenderedProvider",
    "SecretKeyRef",
    "SecretResolver",
    "find_placeholders",
    "merge_args",
    "redact",
    "render_provider",
    "resolve_field_refs",
    "substitute",
]

REDACTED = "*****"
# Argo's tag is exactly {{args.NAME}}; we also tolerate inner spaces, which Argo would leave unresolved (an error).
_PLACEHOLDER = re.compile(r"\{\{\s*args\.([^{}\s]+?)\s*\}\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretKeyRef:
    name: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRef:
    field_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Argument:
    """One entry of ``spec.args``: a literal ``value``, or ``valueFrom`` a Secret key or a field of the owner."""

    name: str
    value: str | None = None
    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRef | None = None

    @property
    def is_secret(self) -> bool:
        return self.secret_key_ref is not None

    @property
    def is_resolved(self) -> bool:
        return self.value is not None or self.secret_key_ref is not None or self.field_ref is not None


class SecretResolver(Protocol):
    """Reads one key of one Secret. Implemented by the controller's IO layer; fakes in tests."""

    def resolve_secret(self, namespace: str, name: str, key: str) -> str: ...


# --------------------------------------------------------------------------------------------------------------
# Placeholders


def find_placeholders(value: object, *, path: str) -> list[tuple[str, str]]:
    """Every ``(arg name, field path)`` referenced anywhere in ``value`` (strings, map keys, nested lists)."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:  # iterative: a provider body (a Job spec) can be deep, and recursion is not needed
        current, where = stack.pop()
        if isinstance(current, str):
            found.extend((match.group(1), where) for match in _PLACEHOLDER.finditer(current))
        elif isinstance(current, Mapping):
            for key, item in current.items():
                if isinstance(key, str):
                    found.extend((match.group(1), where) for match in _PLACEHOLDER.finditer(key))
                stack.append((item, f"{where}.{key}"))
        elif isinstance(current, (list, tuple)):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(current))
    found.reverse()
    return found


def substitute(value: object, values: Mapping[str, str]) -> object:
    """A copy of ``value`` with ``{{args.x}}`` replaced for every ``x`` in ``values``; others are left as written.

    One pass per string, so a value that itself contains ``{{args.y}}`` is not expanded again.
    """

    def replace_in(text: str) -> str:
        return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)

    if isinstance(value, str):
        return replace_in(value)
    if isinstance(value, Mapping):
        return {
            (replace_in(key) if isinstance(key, str) else key): substitute(item, values) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [substitute(item, values) for item in value]
    return value


# --------------------------------------------------------------------------------------------------------------
# Merging and resolution


def merge_args(*, incoming: Sequence[Argument], declared: Sequence[Argument]) -> tuple[Argument, ...]:
    """Argo's MergeArgs: values passed by the Rollout override the template's; every arg must end with a value.

    Args passed but not declared by any template are ignored, as Argo does. Raises :class:`SpecError` listing every
    arg left without a value.
    """
    merged = list(declared)
    for arg in incoming:
        for index, existing in enumerate(merged):
            if existing.name != arg.name:
                continue
            if arg.value is not None:
                merged[index] = replace(existing, value=arg.value, secret_key_ref=None, field_ref=None)
            elif arg.secret_key_ref is not None or arg.field_ref is not None:
                merged[index] = replace(
                    existing, value=None, secret_key_ref=arg.secret_key_ref, field_ref=arg.field_ref
                )
    issues = [
        FieldIssue(
            f"args.{arg.name}",
            "has no value: pass it in the Rollout's analysis args or give it a value in the template",
        )
        for arg in merged
        if not arg.is_resolved
    ]
    if issues:
        raise SpecError(issues)
    return tuple(merged)


_FIELD_SEGMENT = re.compile(r"\.?([A-Za-z0-9_-]+)|\[['\"]([^'\"]+)['\"]\]")


def resolve_field_refs(args: Sequence[Argument], owner: Mapping[str, object]) -> tuple[Argument, ...]:
    """Replace ``valueFrom.fieldRef`` args by the value found in ``owner`` (the Rollout), as Argo does at run creation.

    Paths look like ``metadata.name`` or ``metadata.labels['app']``. A missing field is a :class:`SpecError`.
    """
    resolved: list[Argument] = []
    issues: list[FieldIssue] = []
    for arg in args:
        if arg.field_ref is None:
            resolved.append(arg)
            continue
        found = _lookup(owner, arg.field_ref.field_path)
        if found is None:
            issues.append(
                FieldIssue(
                    f"args.{arg.name}.valueFrom.fieldRef.fieldPath",
                    f"{arg.field_ref.field_path!r} was not found on the owning object",
                )
            )
            continue
        resolved.append(replace(arg, value=found, field_ref=None))
    if issues:
        raise SpecError(issues)
    return tuple(resolved)


def _lookup(owner: Mapping[str, object], path: str) -> str | None:
    current: object = owner
    position = 0
    while position < len(path):
        match = _FIELD_SEGMENT.match(path, position)
        if match is None or not isinstance(current, Mapping):
            return None
        current = current.get(match.group(1) or match.group(2))
        position = match.end()
    if current is None or isinstance(current, (Mapping, list)):
        return None
    return str(current).lower() if isinstance(current, bool) else str(current)


# --------------------------------------------------------------------------------------------------------------
# Rendering at measurement time


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedProvider:
    """A provider body ready for the request, and its redacted twin for anything that is recorded."""

    body: Mapping[str, object]
    redacted: Mapping[str, object]
    secret_values: frozenset[str]

    def redact(self, text: str) -> str:
        """Scrub any secret value out of ``text`` (a provider error message, a response excerpt)."""
        return redact(text, self.secret_values)


def render_provider(
    body: Mapping[str, object],
    *,
    args: Sequence[Argument],
    namespace: str,
    resolver: SecretResolver,
) -> RenderedProvider:
    """Fill ``{{args.x}}`` in a provider body, reading secret args through ``resolver`` now.

    Plain args are usually substituted already (:func:`analysis.spec.resolve_metrics`); they are filled here too,
    so a body straight from a template works. Raises :class:`SecretResolutionError` (no value inside) when a
    secret cannot be read; the caller records that as an Error measurement.
    """
    referenced = {name for name, _ in find_placeholders(body, path="provider")}
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for arg in args:
        if arg.name not in referenced:
            continue
        if arg.secret_key_ref is not None:
            ref = arg.secret_key_ref
            try:
                secrets[arg.name] = resolver.resolve_secret(namespace, ref.name, ref.key)
            except SecretResolutionError:
                raise
            except Exception as error:  # noqa: BLE001 - any resolver failure becomes one typed, value-free error
                raise SecretResolutionError(
                    arg=arg.name, secret=ref.name, key=ref.key, reason=type(error).__name__
                ) from None
        elif arg.value is not None:
            plain[arg.name] = arg.value
    rendered = substitute(body, {**plain, **secrets})
    redacted = substitute(body, {**plain, **dict.fromkeys(secrets, REDACTED)})
    assert isinstance(rendered, Mapping)
    assert isinstance(redacted, Mapping)
    return RenderedProvider(
        body=rendered, redacted=redacted, secret_values=frozenset(value for value in secrets.values() if value)
    )


def redact(text: str, secret_values: frozenset[str] | Sequence[str]) -> str:
    """Replace every secret value in ``text`` by ``*****``; longest first, so overlapping secrets vanish whole."""
    for secret in sorted((value for value in secret_values if value), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text

"""Args substitution and secret rendering: secrets reach the request, never the record."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.args import (
    REDACTED,
    Argument,
    FieldRef,
    SecretKeyRef,
    find_placeholders,
    merge_args,
    redact,
    render_provider,
    resolve_field_refs,
    substitute,
)
from analysis.errors import SecretResolutionError, SpecError


class FakeSecrets:
    def __init__(self, data: dict[tuple[str, str, str], str]) -> None:
        self.data = data
        self.calls: list[tuple[str, str, str]] = []

    def resolve_secret(self, namespace: str, name: str, key: str) -> str:
        self.calls.append((namespace, name, key))
        return self.data[(namespace, name, key)]


def test_substitute_reaches_every_string_including_keys_and_lists() -> None:
    body = {"url": "http://{{args.host}}/q", "headers": [{"key": "X-{{args.h}}", "value": "{{args.host}}"}],
            "{{args.h}}": 1, "n": 3}  # fmt: skip
    assert substitute(body, {"host": "svc", "h": "Id"}) == {
        "url": "http://svc/q", "headers": [{"key": "X-Id", "value": "svc"}], "Id": 1, "n": 3
    }  # fmt: skip


def test_substitution_is_single_pass() -> None:
    assert substitute("{{args.a}}", {"a": "{{args.b}}", "b": "x"}) == "{{args.b}}"


def test_find_placeholders_names_the_field() -> None:
    found = find_placeholders({"job": {"spec": {"args": ["{{args.x}}"]}}}, path="provider")
    assert found == [("x", "provider.job.spec.args[0]")]


def test_render_provider_keeps_a_redacted_twin() -> None:
    secrets = FakeSecrets({("ns", "creds", "token"): "s3cr3t"})
    args = [Argument(name="token", secret_key_ref=SecretKeyRef(name="creds", key="token")),
            Argument(name="svc", value="web")]  # fmt: skip
    body = {"url": "http://{{args.svc}}/", "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}]}
    rendered = render_provider(body, args=args, namespace="ns", resolver=secrets)
    assert rendered.body["headers"] == [{"key": "Authorization", "value": "Bearer s3cr3t"}]
    assert rendered.redacted["headers"] == [{"key": "Authorization", "value": f"Bearer {REDACTED}"}]
    assert rendered.redacted["url"] == "http://web/"
    assert "s3cr3t" not in repr(rendered.redacted)
    assert rendered.redact("401 for token s3cr3t") == f"401 for token {REDACTED}"
    assert secrets.calls == [("ns", "creds", "token")]


def test_unreferenced_secrets_are_not_read() -> None:
    secrets = FakeSecrets({})
    args = [Argument(name="token", secret_key_ref=SecretKeyRef(name="creds", key="token"))]
    render_provider({"url": "http://x"}, args=args, namespace="ns", resolver=secrets)
    assert secrets.calls == []


def test_resolver_failure_is_typed_and_value_free() -> None:
    args = [Argument(name="token", secret_key_ref=SecretKeyRef(name="creds", key="token"))]
    with pytest.raises(SecretResolutionError) as raised:
        render_provider({"url": "{{args.token}}"}, args=args, namespace="ns", resolver=FakeSecrets({}))
    assert str(raised.value) == "args.token: cannot read key 'token' of Secret 'creds': KeyError"


@given(secret=st.text(min_size=1, max_size=20), noise=st.text(max_size=20))
def test_redact_never_leaves_the_secret(secret: str, noise: str) -> None:
    text = f"{noise}{secret}{noise}{secret}"
    assert secret not in redact(text, frozenset({secret})) or secret in REDACTED


def test_merge_args_overrides_and_requires_values() -> None:
    declared = [Argument(name="svc"), Argument(name="limit", value="5")]
    merged = merge_args(incoming=[Argument(name="svc", value="web"), Argument(name="extra", value="1")],
                        declared=declared)  # fmt: skip
    assert [(a.name, a.value) for a in merged] == [("svc", "web"), ("limit", "5")]
    with pytest.raises(SpecError, match=r"args\.svc: has no value"):
        merge_args(incoming=[], declared=declared)


def test_field_refs_resolve_from_the_owner() -> None:
    owner = {"metadata": {"name": "guestbook", "labels": {"app.kubernetes.io/name": "gb"}}}
    args = [
        Argument(name="n", field_ref=FieldRef(field_path="metadata.name")),
        Argument(name="l", field_ref=FieldRef(field_path="metadata.labels['app.kubernetes.io/name']")),
    ]
    assert [a.value for a in resolve_field_refs(args, owner)] == ["guestbook", "gb"]
    with pytest.raises(SpecError, match="not found"):
        resolve_field_refs([Argument(name="x", field_ref=FieldRef(field_path="metadata.nope"))], owner)

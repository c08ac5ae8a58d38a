"""``when`` / ``successCondition`` evaluation, durations and ``{{...}}`` rendering."""

from __future__ import annotations

import pytest

from workflows.errors import ExpressionError, SubstitutionError
from workflows.model.expr import compile_expression
from workflows.model.substitution import Scope, compile_payload, item_label, parse_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("heads == heads", True),
        ("tails == heads", False),
        ("5 > 10", False),
        ("10 > 5", True),
        ("1.10 == 1.1", True),
        ("'a b' == \"a b\"", True),
        ("!(1 == 2) && (true || false)", True),
        ("not false and 2 >= 2", True),
        ("foo =~ '^f'", True),
        ("foo !~ '^f'", False),
        ("x in 'xyz'", True),
    ],
)
def test_when_clauses(text: str, expected: bool) -> None:
    assert compile_expression(text, bare_words_are_strings=True).truth({}) is expected


def test_success_condition_reads_the_response() -> None:
    env = {"response": {"statusCode": 201, "body": "hello google", "headers": {"Server": ["cloudflare"]}}}
    names = frozenset({"response"})
    assert compile_expression("response.statusCode == 201", names=names).truth(env)
    assert compile_expression('response.body contains "google"', names=names).truth(env)
    assert compile_expression('response.headers["Server"][0] == "cloudflare"', names=names).truth(env)
    with pytest.raises(ExpressionError, match="unknown name 'resp'"):
        compile_expression("resp.statusCode == 1", names=names)
    with pytest.raises(ExpressionError):
        compile_expression("response.statusCode ==", names=names)


def test_static_payload_is_shared_not_copied() -> None:
    payload = {"image": "busybox", "args": ["echo", "hi"]}
    renderer = compile_payload(payload, "p")
    assert renderer.is_static
    assert renderer.render(lambda key: "x") is payload


def test_payload_rendering_replaces_every_reference() -> None:
    renderer = compile_payload({"url": "http://{{inputs.parameters.host}}/{{retries}}", "n": 3}, "spec.http")
    values = {("inputs", "host"): "svc", ("retries",): "2"}
    assert renderer.render(values.__getitem__) == {"url": "http://svc/2", "n": 3}
    renderer.validate(Scope(inputs=frozenset({"host"}), retries=True))
    with pytest.raises(SubstitutionError, match="not declared"):
        renderer.validate(Scope(retries=True))


def test_unknown_reference_is_refused() -> None:
    with pytest.raises(SubstitutionError, match="unknown reference"):
        parse_text("{{pod.name}}", "x")


def test_item_labels_follow_argo() -> None:
    assert item_label("foo") == "foo"
    assert item_label(3) == "3"
    assert item_label({"tag": "9.1", "os": "debian"}) == "os:debian,tag:9.1"

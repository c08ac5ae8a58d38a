"""``{{...}}`` rendering: payloads, scopes and Argo's item labels (expressions: ``test_expressions.py``)."""

from __future__ import annotations

import pytest

from workflows.errors import SubstitutionError
from workflows.model.substitution import Scope, compile_payload, item_label, parse_text


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

"""Unset nested structs, as Argo's controller writes them, are not configuration."""

from __future__ import annotations

import pytest

from analysis.providers.base import configured


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ({}, False),
        ({"oauth2": {}, "sigv4": {}}, False),
        ({"oauth2": {"scopes": []}, "sigv4": {"region": ""}}, False),
        ({"sigv4": {"region": "eu-west-1"}}, True),
        ({"oauth2": {"scopes": ["read"]}}, True),
        ("x", True),
        (0, True),
    ],
)
def test_configured(value: object, expected: bool) -> None:
    assert configured(value) is expected

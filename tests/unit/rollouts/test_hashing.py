"""Pod-template hashes name ReplicaSets: stable across processes, blind to the hash label, safe characters only."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.hashing import (
    POD_TEMPLATE_HASH_LABEL,
    pod_template_hash,
    safe_encode,
    steps_hash,
    templates_equal,
)
from workflows.model.hashing import fnv32a

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "v1"}]},
}


def test_fnv1a_reference_vectors() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968
    assert fnv32a("foobar") == fnv32a(b"foo" + b"bar") == fnv32a("bar", fnv32a("foo"))  # text as UTF-8; a left fold


def test_safe_encode_uses_the_kubernetes_alphabet() -> None:
    # Kubernetes' rand.SafeEncodeString maps byte b to alphabet[b % 27]: '0' (48) -> '4', '1' (49) -> '5'.
    assert safe_encode("01") == "45"


def test_the_hash_is_a_fixed_function_of_the_template() -> None:
    # A constant on purpose: a change here renames every ReplicaSet of every Rollout on upgrade.
    assert pod_template_hash(TEMPLATE) == safe_encode(
        str(fnv32a(b'{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"image":"v1","name":"c"}]}}'))
    )


def test_the_hash_label_and_key_order_do_not_change_the_hash() -> None:
    labelled = {
        "spec": {"containers": [{"image": "v1", "name": "c"}]},
        "metadata": {"labels": {POD_TEMPLATE_HASH_LABEL: "abc", "app": "x"}},
    }
    assert pod_template_hash(labelled) == pod_template_hash(TEMPLATE)
    assert templates_equal(labelled, TEMPLATE)


def test_a_collision_count_gives_another_name() -> None:
    assert pod_template_hash(TEMPLATE, collision_count=1) != pod_template_hash(TEMPLATE)


def test_a_different_image_is_a_different_template() -> None:
    other = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "v2"}]}}
    assert pod_template_hash(other) != pod_template_hash(TEMPLATE)
    assert not templates_equal(other, TEMPLATE)


def test_steps_hash_sees_edits() -> None:
    assert steps_hash([{"setWeight": 10}]) != steps_hash([{"setWeight": 20}])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_hashes_are_short_safe_strings(template: dict[str, Any]) -> None:
    value = pod_template_hash(template)
    assert 1 <= len(value) <= 10
    assert set(value) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert pod_template_hash(dict(reversed(list(template.items())))) == value

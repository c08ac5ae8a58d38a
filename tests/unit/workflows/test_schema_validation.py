"""The offline schema validator, one keyword at a time: what passes, what is refused, at which path, with what words.

Small hand-written schemas; the whole CRDs are covered by tests/unit/crds and, against the real API server, by
tests/integration/crds/test_schema_agreement.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from workflows.model.schema import RULES_NOT_CHECKED, UNDECLARED, compile_rule, validate, validate_object


def issues(schema: dict[str, Any], value: Any, *, path: str = "spec") -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in validate(schema, value, path=path).items]


def paths(schema: dict[str, Any], value: Any, *, path: str = "spec") -> set[str]:
    return {where for where, _ in issues(schema, value, path=path)}


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}


# -- type ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("schema", "value", "ok"),
    [
        (INTEGER, 3, True),
        (INTEGER, 3.0, True),  # the API server accepts an integral float as an integer
        (INTEGER, 3.5, False),
        (INTEGER, True, False),  # a bool is never a number
        (INTEGER, "3", False),
        ({"type": "number"}, 3, True),
        ({"type": "number"}, 3.5, True),
        ({"type": "number"}, False, False),
        (STRING, "x", True),
        (STRING, 1, False),
        ({"type": "boolean"}, False, True),
        ({"type": "boolean"}, "false", False),
        ({"type": "array", "items": STRING}, ["a"], True),
        ({"type": "array", "items": STRING}, "a", False),
        ({"type": "object"}, {}, True),
        ({"type": "object"}, [], False),
        ({"x-kubernetes-int-or-string": True}, 3, True),
        ({"x-kubernetes-int-or-string": True}, "25%", True),
        ({"x-kubernetes-int-or-string": True}, True, False),
        ({"x-kubernetes-int-or-string": True}, 2.5, False),
        ({"x-kubernetes-preserve-unknown-fields": True}, [1, "a", {"b": None}], True),  # untyped: anything
    ],
)
def test_type(schema: dict[str, Any], value: Any, ok: bool) -> None:
    found = issues(schema, value)
    assert (found == []) is ok, found
    if not ok:
        assert found[0][0] == "spec"
        assert "must be of type" in found[0][1]


def test_a_type_error_names_what_was_found_and_what_is_expected() -> None:
    assert issues(INTEGER, "three") == [("spec", 'Invalid value: "string": must be of type integer')]
    assert issues({"x-kubernetes-int-or-string": True}, []) == [
        ("spec", 'Invalid value: "array": must be of type integer or string')
    ]


def test_a_yaml_date_is_not_a_string() -> None:
    import datetime as dt

    assert paths(STRING, dt.date(2024, 1, 1)) == {"spec"}


def test_keys_of_a_map_given_for_a_list_are_undeclared_as_the_servers_pruning_sees_them() -> None:
    schema = obj(steps={"type": "array", "items": obj(setWeight=INTEGER)})
    assert issues(schema, {"steps": {"setWeight": 1}}) == [
        ("spec.steps", 'Invalid value: "object": must be of type array'),
        ("spec.steps.setWeight", UNDECLARED),
    ]
    # items of a list given for a string are matched against nothing
    assert issues(obj(name=STRING), {"name": [{"a": 1}]}) == [
        ("spec.name", 'Invalid value: "array": must be of type string'),
        ("spec.name[0].a", UNDECLARED),
    ]


# -- null ----------------------------------------------------------------------------------------------------------
def test_a_null_field_is_pruned_unless_nullable_and_counts_as_missing() -> None:
    schema = {**obj(a=STRING, b={**STRING, "nullable": True}), "required": ["a"]}
    assert issues(schema, {"a": "x", "b": None}) == []
    assert issues(schema, {"a": None}) == [("spec.a", "Required value")]
    assert issues({"type": "object", "additionalProperties": STRING}, {"k": None}) == []


def test_a_null_list_item_is_a_type_error_unless_the_items_are_untyped() -> None:
    assert paths({"type": "array", "items": STRING}, [None]) == {"spec[0]"}
    assert issues({"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": True}}, [None]) == []
    assert issues({"type": "array", "items": {**STRING, "nullable": True}}, [None]) == []


# -- enum, format, pattern, lengths, bounds ------------------------------------------------------------------------
def test_enum_compares_as_json() -> None:
    schema = {"type": "string", "enum": ["In", "NotIn"]}
    assert issues(schema, "In") == []
    assert issues(schema, "Has") == [("spec", 'Unsupported value: "Has": supported values: "In", "NotIn"')]
    assert paths({"enum": [1]}, True) == {"spec"}  # true is not 1
    assert issues({"enum": [1]}, 1.0) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2024-01-01T10:00:00Z", True),
        ("2024-01-01t10:00:00z", True),
        ("2024-01-01T10:00:00.123456+02:00", True),
        ("2024-02-29T00:00:00Z", True),
        ("2023-02-29T00:00:00Z", False),
        ("2024-13-01T00:00:00Z", False),
        ("2024-01-01T24:00:00Z", False),
        ("2024-01-01T10:00:00", False),
        ("2024-01-01 10:00:00Z", False),
        ("2024-01-01T10:00Z", False),
        ("yesterday", False),
    ],
)
def test_date_time_format(text: str, ok: bool) -> None:
    found = issues({"type": "string", "format": "date-time"}, text)
    assert (found == []) is ok, found


@pytest.mark.parametrize(
    ("schema", "value", "ok"),
    [
        ({"type": "integer", "format": "int32"}, 2**31 - 1, True),
        ({"type": "integer", "format": "int32"}, 2**31, False),
        ({"type": "integer", "format": "int32"}, -(2**31) - 1, False),
        ({"type": "integer", "format": "int64"}, 2**63 - 1, True),
        ({"type": "integer", "format": "int64"}, 2**63, False),
        ({"type": "string", "format": "email"}, "not checked", True),  # formats our CRDs do not use
    ],
)
def test_integer_formats(schema: dict[str, Any], value: Any, ok: bool) -> None:
    found = issues(schema, value)
    assert (found == []) is ok, found


DURATION = r"^\+?(((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|[0-9]+)$"


@pytest.mark.parametrize(
    ("pattern", "text", "ok"),
    [
        (DURATION, "1m30s", True),
        (DURATION, "500µs", True),
        (DURATION, "soon", False),
        ("^[0-9]+%?$", "25%", True),
        ("^[0-9]+%?$", "25%\n", False),  # RE2's $ is the end of the text, unlike Python's
        ("[a-z]", "AbC", True),  # unanchored: anywhere, as Go's MatchString
        ("(?<=a)b", "ab", True),  # RE2 refuses lookbehind; such a CRD never installs, Python reads it
    ],
)
def test_pattern_uses_go_semantics(pattern: str, text: str, ok: bool) -> None:
    found = issues({"type": "string", "pattern": pattern}, text)
    assert (found == []) is ok, found
    if not ok:
        assert found == [("spec", f"Invalid value: \"{text}\": should match '{pattern}'".replace("\n", "\\n"))]


def test_lengths_count_characters() -> None:
    schema = {"type": "string", "minLength": 1, "maxLength": 3}
    assert issues(schema, "µµµ") == []
    assert issues(schema, "") == [("spec", 'Invalid value: "": should be at least 1 chars long')]
    assert issues(schema, "abcd") == [("spec", "Too long: may not be more than 3 characters")]


def test_numeric_bounds_apply_to_the_numbers_of_int_or_string() -> None:
    schema = {"x-kubernetes-int-or-string": True, "minimum": 0, "maximum": 100, "pattern": "^[0-9]+%?$"}
    assert issues(schema, 100) == []
    assert issues(schema, "100%") == []
    assert issues(schema, 101) == [("spec", "Invalid value: 101: should be less than or equal to 100")]
    assert issues(schema, -1) == [("spec", "Invalid value: -1: should be greater than or equal to 0")]
    assert paths(schema, "-1") == {"spec"}  # the pattern, not the bound, refuses a string


def test_exclusive_bounds_and_multiple_of() -> None:
    schema = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "exclusiveMaximum": True}
    assert issues(schema, 0.5) == []
    assert len(issues(schema, 0)) == 1
    assert len(issues(schema, 1)) == 1
    assert issues({"type": "integer", "multipleOf": 5}, 10) == []
    assert len(issues({"type": "integer", "multipleOf": 5}, 11)) == 1


# -- collections -----------------------------------------------------------------------------------------------------
def test_item_counts() -> None:
    schema = {"type": "array", "items": INTEGER, "minItems": 1, "maxItems": 2}
    assert issues(schema, [1, 2]) == []
    assert issues(schema, []) == [("spec", "Invalid value: 0: should have at least 1 items")]
    assert issues(schema, [1, 2, 3]) == [("spec", "Too many: 3: must have at most 2 items")]


def test_list_type_set_refuses_duplicates_at_the_repeated_item() -> None:
    schema = {"type": "array", "items": STRING, "x-kubernetes-list-type": "set"}
    assert issues(schema, ["a", "b"]) == []
    assert issues(schema, ["a", "b", "a"]) == [("spec[2]", 'Duplicate value: "a"')]


def test_list_type_map_refuses_duplicate_keys() -> None:
    schema = {
        "type": "array",
        "items": {**obj(name=STRING, port=INTEGER, note=STRING), "required": ["name", "port"]},
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name", "port"],
    }
    assert issues(schema, [{"name": "a", "port": 1}, {"name": "a", "port": 2}]) == []
    assert issues(schema, [{"name": "a", "port": 1}, {"name": "a", "port": 1, "note": "x"}]) == [
        ("spec[1]", 'Duplicate value: {"name":"a","port":1}')
    ]


def test_property_counts_and_maps() -> None:
    schema = {"type": "object", "additionalProperties": obj(route=STRING), "maxProperties": 1, "minProperties": 1}
    assert issues(schema, {"a/b": {"route": "r"}}) == []
    assert issues(schema, {"a/b": {"route": 1}}) == [
        ("spec.a/b.route", 'Invalid value: "integer": must be of type string')
    ]
    assert issues(schema, {"a": {}, "b": {}}) == [("spec", "Too many: 2: must have at most 1 items")]
    assert issues(schema, {}) == [("spec", "Invalid value: 0: should have at least 1 items")]


def test_required_fields_are_all_named() -> None:
    schema = {**obj(a=STRING, b=STRING, c=STRING), "required": ["a", "b"]}
    assert issues(schema, {"c": "x"}) == [("spec.a", "Required value"), ("spec.b", "Required value")]


# -- unknown fields --------------------------------------------------------------------------------------------------
def test_undeclared_fields_are_reported_at_their_full_path_all_of_them() -> None:
    schema = obj(strategy=obj(canary=obj(steps={"type": "array", "items": obj(setWeight=INTEGER)})))
    value = {"strategy": {"canary": {"foo": 1, "steps": [{"setWeight": 1}, {"setWeigth": 2}]}}, "bar": {}}
    assert sorted(issues(schema, value)) == [
        ("spec.bar", UNDECLARED),
        ("spec.strategy.canary.foo", UNDECLARED),
        ("spec.strategy.canary.steps[1].setWeigth", UNDECLARED),
    ]


def test_preserve_unknown_fields_keeps_declared_children_strict() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"image": STRING, "resources": obj(cpu=STRING)},
    }
    assert issues(schema, {"image": "x", "command": ["a"], "anything": {"deep": 1}}) == []
    assert issues(schema, {"image": 1}) == [("spec.image", 'Invalid value: "integer": must be of type string')]
    assert issues(schema, {"resources": {"gpu": "1"}}) == [("spec.resources.gpu", UNDECLARED)]


def test_a_pod_template_kept_open_takes_a_full_pod_template_spec() -> None:
    """Our CRDs declare the pod template as metadata + spec, both preserving unknown fields (the Pod API judges
    them when the ReplicaSet is created): a full PodTemplateSpec is not a false positive."""
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    template = {"type": "object", "properties": {"metadata": open_object, "spec": open_object}}
    full = {
        "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
        "spec": {
            "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}], "env": []}],
            "affinity": {"nodeAffinity": {}},
            "terminationGracePeriodSeconds": 30,
        },
    }
    assert issues(template, full, path="spec.template") == []
    assert paths(template, {**full, "status": {}}, path="spec.template") == {"spec.template.status"}


def test_an_embedded_resource_carries_api_version_kind_and_object_meta() -> None:
    schema = {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": obj(x=STRING)}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"a": "b"}}, "spec": {"x": "1"}}
    assert issues(schema, job) == []
    assert sorted(issues(schema, {"metadata": {"nmae": "j"}, "spec": {}})) == [
        ("spec.apiVersion", "Required value: must not be empty"),
        ("spec.kind", "Required value: must not be empty"),
        ("spec.metadata.nmae", UNDECLARED),
    ]


# -- CEL rules ---------------------------------------------------------------------------------------------------
def rules(*entries: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {**obj(**properties), "x-kubernetes-validations": list(entries)}


def test_a_false_rule_refuses_an_unimplemented_field_by_name() -> None:
    unimplemented = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-validations": [
            {"rule": "false", "message": "rollouts.dev does not support ALB", "reason": "FieldValueForbidden"}
        ],
    }
    schema = obj(alb=unimplemented, nginx=obj())
    assert issues(schema, {"nginx": {}}) == []
    assert issues(schema, {"alb": {"ingress": "x"}}) == [("spec.alb", "Forbidden: rollouts.dev does not support ALB")]


def test_one_of_rule_with_field_path_and_reason() -> None:
    schema = rules(
        {
            "rule": "(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) == 1",
            "message": "needs exactly one of a or b",
            "fieldPath": ".a",
            "reason": "FieldValueRequired",
        },
        a=STRING,
        b=STRING,
    )
    assert issues(schema, {"a": "x"}) == []
    assert issues(schema, {}) == [("spec.a", "Required value: needs exactly one of a or b")]
    assert issues(schema, {"a": "x", "b": "y"}) == [("spec.a", "Required value: needs exactly one of a or b")]
    assert issues(schema, {"a": "x", "b": None}) == []  # a null is pruned before rules see the object


def test_message_expression_wins_over_message_and_a_bare_rule_names_itself() -> None:
    schema = rules(
        {"rule": "self.n < 3", "message": "too big", "messageExpression": "'n is ' + string(self.n)"},
        {"rule": "self.n < 2"},
        n=INTEGER,
    )
    assert issues(schema, {"n": 5}) == [
        ("spec", "Invalid value: n is 5"),
        ("spec", "Invalid value: failed rule: self.n < 2"),
    ]


def test_rules_on_int_or_string_and_matches() -> None:
    schema = rules(
        {
            "rule": "!has(self.count) || has(self.interval) || !string(self.count).matches('^[0-9]+$') "
            "|| int(string(self.count)) <= 1",
            "message": "a metric with count greater than 1 needs an interval",
            "fieldPath": ".interval",
        },
        count={"x-kubernetes-int-or-string": True},
        interval=STRING,
    )
    assert issues(schema, {"count": 1}) == []
    assert issues(schema, {"count": "{{args.n}}"}) == []
    assert issues(schema, {"count": "3"}) == [
        ("spec.interval", "Invalid value: a metric with count greater than 1 needs an interval")
    ]


def test_a_rule_that_cannot_be_evaluated_refuses_with_the_reason() -> None:
    schema = rules({"rule": "self.missing == 1", "message": "m"}, present=STRING)
    [(where, message)] = issues(schema, {"present": "x"})
    assert where == "spec"
    assert "evaluating rule: self.missing == 1" in message


def test_transition_rules_are_skipped_offline() -> None:
    assert issues(rules({"rule": "self == oldSelf", "message": "immutable"}, a=STRING), {"a": "x"}) == []


def test_a_blocking_error_skips_only_the_rules_that_read_the_broken_value() -> None:
    """The server skips every rule of the object after a blocking error (type, enum, required, too long, too many)
    and says so; we skip those of the nodes containing it, evaluate the rest, and say so once."""
    forbid_b = {"rule": "!has(self.b)", "message": "b is not allowed"}
    schema = rules(
        {"rule": "self.a.size() > 0", "message": "a must not be empty"},
        a={"type": "array", "items": INTEGER},
        other=rules(forbid_b, b=STRING),
    )
    found = issues(schema, {"a": ["one"], "other": {"b": "x"}})
    assert found == [
        ("spec.a[0]", 'Invalid value: "string": must be of type integer'),
        ("spec.other", "Invalid value: b is not allowed"),
        ("", RULES_NOT_CHECKED),
    ]
    # a non-blocking error (pattern, minimum, minLength, duplicates) skips nothing
    schema = rules(forbid_b, a={"type": "string", "pattern": "^x$"}, b=STRING)
    assert issues(schema, {"a": "y", "b": "x"}) == [
        ("spec.a", "Invalid value: \"y\": should match '^x$'"),
        ("spec", "Invalid value: b is not allowed"),
    ]


def test_each_rule_is_compiled_once() -> None:
    from workflows.model import schema as module

    module._program.cache_clear()
    schema = {"type": "array", "items": rules({"rule": "self.n > 0", "message": "m"}, n=INTEGER)}
    validate(schema, [{"n": 1}, {"n": 0}, {"n": 2}])
    validate(schema, [{"n": 3}])
    assert module._program.cache_info().currsize == 1


def test_compile_rule_raises_on_garbage() -> None:
    compile_rule("has(self.a) && self.b.all(x, x > 1)")
    with pytest.raises(Exception, match=r"."):
        compile_rule("self.(")


# -- whole objects ---------------------------------------------------------------------------------------------------
ROOT = {
    "type": "object",
    "properties": {
        "apiVersion": STRING,
        "kind": STRING,
        "metadata": {"type": "object"},
        "spec": {**obj(replicas=INTEGER), "required": ["replicas"]},
        "status": obj(phase=STRING),
    },
}


def test_object_meta_is_checked_as_the_api_server_does() -> None:
    base = {"apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout", "spec": {"replicas": 1}}

    def found(metadata: Any) -> list[tuple[str, str]]:
        manifest = {**base, "metadata": metadata} if metadata is not None else base
        return [(i.path, i.message) for i in validate_object(ROOT, manifest).items]

    assert found({"name": "web", "labels": {"app": "web"}, "annotations": {}, "creationTimestamp": None}) == []
    assert found({"generateName": "web-"}) == []
    assert found(None) == [("metadata.name", "Required value: name or generateName is required")]
    assert found({"name": "web", "lables": {}}) == [("metadata.lables", UNDECLARED)]
    assert found({"name": "web", "labels": {"replicas": 3}}) == [
        ("metadata.labels.replicas", 'Invalid value: "integer": must be of type string')
    ]
    [(where, message)] = found({"name": "Web_1"})
    assert where == "metadata.name"
    assert "RFC 1123 subdomain" in message
    assert {path for path, _ in found({"generateName": "Web-"})} == {"metadata.generateName", "metadata.name"}


def test_status_is_not_the_users_to_write_so_it_is_not_checked() -> None:
    manifest = {"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {"phase": 3, "whatever": {}}}
    assert validate_object(ROOT, manifest).items == []
    without_status = {**ROOT, "properties": {k: v for k, v in ROOT["properties"].items() if k != "status"}}
    assert [i.path for i in validate_object(without_status, manifest).items] == ["status"]


def test_every_problem_at_once() -> None:
    manifest = {"metadata": {"name": "Bad_Name"}, "spec": {"replicas": "three", "extra": 1}, "kind": 5}
    assert {i.path for i in validate_object(ROOT, manifest).items} == {
        "metadata.name",
        "spec.replicas",
        "spec.extra",
        "kind",
    }

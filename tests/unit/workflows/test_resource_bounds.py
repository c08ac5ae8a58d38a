"""Documented limits (docs/security.md) with clear errors past them: the text an expression builds, and the nodes a
run's fan-out creates (withItems at compile time, withParam when it expands). Response-body caps are checked against
real servers in tests/integration/workflows/test_outbound_reach.py."""

from __future__ import annotations

import json

import pytest

from tests.support.workflows import ScriptedRunner, dag, execute, leaf, plan_of, workflow
from workflows.errors import ExpressionEvaluationError, SpecError
from workflows.model.compiler import MAX_NODES
from workflows.model.expr import MAX_TEXT, compile_condition, evaluate_when

BODY = "a" * (8 * 1024 * 1024)  # the largest body a web metric or http step reads

# -- expressions: the text one evaluation builds ---------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        # each element copies the body: 1,000 steps are within the step budget, 8 GiB of text is not
        'len(map(0..999, result + "x")) > 0',
        # doubling per level: 2^40 characters from a one-character input
        "len(" + "replace(" * 40 + "result" + ', "a", "aa")' * 40 + ") > 0",
        # quadratic in one call: charged before it is built
        'len(replace(result, "a", result)) > 0',
        # a huge separator between many items
        'len(join(map(0..9999, "x"), result)) > 0',
        "len(map(0..99, lower(result))) > 0",
    ],
)
def test_an_expression_that_builds_too_much_text_stops_with_an_error(condition: str) -> None:
    data = "a" if "aa" in condition else BODY
    with pytest.raises(ExpressionEvaluationError, match=f"builds too much text \\(more than {MAX_TEXT:,} characters"):
        compile_condition(condition).evaluate({"result": data})


@pytest.mark.parametrize(
    "condition",
    [
        'lower(result) contains "a" && upper(result) != ""',  # a few copies of the largest body fit
        'len(replace(result, "a", "b")) == 8388608',
        'result + "" != ""',
        'len(split(result, "")) > 0 || true',
    ],
)
def test_realistic_conditions_over_the_largest_body_fit_the_budget(condition: str) -> None:
    assert compile_condition(condition).evaluate({"result": BODY}) is True


def test_govaluate_concatenation_is_charged_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # A `when` is at most 1 MiB of source and 64 levels deep, so it cannot reach the real budget; a small one shows
    # its concatenations are charged all the same.
    monkeypatch.setattr("workflows.model.expr.MAX_TEXT", 1000)
    text = "x" * 400
    assert evaluate_when(f"{text} + {text} == {text}{text}") is True
    with pytest.raises(ExpressionEvaluationError, match="builds too much text"):
        evaluate_when(f"{text} + {text} + {text} == 1")


# -- fan-out: nodes per run ------------------------------------------------------------------------------------


def test_with_items_past_the_node_limit_is_refused_at_compile_time_with_the_field_path() -> None:
    items = list(range(400))
    doc = workflow(
        [
            dag("main", [{"name": "outer", "template": "inner", "withItems": items}]),
            # 400 x 400 = 160,000 steps: refused before they are built
            dag("inner", [{"name": "each", "template": "work", "withItems": items}]),
            leaf("work"),
        ]
    )
    with pytest.raises(SpecError) as refused:
        plan_of(doc)
    assert refused.value.path.endswith(".withItems")
    assert f"more than {MAX_NODES:,} nodes" in refused.value.message


def test_a_run_just_under_the_limit_compiles() -> None:
    doc = workflow([dag("main", [{"name": "each", "template": "work", "withItems": list(range(MAX_NODES - 10))}]),
                    leaf("work")])  # fmt: skip
    assert len(plan_of(doc).nodes) <= MAX_NODES


async def test_with_param_past_the_node_limit_is_an_error_of_its_group_and_builds_nothing() -> None:
    items = json.dumps([0] * (MAX_NODES + 1), separators=(",", ":"))
    doc = workflow(
        [
            dag(
                "main",
                [
                    {"name": "list", "template": "work"},
                    {
                        "name": "each",
                        "template": "work",
                        "depends": "list",
                        "withParam": "{{tasks.list.outputs.result}}",
                    },
                ],
            ),
            leaf("work"),
        ]
    )
    runner = ScriptedRunner({"list": items})
    result, run = await execute(plan_of(doc), runner)
    assert result.phase.value in {"Failed", "Error"}
    records = {record.display_name: record for record in run.node_table().records()}
    assert records["each"].phase.value == "Error"
    assert f"more than {MAX_NODES:,} nodes" in records["each"].message
    assert len(records) < 10  # no child was built
    assert runner.started == ["list"]

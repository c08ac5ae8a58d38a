"""Validation before anything runs: corpus manifests compile or are refused naming the field; graph errors."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.corpus import corpus_dir
from tests.support.workflows import dag, leaf, plan_of, workflow
from workflows import CycleError, DependsSyntaxError, SpecError, SubstitutionError, UnsupportedFieldError
from workflows.model.compiler import compile_workflow
from workflows.model.spec import parse_workflow

CORPUS = corpus_dir() / "argo-workflows"


def corpus_docs() -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        text = path.read_text().replace("argoproj.io/v1alpha1", "rollouts.dev/v1alpha1")
        out.extend((path.name, index, doc) for index, doc in enumerate(yaml.safe_load_all(text)) if doc)
    return out


def uses_unsupported(doc: Any) -> str | None:
    """Independent scan: the first unsupported Argo feature present anywhere in the document."""
    unsupported = {"steps", "script", "artifacts", "outputs", "inline", "target", "withSequence", "valueFrom"}
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in unsupported and key != "metadata":
                return key
            found = uses_unsupported(value) if key not in ("metadata", "container") else None
            if found:
                return found
    if isinstance(doc, list):
        for value in doc:
            found = uses_unsupported(value)
            if found:
                return found
    return None


STORE = {
    spec.name: spec
    for name, _, doc in corpus_docs()
    if name == "workflow-template-templates.yaml" and not uses_unsupported(doc)
    for spec in [parse_workflow(doc)]
}


@pytest.mark.parametrize(
    ("name", "index", "doc"), corpus_docs(), ids=lambda v: str(v) if isinstance(v, str | int) else ""
)
def test_corpus_manifest_compiles_or_is_refused_with_a_path(name: str, index: int, doc: dict[str, Any]) -> None:
    feature = uses_unsupported(doc)
    if feature is not None:
        with pytest.raises(UnsupportedFieldError) as caught:
            parse_workflow(doc)
        assert caught.value.path.startswith("spec.")
        assert feature in caught.value.path
        return
    spec = parse_workflow(doc)
    if spec.entrypoint is None:
        return  # a library WorkflowTemplate: parsed, used through templateRef
    entry = spec.templates[spec.entrypoint]
    needs_input = any(p.value is None for p in entry.inputs) and not spec.arguments
    if needs_input:
        with pytest.raises(SpecError, match="needs input parameter"):
            compile_workflow(spec, workflow_templates=STORE)
        return
    plan = compile_workflow(spec, workflow_templates=STORE)
    assert plan.nodes[0].name == spec.name
    assert plan.leaf_count >= 1


def test_template_ref_is_snapshotted_into_the_plan() -> None:
    doc = workflow([dag("main", [{"name": "a", "templateRef": {"name": "lib", "template": "t"}}])])
    lib = parse_workflow({"kind": "WorkflowTemplate", "metadata": {"name": "lib"}, "spec": {"templates": [leaf("t")]}})
    plan = plan_of(doc, workflow_templates={"lib": lib})
    assert plan.nodes[1].step is not None
    assert plan.nodes[1].step.template_name == "t"
    with pytest.raises(SpecError, match="unknown WorkflowTemplate 'nope'") as caught:
        plan_of(workflow([dag("main", [{"name": "a", "templateRef": {"name": "nope", "template": "t"}}])]))
    assert caught.value.path == "spec.templates[0].dag.tasks[0].templateRef.name"


def test_cycle_is_named() -> None:
    tasks = [
        {"name": "a", "template": "work", "depends": "c"},
        {"name": "b", "template": "work", "depends": "a"},
        {"name": "c", "template": "work", "depends": "b && a"},
    ]
    with pytest.raises(CycleError) as caught:
        plan_of(workflow([dag("main", tasks), leaf()]))
    assert caught.value.path == "spec.templates[0].dag.tasks"
    assert caught.value.cycle[0] == caught.value.cycle[-1]
    assert set(caught.value.cycle) == {"a", "b", "c"}


def test_template_recursion_is_a_cycle() -> None:
    with pytest.raises(CycleError, match="spec:main -> spec:main"):
        plan_of(workflow([dag("main", [{"name": "again", "template": "main"}])]))


@pytest.mark.parametrize(
    ("tasks", "error", "path", "message"),
    [
        ([{"name": "a", "template": "missing"}], SpecError, "tasks[0].template", "unknown template 'missing'"),
        ([{"name": "a", "template": "work", "depends": "a &&"}], DependsSyntaxError, "tasks[0].depends", "expected"),
        ([{"name": "a", "template": "work", "depends": "zz"}], DependsSyntaxError, "tasks[0].depends", "unknown task"),
        (
            [
                {"name": "a", "template": "work", "when": "{{tasks.b.outputs.result}} == x"},
                {"name": "b", "template": "work"},
            ],
            SubstitutionError,
            "tasks[0].when",
            "not an ancestor",
        ),
        (
            [{"name": "a", "template": "work", "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}}],
            SubstitutionError,
            "tasks[0].arguments",
            "withItems",
        ),
        (
            [{"name": "a", "template": "work", "when": "{{workflow.parameters.nope}}"}],
            SubstitutionError,
            "tasks[0].when",
            "not a workflow parameter",
        ),
        (
            [{"name": "a", "template": "work", "when": "{{steps.x.outputs.result}}"}],
            UnsupportedFieldError,
            "tasks[0].when",
            "steps",
        ),
        ([{"name": "a", "template": "work", "when": "{{=1+1}}"}], UnsupportedFieldError, "tasks[0].when", "expression"),
        (
            [{"name": "a", "template": "work", "withSequence": {"count": 3}}],
            UnsupportedFieldError,
            "tasks[0].withSequence",
            "withSequence",
        ),
        (
            [{"name": "a", "template": "work"}, {"name": "a", "template": "work"}],
            SpecError,
            "tasks[1].name",
            "duplicate",
        ),
    ],
)
def test_invalid_dags_are_refused_with_field_paths(
    tasks: list[dict[str, Any]], error: type[Exception], path: str, message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        plan_of(workflow([dag("main", tasks), leaf()]))
    assert caught.value.path.startswith(f"spec.templates[0].dag.{path}")  # type: ignore[attr-defined]


def test_template_body_references_must_be_declared_inputs() -> None:
    bad = {"name": "work", "container": {"image": "x", "args": ["{{inputs.parameters.msg}}"]}}
    with pytest.raises(SubstitutionError, match="not declared in inputs") as caught:
        plan_of(workflow([dag("main", [{"name": "a", "template": "work"}]), bad]))
    assert caught.value.path == "spec.templates[1].container.args[0]"


def test_missing_input_argument_is_refused() -> None:
    echo = {"name": "echo", "inputs": {"parameters": [{"name": "msg"}]}, "container": {"image": "x"}}
    with pytest.raises(SpecError, match="needs input parameter 'msg'") as caught:
        plan_of(workflow([dag("main", [{"name": "a", "template": "echo"}]), echo]))
    assert caught.value.path == "spec.templates[0].dag.tasks[0].arguments"


def test_workflow_status_only_in_exit_handler() -> None:
    body = {"name": "work", "container": {"image": "x", "args": ["{{workflow.status}}"]}}
    with pytest.raises(SubstitutionError, match="onExit"):
        plan_of(workflow([dag("main", [{"name": "a", "template": "work"}]), body]))
    plan_of(workflow([dag("main", [{"name": "a", "template": "ok"}]), leaf("ok"), body], onExit="work"))


def test_unknown_argument_override_is_refused() -> None:
    doc = workflow([leaf("main")], arguments={"parameters": [{"name": "p", "value": "1"}]})
    with pytest.raises(SpecError, match="unknown parameter 'q'"):
        plan_of(doc, arguments={"q": "2"})


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ({"name": "t", "script": {"image": "x", "source": "print(1)"}}, "spec.templates[0].script"),
        ({"name": "t", "steps": [[{"name": "a", "template": "t"}]]}, "spec.templates[0].steps"),
        ({"name": "t", "container": {"image": "x"}, "outputs": {"parameters": []}}, "spec.templates[0].outputs"),
        (
            {"name": "t", "container": {"image": "x"}, "retryStrategy": {"limit": 1, "expression": "x"}},
            "spec.templates[0].retryStrategy.expression",
        ),
        ({"name": "t", "http": {"url": "http://x", "bodyFrom": {}}}, "spec.templates[0].http.bodyFrom"),
    ],
)
def test_unsupported_fields_are_refused_with_their_path(template: dict[str, Any], path: str) -> None:
    with pytest.raises(UnsupportedFieldError) as caught:
        parse_workflow(workflow([template]))
    assert caught.value.path == path

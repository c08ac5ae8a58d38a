"""Manifest -> frozen dataclasses, with every refusal naming its field path.

This is the only module that reads raw ``Workflow``/``WorkflowTemplate`` dicts. It checks shapes and refuses fields
outside the supported Argo subset (``steps``, ``script``, artifacts, ``inline`` tasks, ...) with an
:class:`UnsupportedFieldError` such as ``spec.templates[0].steps: steps templates are not supported; use a dag``.
Semantic checks that need the whole graph (cycles, unknown templates, substitution scopes) live in the compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workflows.api import API_VERSION
from workflows.errors import SpecError, UnsupportedFieldError
from workflows.model.depends import DependsExpr, from_dependencies, parse_depends
from workflows.model.durations import parse_duration

ARGO_API_VERSION = "argoproj.io/v1alpha1"


class TemplateKind(StrEnum):
    DAG = "dag"
    HTTP = "http"
    CONTAINER = "container"
    SUSPEND = "suspend"


class RetryPolicy(StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    ON_ERROR = "OnError"
    ON_TRANSIENT_ERROR = "OnTransientError"


_WHY_NOT = {
    "steps": "steps templates are not supported; use a dag",
    "script": "script templates are not supported; use a container template with the script as args",
    "resource": "resource templates are not supported",
    "data": "data templates are not supported",
    "containerSet": "containerSet templates are not supported",
    "artifacts": "artifacts are not supported",
    "outputs": "template outputs are not supported; use {{tasks.NAME.outputs.result}}",
    "inline": "inline templates are not supported; define a named template",
    "withSequence": "withSequence is not supported; use withItems or withParam",
    "target": "dag.target is not supported",
    "hooks": "lifecycle hooks are not supported; use onExit",
    "expression": "retryStrategy.expression is not supported",
    "valueFrom": "valueFrom is not supported; give a literal value",
    "workflowTemplateRef": "workflowTemplateRef is not supported; use templateRef in a task",
    "synchronization": "synchronization is not supported; use parallelism",
    "memoize": "memoize is not supported",
    "daemon": "daemon templates are not supported",
    "initContainers": "initContainers are not supported",
    "sidecars": "sidecars are not supported",
    "plugin": "executor plugins are not supported",
}

_SPEC_FIELDS = frozenset(
    {"entrypoint", "arguments", "templates", "onExit", "parallelism", "activeDeadlineSeconds", "serviceAccountName"}
)
_POD_FIELDS = frozenset(
    {
        "metadata",
        "nodeSelector",
        "tolerations",
        "affinity",
        "serviceAccountName",
        "securityContext",
        "priorityClassName",
        "volumes",
    }
)
_TEMPLATE_FIELDS = frozenset(
    {"name", "inputs", "dag", "http", "container", "suspend", "retryStrategy", "timeout", "activeDeadlineSeconds"}
    | {"parallelism", "failFast"}
    | _POD_FIELDS
)
_TASK_FIELDS = frozenset(
    {"name", "template", "templateRef", "arguments", "dependencies", "depends", "when", "withItems", "withParam"}
    | {"continueOn", "onExit"}
)
_HTTP_FIELDS = frozenset(
    {"url", "method", "headers", "body", "timeoutSeconds", "successCondition", "insecureSkipVerify"}
)


def _check_fields(obj: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    for key in obj:
        if key in allowed:
            continue
        reason = _WHY_NOT.get(key, f"field {key!r} is not supported here")
        raise UnsupportedFieldError(f"{path}.{key}" if path else key, reason)


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, f"must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(path, f"must be a list, not {type(value).__name__}")
    return value


def _str(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SpecError(path, "must be a string")
    return str(value)


def _int(value: Any, path: str, *, minimum: int = 0) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise SpecError(path, f"must be an integer, not {value!r}") from None
    if number < minimum:
        raise SpecError(path, f"must be >= {minimum}")
    return number


def _literal_duration(value: Any, path: str) -> float | None:
    """Validate a duration now unless it is templated (``{{inputs.parameters.timeout}}``)."""
    if isinstance(value, str) and "{{" in value:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise SpecError(path, str(exc)) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    name: str
    value: str | None = None
    enum: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    duration: float = 0.0
    factor: float = 1.0
    max_duration: float | None = None
    cap: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryStrategy:
    limit: int | None  # None: retry without limit (Argo's behaviour when limit is omitted)
    policy: RetryPolicy = RetryPolicy.ON_FAILURE
    backoff: Backoff | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateRef:
    name: str
    template: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DagTask:
    name: str
    path: str
    template: str | None
    template_ref: TemplateRef | None
    arguments: tuple[Parameter, ...] = ()
    depends: DependsExpr | None = None
    when: str | None = None
    with_items: tuple[Any, ...] | None = None
    with_param: str | None = None
    continue_failed: bool = False
    continue_error: bool = False
    on_exit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dag:
    tasks: tuple[DagTask, ...]
    fail_fast: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    name: str
    path: str
    kind: str  # a TemplateKind value for manifests; any registered runner kind for programmatic DAGs
    inputs: tuple[Parameter, ...] = ()
    dag: Dag | None = None
    body: Mapping[str, Any] = field(default_factory=dict)  # http/container/suspend section, raw
    pod: Mapping[str, Any] = field(default_factory=dict)  # pod-level fields for the container runner
    retry: RetryStrategy | None = None
    timeout: str | float | None = None  # total, may be templated
    attempt_deadline: float | None = None  # activeDeadlineSeconds: per attempt
    parallelism: int | None = None
    pool: str | None = None  # admission pool; defaults to the kind
    templated: bool = True  # programmatic payloads are passed through without {{...}} substitution


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSpec:
    kind: str
    name: str
    namespace: str
    uid: str
    entrypoint: str | None
    arguments: tuple[Parameter, ...]
    templates: Mapping[str, Template]
    on_exit: str | None = None
    parallelism: int | None = None
    active_deadline_seconds: float | None = None
    service_account_name: str | None = None


def _parameters(raw: Any, path: str, *, require_value: bool) -> tuple[Parameter, ...]:
    params: list[Parameter] = []
    seen: set[str] = set()
    for index, raw_item in enumerate(_list(raw, path)):
        where = f"{path}[{index}]"
        item = _mapping(raw_item, where)
        _check_fields(item, frozenset({"name", "value", "default", "description", "enum"}), where)
        if "name" not in item:
            raise SpecError(where, "parameter needs a name")
        name = _str(item["name"], f"{where}.name")
        if name in seen:
            raise SpecError(f"{where}.name", f"duplicate parameter {name!r}")
        seen.add(name)
        value = item.get("value", item.get("default"))
        text = None if value is None else (value if isinstance(value, str) else _json_scalar(value))
        if require_value and text is None:
            raise SpecError(where, f"parameter {name!r} needs a value")
        enum = tuple(_json_scalar(v) if not isinstance(v, str) else v for v in _list(item.get("enum", []), where))
        if enum and text is not None and "{{" not in text and text not in enum:
            raise SpecError(f"{where}.value", f"{text!r} is not one of {list(enum)}")
        params.append(Parameter(name=name, value=text, enum=enum))
    return tuple(params)


def _json_scalar(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _arguments(raw: Any, path: str) -> tuple[Parameter, ...]:
    if raw is None:
        return ()
    raw = _mapping(raw, path)
    _check_fields(raw, frozenset({"parameters"}), path)
    return _parameters(raw.get("parameters", []), f"{path}.parameters", require_value=True)


def _retry(raw: Any, path: str) -> RetryStrategy:
    raw = _mapping(raw, path)
    _check_fields(raw, frozenset({"limit", "retryPolicy", "backoff"}), path)
    limit = None if raw.get("limit") is None else _int(raw["limit"], f"{path}.limit")
    try:
        policy = RetryPolicy(raw.get("retryPolicy", RetryPolicy.ON_FAILURE.value))
    except ValueError:
        choices = ", ".join(p.value for p in RetryPolicy)
        raise SpecError(f"{path}.retryPolicy", f"must be one of {choices}") from None
    backoff = None
    if raw.get("backoff") is not None:
        where = f"{path}.backoff"
        b = _mapping(raw["backoff"], where)
        _check_fields(b, frozenset({"duration", "factor", "maxDuration", "cap"}), where)
        try:
            factor = float(str(b.get("factor", 1)))
        except ValueError:
            raise SpecError(f"{where}.factor", "must be a number") from None
        if factor < 1:
            raise SpecError(f"{where}.factor", "must be >= 1")
        backoff = Backoff(
            duration=_literal_duration(b.get("duration", 0), f"{where}.duration") or 0.0,
            factor=factor,
            max_duration=None if b.get("maxDuration") is None else _literal_duration(b["maxDuration"], where),
            cap=None if b.get("cap") is None else _literal_duration(b["cap"], f"{where}.cap"),
        )
    return RetryStrategy(limit=limit, policy=policy, backoff=backoff)


def _task(raw: Any, path: str, names: set[str]) -> DagTask:
    raw = _mapping(raw, path)
    _check_fields(raw, _TASK_FIELDS, path)
    if "name" not in raw:
        raise SpecError(path, "task needs a name")
    name = _str(raw["name"], f"{path}.name")
    if "." in name or not name:
        raise SpecError(f"{path}.name", f"task name {name!r} must be non-empty and contain no '.'")
    template = raw.get("template")
    ref = None
    if raw.get("templateRef") is not None:
        where = f"{path}.templateRef"
        r = _mapping(raw["templateRef"], where)
        _check_fields(r, frozenset({"name", "template"}), where)
        if "name" not in r or "template" not in r:
            raise SpecError(where, "templateRef needs name and template")
        ref = TemplateRef(name=_str(r["name"], f"{where}.name"), template=_str(r["template"], f"{where}.template"))
    if (template is None) == (ref is None):
        raise SpecError(path, "a task needs exactly one of template or templateRef")
    depends = None
    if raw.get("depends") is not None and raw.get("dependencies") is not None:
        raise SpecError(path, "use either depends or dependencies, not both")
    if raw.get("depends") is not None:
        depends = parse_depends(_str(raw["depends"], f"{path}.depends"), path=f"{path}.depends", known_tasks=names)
    elif raw.get("dependencies"):
        deps = [_str(d, f"{path}.dependencies") for d in _list(raw["dependencies"], f"{path}.dependencies")]
        for dep in deps:
            if dep not in names:
                raise SpecError(f"{path}.dependencies", f"unknown task {dep!r}")
        depends = from_dependencies(deps, path=f"{path}.dependencies")
    continue_on = _mapping(raw.get("continueOn") or {}, f"{path}.continueOn")
    _check_fields(continue_on, frozenset({"failed", "error"}), f"{path}.continueOn")
    with_items = None
    if raw.get("withItems") is not None:
        with_items = tuple(_list(raw["withItems"], f"{path}.withItems"))
    with_param = None if raw.get("withParam") is None else _str(raw["withParam"], f"{path}.withParam")
    if with_items is not None and with_param is not None:
        raise SpecError(path, "use either withItems or withParam, not both")
    return DagTask(
        name=name,
        path=path,
        template=None if template is None else _str(template, f"{path}.template"),
        template_ref=ref,
        arguments=_arguments(raw.get("arguments"), f"{path}.arguments"),
        depends=depends,
        when=None if raw.get("when") is None else _str(raw["when"], f"{path}.when"),
        with_items=with_items,
        with_param=with_param,
        continue_failed=bool(continue_on.get("failed", False)),
        continue_error=bool(continue_on.get("error", False)),
        on_exit=None if raw.get("onExit") is None else _str(raw["onExit"], f"{path}.onExit"),
    )


def _template(raw: Any, path: str) -> Template:  # noqa: PLR0915 -- one flat pass over the fields
    raw = _mapping(raw, path)
    _check_fields(raw, _TEMPLATE_FIELDS, path)
    if "name" not in raw:
        raise SpecError(path, "template needs a name")
    name = _str(raw["name"], f"{path}.name")
    kinds = [kind for kind in TemplateKind if raw.get(kind.value) is not None]
    if len(kinds) != 1:
        raise SpecError(path, "a template needs exactly one of dag, http, container, suspend")
    kind = kinds[0]
    inputs: tuple[Parameter, ...] = ()
    if raw.get("inputs") is not None:
        where = f"{path}.inputs"
        section = _mapping(raw["inputs"], where)
        _check_fields(section, frozenset({"parameters"}), where)
        inputs = _parameters(section.get("parameters", []), f"{where}.parameters", require_value=False)
    dag = None
    body: Mapping[str, Any] = {}
    if kind is TemplateKind.DAG:
        where = f"{path}.dag"
        section = _mapping(raw["dag"], where)
        _check_fields(section, frozenset({"tasks", "failFast"}), where)
        raw_tasks = _list(section.get("tasks"), f"{where}.tasks")
        if not raw_tasks:
            raise SpecError(f"{where}.tasks", "a dag needs at least one task")
        names = [str(_mapping(t, f"{where}.tasks[{i}]").get("name", "")) for i, t in enumerate(raw_tasks)]
        seen_names: set[str] = set()
        for index, task_name in enumerate(names):
            if task_name in seen_names:
                raise SpecError(f"{where}.tasks[{index}].name", f"duplicate task name {task_name!r}")
            seen_names.add(task_name)
        known = set(names)
        tasks = tuple(_task(t, f"{where}.tasks[{i}]", known) for i, t in enumerate(raw_tasks))
        dag = Dag(tasks=tasks, fail_fast=bool(section.get("failFast", True)))
    else:
        body = _mapping(raw[kind.value], f"{path}.{kind.value}")
        if kind is TemplateKind.HTTP:
            _check_fields(body, _HTTP_FIELDS, f"{path}.http")
            if "url" not in body:
                raise SpecError(f"{path}.http", "http template needs a url")
            for index, header in enumerate(_list(body.get("headers", []), f"{path}.http.headers")):
                where = f"{path}.http.headers[{index}]"
                _check_fields(_mapping(header, where), frozenset({"name", "value"}), where)
        elif kind is TemplateKind.SUSPEND:
            _check_fields(body, frozenset({"duration"}), f"{path}.suspend")
            if body.get("duration") is not None:
                _literal_duration(body["duration"], f"{path}.suspend.duration")
        elif kind is TemplateKind.CONTAINER and not isinstance(body.get("image"), str):
            raise SpecError(f"{path}.container.image", "container template needs an image")
    if dag is not None:
        for pod_field in _POD_FIELDS:
            if pod_field in raw and pod_field != "metadata":
                raise UnsupportedFieldError(f"{path}.{pod_field}", "pod fields only apply to container templates")
        if raw.get("timeout") is not None or raw.get("retryStrategy") is not None:
            bad = "timeout" if raw.get("timeout") is not None else "retryStrategy"
            raise UnsupportedFieldError(f"{path}.{bad}", f"{bad} is not supported on dag templates")
    timeout = raw.get("timeout")
    if timeout is not None:
        _literal_duration(timeout, f"{path}.timeout")
    deadline = raw.get("activeDeadlineSeconds")
    return Template(
        name=name,
        path=path,
        kind=kind.value,
        inputs=inputs,
        dag=dag,
        body=body,
        pod={key: raw[key] for key in _POD_FIELDS if key in raw},
        retry=None if raw.get("retryStrategy") is None else _retry(raw["retryStrategy"], f"{path}.retryStrategy"),
        timeout=None if timeout is None else (timeout if isinstance(timeout, str) else float(timeout)),
        attempt_deadline=None if deadline is None else _literal_duration(deadline, f"{path}.activeDeadlineSeconds"),
        parallelism=None
        if raw.get("parallelism") is None
        else _int(raw["parallelism"], f"{path}.parallelism", minimum=1),
    )


def parse_workflow(doc: Mapping[str, Any]) -> WorkflowSpec:
    """Parse a ``Workflow`` or ``WorkflowTemplate`` document (``argoproj.io`` is accepted as an alias)."""
    doc = _mapping(doc, "")
    api_version = doc.get("apiVersion", API_VERSION)
    if api_version not in (API_VERSION, ARGO_API_VERSION):
        raise SpecError("apiVersion", f"expected {API_VERSION}, got {api_version!r}")
    kind = doc.get("kind", "Workflow")
    if kind not in ("Workflow", "WorkflowTemplate"):
        raise SpecError("kind", f"expected Workflow or WorkflowTemplate, got {kind!r}")
    metadata = _mapping(doc.get("metadata") or {}, "metadata")
    spec = _mapping(doc.get("spec"), "spec")
    _check_fields(spec, _SPEC_FIELDS, "spec")
    raw_templates = _list(spec.get("templates"), "spec.templates")
    templates: dict[str, Template] = {}
    for index, raw in enumerate(raw_templates):
        template = _template(raw, f"spec.templates[{index}]")
        if template.name in templates:
            raise SpecError(f"spec.templates[{index}].name", f"duplicate template name {template.name!r}")
        templates[template.name] = template
    entrypoint = spec.get("entrypoint")
    if kind == "Workflow" and entrypoint is None:
        raise SpecError("spec.entrypoint", "a Workflow needs an entrypoint")
    if entrypoint is not None and entrypoint not in templates:
        raise SpecError("spec.entrypoint", f"unknown template {entrypoint!r}")
    on_exit = spec.get("onExit")
    if on_exit is not None and on_exit not in templates:
        raise SpecError("spec.onExit", f"unknown template {on_exit!r}")
    name = str(metadata.get("name") or str(metadata.get("generateName") or "workflow-").rstrip("-"))
    deadline = spec.get("activeDeadlineSeconds")
    return WorkflowSpec(
        kind=str(kind),
        name=name,
        namespace=str(metadata.get("namespace", "default")),
        uid=str(metadata.get("uid", "")),
        entrypoint=None if entrypoint is None else str(entrypoint),
        arguments=_arguments(spec.get("arguments"), "spec.arguments"),
        templates=templates,
        on_exit=None if on_exit is None else str(on_exit),
        parallelism=None
        if spec.get("parallelism") is None
        else _int(spec["parallelism"], "spec.parallelism", minimum=1),
        active_deadline_seconds=None if deadline is None else _literal_duration(deadline, "spec.activeDeadlineSeconds"),
        service_account_name=None if spec.get("serviceAccountName") is None else str(spec["serviceAccountName"]),
    )

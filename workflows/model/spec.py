"""Manifest -> frozen dataclasses, with every refusal naming its field path.

This is the only module that reads raw ``Workflow``/``WorkflowTemplate`` dicts. It checks shapes and refuses fields
outside the supported Argo subset (``steps``, ``script``, artifacts, ``inline`` tasks, ...) with an
:class:`UnsupportedFieldError` such as ``spec.templates[0].steps: steps templates are not supported; use a dag``.
Every problem of a manifest is reported at once (one :class:`~workflows.errors.Issues` collector per parse); an
object with an unsupported field is not examined further, so one refusal does not cascade into follow-on noise.
Semantic checks that need the whole graph (cycles, unknown templates, substitution scopes) live in the compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workflows.api import API_VERSION, ARGO_API_VERSION
from workflows.errors import DurationError, Issues, SpecError, UnsupportedFieldError
from workflows.model.depends import DependsExpr, from_dependencies, parse_depends
from workflows.model.durations import parse_seconds


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


def _unsupported(obj: Mapping[str, Any], allowed: frozenset[str], path: str, issues: Issues) -> bool:
    """Record every field of ``obj`` outside ``allowed``; True when there was one (stop examining ``obj``)."""
    found = False
    for key in obj:
        if key in allowed:
            continue
        reason = _WHY_NOT.get(key, f"field {key!r} is not supported here")
        issues.add(f"{path}.{key}" if path else str(key), reason)
        found = True
    return found


class _Reader:
    """Typed reads of one manifest that record a problem and return a harmless fallback instead of raising."""

    def __init__(self) -> None:
        self.issues = Issues()
        self.unsupported = Issues()  # kept apart: a manifest refused only for unsupported fields says so by type

    def unsupported_fields(self, obj: Mapping[str, Any], allowed: frozenset[str], path: str) -> bool:
        return _unsupported(obj, allowed, path, self.unsupported)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.issues.add(path, f"must be a mapping, not {type(value).__name__}")
        return None

    def sequence(self, value: Any, path: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.issues.add(path, f"must be a list, not {type(value).__name__}")
        return []

    def text(self, value: Any, path: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.issues.add(path, "must be a string")
            return None
        return str(value)

    def integer(self, value: Any, path: str, *, minimum: int = 0) -> int | None:
        try:
            number = int(str(value))
        except ValueError:
            self.issues.add(path, f"must be an integer, not {value!r}")
            return None
        if number < minimum:
            self.issues.add(path, f"must be >= {minimum}")
            return None
        return number

    def duration(self, value: Any, path: str) -> float | None:
        """Seconds of a duration, or None when it is templated (``{{inputs.parameters.timeout}}``) or invalid."""
        if isinstance(value, str) and "{{" in value:
            return None
        try:
            return parse_seconds(value)
        except DurationError as error:
            self.issues.add(path, str(error))
            return None

    def seconds(self, value: Any, path: str) -> float | None:
        """A non-negative number of seconds (``activeDeadlineSeconds``: Argo's integer, here also fractional)."""
        if isinstance(value, str) and "{{" in value:
            self.unsupported.add(path, "a templated activeDeadlineSeconds is not supported; give a number of seconds")
            return None
        try:
            number = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            number = -1.0
        if number < 0:
            self.issues.add(path, f"must be a non-negative number of seconds, not {value!r}")
            return None
        return number

    def raise_if_any(self) -> None:
        if self.issues:
            self.issues.extend(self.unsupported.items)
            self.issues.raise_if_any(SpecError)
        self.unsupported.raise_if_any(UnsupportedFieldError)


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


def _json_scalar(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _parameters(read: _Reader, raw: Any, path: str, *, require_value: bool) -> tuple[Parameter, ...]:
    params: list[Parameter] = []
    seen: set[str] = set()
    for index, raw_item in enumerate(read.sequence(raw, path)):
        where = f"{path}[{index}]"
        item = read.mapping(raw_item, where)
        if item is None or read.unsupported_fields(
            item, frozenset({"name", "value", "default", "description", "enum"}), where
        ):
            continue
        if "name" not in item:
            read.issues.add(where, "parameter needs a name")
            continue
        name = read.text(item["name"], f"{where}.name")
        if name is None:
            continue
        if name in seen:
            read.issues.add(f"{where}.name", f"duplicate parameter {name!r}")
        seen.add(name)
        value = item.get("value", item.get("default"))
        text = None if value is None else (value if isinstance(value, str) else _json_scalar(value))
        if require_value and text is None:
            read.issues.add(where, f"parameter {name!r} needs a value")
        enum = tuple(
            _json_scalar(v) if not isinstance(v, str) else v for v in read.sequence(item.get("enum", []), where)
        )
        if enum and text is not None and "{{" not in text and text not in enum:
            read.issues.add(f"{where}.value", f"{text!r} is not one of {list(enum)}")
        params.append(Parameter(name=name, value=text, enum=enum))
    return tuple(params)


def _arguments(read: _Reader, raw: Any, path: str) -> tuple[Parameter, ...]:
    if raw is None:
        return ()
    section = read.mapping(raw, path)
    if section is None or read.unsupported_fields(section, frozenset({"parameters"}), path):
        return ()
    return _parameters(read, section.get("parameters", []), f"{path}.parameters", require_value=True)


def _retry(read: _Reader, raw: Any, path: str) -> RetryStrategy | None:
    section = read.mapping(raw, path)
    if section is None or read.unsupported_fields(section, frozenset({"limit", "retryPolicy", "backoff"}), path):
        return None
    limit = None if section.get("limit") is None else read.integer(section["limit"], f"{path}.limit")
    try:
        policy = RetryPolicy(section.get("retryPolicy", RetryPolicy.ON_FAILURE.value))
    except ValueError:
        choices = ", ".join(p.value for p in RetryPolicy)
        read.issues.add(f"{path}.retryPolicy", f"must be one of {choices}")
        policy = RetryPolicy.ON_FAILURE
    backoff = None
    if section.get("backoff") is not None:
        where = f"{path}.backoff"
        b = read.mapping(section["backoff"], where)
        if b is not None and not read.unsupported_fields(
            b, frozenset({"duration", "factor", "maxDuration", "cap"}), where
        ):
            factor = 1.0
            try:
                factor = float(str(b.get("factor", 1)))
            except ValueError:
                read.issues.add(f"{where}.factor", "must be a number")
            else:
                if factor < 1:
                    read.issues.add(f"{where}.factor", "must be >= 1")
            backoff = Backoff(
                duration=read.duration(b.get("duration", 0), f"{where}.duration") or 0.0,
                factor=factor,
                max_duration=None
                if b.get("maxDuration") is None
                else read.duration(b["maxDuration"], f"{where}.maxDuration"),
                cap=None if b.get("cap") is None else read.duration(b["cap"], f"{where}.cap"),
            )
    return RetryStrategy(limit=limit, policy=policy, backoff=backoff)


def _task(read: _Reader, raw: Any, path: str, names: set[str]) -> DagTask | None:
    section = read.mapping(raw, path)
    if section is None or read.unsupported_fields(section, _TASK_FIELDS, path):
        return None
    issues = read.issues
    if "name" not in section:
        issues.add(path, "task needs a name")
        return None
    name = read.text(section["name"], f"{path}.name")
    if name is None:
        return None
    if "." in name or not name:
        issues.add(f"{path}.name", f"task name {name!r} must be non-empty and contain no '.'")
    template = None if section.get("template") is None else read.text(section["template"], f"{path}.template")
    ref = None
    if section.get("templateRef") is not None:
        where = f"{path}.templateRef"
        r = read.mapping(section["templateRef"], where)
        if r is not None and not read.unsupported_fields(r, frozenset({"name", "template"}), where):
            if "name" not in r or "template" not in r:
                issues.add(where, "templateRef needs name and template")
            else:
                ref_name, ref_template = (
                    read.text(r["name"], f"{where}.name"),
                    read.text(r["template"], f"{where}.template"),
                )
                if ref_name is not None and ref_template is not None:
                    ref = TemplateRef(name=ref_name, template=ref_template)
    if (section.get("template") is None) == (section.get("templateRef") is None):
        issues.add(path, "a task needs exactly one of template or templateRef")
    depends = None
    if section.get("depends") is not None and section.get("dependencies") is not None:
        issues.add(path, "use either depends or dependencies, not both")
    elif section.get("depends") is not None:
        text = read.text(section["depends"], f"{path}.depends")
        if text is not None:
            with issues.collecting():
                depends = parse_depends(text, path=f"{path}.depends", known_tasks=names)
    elif section.get("dependencies"):
        deps = [
            d
            for i, raw_dep in enumerate(read.sequence(section["dependencies"], f"{path}.dependencies"))
            if (d := read.text(raw_dep, f"{path}.dependencies[{i}]")) is not None
        ]
        unknown = [dep for dep in deps if dep not in names]
        for dep in unknown:
            issues.add(f"{path}.dependencies", f"unknown task {dep!r}")
        if deps and not unknown:
            depends = from_dependencies(deps, path=f"{path}.dependencies")
    continue_on = read.mapping(section.get("continueOn") or {}, f"{path}.continueOn") or {}
    read.unsupported_fields(continue_on, frozenset({"failed", "error"}), f"{path}.continueOn")
    with_items = None
    if section.get("withItems") is not None:
        with_items = tuple(read.sequence(section["withItems"], f"{path}.withItems"))
    with_param = None if section.get("withParam") is None else read.text(section["withParam"], f"{path}.withParam")
    if with_items is not None and with_param is not None:
        issues.add(path, "use either withItems or withParam, not both")
    return DagTask(
        name=name,
        path=path,
        template=template,
        template_ref=ref,
        arguments=_arguments(read, section.get("arguments"), f"{path}.arguments"),
        depends=depends,
        when=None if section.get("when") is None else read.text(section["when"], f"{path}.when"),
        with_items=with_items,
        with_param=with_param,
        continue_failed=bool(continue_on.get("failed", False)),
        continue_error=bool(continue_on.get("error", False)),
        on_exit=None if section.get("onExit") is None else read.text(section["onExit"], f"{path}.onExit"),
    )


def _dag(read: _Reader, raw: Any, where: str) -> Dag | None:
    section = read.mapping(raw, where)
    if section is None or read.unsupported_fields(section, frozenset({"tasks", "failFast"}), where):
        return None
    raw_tasks = read.sequence(section.get("tasks"), f"{where}.tasks")
    if not raw_tasks:
        read.issues.add(f"{where}.tasks", "a dag needs at least one task")
        return None
    names = [str(t.get("name", "")) if isinstance(t, Mapping) else "" for t in raw_tasks]
    seen_names: set[str] = set()
    for index, task_name in enumerate(names):
        if task_name and task_name in seen_names:
            read.issues.add(f"{where}.tasks[{index}].name", f"duplicate task name {task_name!r}")
        seen_names.add(task_name)
    known = set(names)
    tasks = [_task(read, t, f"{where}.tasks[{i}]", known) for i, t in enumerate(raw_tasks)]
    return Dag(tasks=tuple(t for t in tasks if t is not None), fail_fast=bool(section.get("failFast", True)))


def _leaf_body(read: _Reader, raw: Mapping[str, Any], kind: TemplateKind, path: str) -> Mapping[str, Any]:
    where = f"{path}.{kind.value}"
    body = read.mapping(raw[kind.value], where)
    if body is None:
        return {}
    if kind is TemplateKind.HTTP:
        if read.unsupported_fields(body, _HTTP_FIELDS, where):
            return body
        if "url" not in body:
            read.issues.add(where, "http template needs a url")
        for index, header in enumerate(read.sequence(body.get("headers", []), f"{where}.headers")):
            at = f"{where}.headers[{index}]"
            section = read.mapping(header, at)
            if section is not None:
                read.unsupported_fields(section, frozenset({"name", "value"}), at)
    elif kind is TemplateKind.SUSPEND:
        if not read.unsupported_fields(body, frozenset({"duration"}), where) and body.get("duration") is not None:
            read.duration(body["duration"], f"{where}.duration")
    elif kind is TemplateKind.CONTAINER and not isinstance(body.get("image"), str):
        read.issues.add(f"{where}.image", "container template needs an image")
    return body


def _template(read: _Reader, raw: Any, path: str) -> Template | None:
    section = read.mapping(raw, path)
    if section is None or read.unsupported_fields(section, _TEMPLATE_FIELDS, path):
        return None
    issues = read.issues
    if "name" not in section:
        issues.add(path, "template needs a name")
        return None
    name = read.text(section["name"], f"{path}.name")
    kinds = [kind for kind in TemplateKind if section.get(kind.value) is not None]
    if name is None or len(kinds) != 1:
        if len(kinds) != 1:
            issues.add(path, "a template needs exactly one of dag, http, container, suspend")
        return None
    kind = kinds[0]
    inputs: tuple[Parameter, ...] = ()
    if section.get("inputs") is not None:
        where = f"{path}.inputs"
        inputs_section = read.mapping(section["inputs"], where)
        if inputs_section is not None and not read.unsupported_fields(inputs_section, frozenset({"parameters"}), where):
            inputs = _parameters(read, inputs_section.get("parameters", []), f"{where}.parameters", require_value=False)
    dag = None
    body: Mapping[str, Any] = {}
    if kind is TemplateKind.DAG:
        dag = _dag(read, section["dag"], f"{path}.dag")
        for pod_field in sorted(_POD_FIELDS - {"metadata"}):
            if pod_field in section:
                read.unsupported.add(f"{path}.{pod_field}", "pod fields only apply to container templates")
        for bad in ("timeout", "retryStrategy"):
            if section.get(bad) is not None:
                read.unsupported.add(f"{path}.{bad}", f"{bad} is not supported on dag templates")
    else:
        body = _leaf_body(read, section, kind, path)
    timeout = section.get("timeout")
    if timeout is not None:
        read.duration(timeout, f"{path}.timeout")
    deadline = section.get("activeDeadlineSeconds")
    parallelism = section.get("parallelism")
    return Template(
        name=name,
        path=path,
        kind=kind.value,
        inputs=inputs,
        dag=dag,
        body=body,
        pod={key: section[key] for key in _POD_FIELDS if key in section},
        retry=None
        if section.get("retryStrategy") is None
        else _retry(read, section["retryStrategy"], f"{path}.retryStrategy"),
        timeout=None if timeout is None else (timeout if isinstance(timeout, str) else float(timeout)),
        attempt_deadline=None if deadline is None else read.seconds(deadline, f"{path}.activeDeadlineSeconds"),
        parallelism=None if parallelism is None else read.integer(parallelism, f"{path}.parallelism", minimum=1),
    )


def parse_workflow(doc: Mapping[str, Any]) -> WorkflowSpec:
    """Parse a ``Workflow`` or ``WorkflowTemplate`` document (``argoproj.io`` is accepted as an alias).

    Raises :class:`~workflows.errors.SpecError` (or :class:`~workflows.errors.UnsupportedFieldError` when every
    problem is an unsupported field) listing every problem found.
    """
    read = _Reader()
    issues = read.issues
    if not isinstance(doc, Mapping):
        raise SpecError.at("", f"a manifest must be a mapping, not {type(doc).__name__}")
    api_version = doc.get("apiVersion", API_VERSION)
    if api_version not in (API_VERSION, ARGO_API_VERSION):
        issues.add("apiVersion", f"expected {API_VERSION}, got {api_version!r}")
    kind = doc.get("kind", "Workflow")
    if kind not in ("Workflow", "WorkflowTemplate"):
        issues.add("kind", f"expected Workflow or WorkflowTemplate, got {kind!r}")
    metadata = read.mapping(doc.get("metadata") or {}, "metadata") or {}
    spec = read.mapping(doc.get("spec"), "spec")
    if spec is None:
        read.raise_if_any()
        raise AssertionError("unreachable: a missing spec is an issue")  # pragma: no cover
    read.unsupported_fields(spec, _SPEC_FIELDS, "spec")
    templates: dict[str, Template] = {}
    for index, raw in enumerate(read.sequence(spec.get("templates"), "spec.templates")):
        template = _template(read, raw, f"spec.templates[{index}]")
        if template is None:
            continue
        if template.name in templates:
            issues.add(f"spec.templates[{index}].name", f"duplicate template name {template.name!r}")
        templates[template.name] = template
    entrypoint = spec.get("entrypoint")
    raw_names = {str(t.get("name")) for t in spec.get("templates") or () if isinstance(t, Mapping)}
    if kind == "Workflow" and entrypoint is None:
        issues.add("spec.entrypoint", "a Workflow needs an entrypoint")
    if entrypoint is not None and str(entrypoint) not in raw_names:
        issues.add("spec.entrypoint", f"unknown template {entrypoint!r}")
    on_exit = spec.get("onExit")
    if on_exit is not None and str(on_exit) not in raw_names:
        issues.add("spec.onExit", f"unknown template {on_exit!r}")
    name = str(metadata.get("name") or str(metadata.get("generateName") or "workflow-").rstrip("-"))
    deadline = spec.get("activeDeadlineSeconds")
    parallelism = spec.get("parallelism")
    arguments = _arguments(read, spec.get("arguments"), "spec.arguments")
    active_deadline = None if deadline is None else read.seconds(deadline, "spec.activeDeadlineSeconds")
    parallel = None if parallelism is None else read.integer(parallelism, "spec.parallelism", minimum=1)
    read.raise_if_any()
    return WorkflowSpec(
        kind=str(kind),
        name=name,
        namespace=str(metadata.get("namespace", "default")),
        uid=str(metadata.get("uid", "")),
        entrypoint=None if entrypoint is None else str(entrypoint),
        arguments=arguments,
        templates=templates,
        on_exit=None if on_exit is None else str(on_exit),
        parallelism=parallel,
        active_deadline_seconds=active_deadline,
        service_account_name=None if spec.get("serviceAccountName") is None else str(spec["serviceAccountName"]),
    )

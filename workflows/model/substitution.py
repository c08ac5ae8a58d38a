"""``{{...}}`` substitution: parsed and validated at compile time, rendered per node at run time.

Supported references (anything else is a :class:`SubstitutionError` naming the field path, before anything runs):

- ``{{workflow.parameters.NAME}}``, ``{{workflow.name}}``, ``{{workflow.namespace}}``, ``{{workflow.uid}}``,
  ``{{workflow.status}}`` (only inside the ``onExit`` handler, as in Argo)
- ``{{inputs.parameters.NAME}}`` -- NAME must be declared in the template's ``inputs``
- ``{{tasks.TASK.outputs.result}}`` / ``{{tasks.TASK.status}}`` -- TASK must be an ancestor of the referencing task
- ``{{item}}`` / ``{{item.KEY}}`` -- only in a task with ``withItems``/``withParam``
- ``{{retries}}`` -- the current retry attempt (0 for the first run)

A payload (an http/container body, a task's arguments) is compiled once into a :class:`Renderer`; a payload with no
references renders to the very same object, so trivial steps pay nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.errors import Issues, SpecError, SubstitutionError, UnsupportedFieldError

_BRACES = re.compile(r"\{\{(.*?)\}\}")
_WORKFLOW_FIELDS = frozenset({"name", "namespace", "uid", "status"})

RefKey = tuple[str, ...]
Lookup = Callable[[RefKey], str]


def parse_ref(raw: str, path: str) -> RefKey:
    """Turn ``tasks.a.outputs.result`` into the key ``("tasks", "a", "result")``; refuse anything unknown."""
    text = raw.strip()
    if text.startswith("="):
        raise UnsupportedFieldError.at(path, f"expression templates '{{{{{text}}}}}' are not supported; use plain refs")
    parts = text.split(".")
    head = parts[0]
    if head == "item":
        return ("item", *parts[1:])
    if head == "retries" and len(parts) == 1:
        return ("retries",)
    if head == "workflow":
        if len(parts) == 3 and parts[1] == "parameters":
            return ("workflow.parameters", parts[2])
        if len(parts) == 2 and parts[1] in _WORKFLOW_FIELDS:
            return ("workflow", parts[1])
    if head == "inputs" and len(parts) == 3 and parts[1] == "parameters":
        return ("inputs", parts[2])
    if head == "tasks" and len(parts) >= 3:
        # task names may not contain dots, so the layout is fixed
        if parts[2:] == ["outputs", "result"]:
            return ("tasks", parts[1], "result")
        if parts[2:] == ["status"]:
            return ("tasks", parts[1], "status")
    if head == "steps":
        raise UnsupportedFieldError.at(path, f"'{{{{{text}}}}}': steps templates are not supported, use a dag")
    raise SubstitutionError.at(path, f"unknown reference '{{{{{text}}}}}'")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a string may reference where it appears; used only for validation."""

    workflow_parameters: frozenset[str] = frozenset()
    inputs: frozenset[str] = frozenset()
    tasks: frozenset[str] = frozenset()
    item: bool = False
    status: bool = False
    retries: bool = False
    tasks_hint: Mapping[str, str] = field(default_factory=dict)  # task -> why it is out of scope

    def check(self, key: RefKey, path: str) -> None:
        head = key[0]
        if head == "workflow.parameters" and key[1] not in self.workflow_parameters:
            raise SubstitutionError.at(path, f"'{{{{workflow.parameters.{key[1]}}}}}' is not a workflow parameter")
        if head == "workflow" and key[1] == "status" and not self.status:
            raise SubstitutionError.at(path, "'{{workflow.status}}' is only available in the onExit handler")
        if head == "inputs" and key[1] not in self.inputs:
            raise SubstitutionError.at(path, f"'{{{{inputs.parameters.{key[1]}}}}}' is not declared in inputs")
        if head == "tasks" and key[1] not in self.tasks:
            why = self.tasks_hint.get(key[1], "no such task in this dag")
            raise SubstitutionError.at(path, f"'{{{{tasks.{key[1]}...}}}}' cannot be referenced here: {why}")
        if head == "item" and not self.item:
            raise SubstitutionError.at(path, "'{{item}}' is only available in a task with withItems/withParam")
        if head == "retries" and not self.retries:
            raise SubstitutionError.at(path, "'{{retries}}' is only available inside a template")


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Text:
    """One string split into literal and reference parts."""

    source: str
    parts: tuple[str | RefKey, ...]

    @property
    def refs(self) -> tuple[RefKey, ...]:
        return tuple(part for part in self.parts if isinstance(part, tuple))

    def render(self, lookup: Lookup) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return self.parts[0]
        return "".join(part if isinstance(part, str) else lookup(part) for part in self.parts)


def parse_text(source: str, path: str) -> Text:
    parts: list[str | RefKey] = []
    position = 0
    for match in _BRACES.finditer(source):
        if match.start() > position:
            parts.append(source[position : match.start()])
        parts.append(parse_ref(match.group(1), path))
        position = match.end()
    if position < len(source) or not parts:
        parts.append(source[position:])
    return Text(source=source, parts=tuple(parts))


@dataclass(frozen=True, slots=True)
class Renderer:
    """A compiled payload: ``render(lookup)`` returns the payload with every reference replaced."""

    payload: Any
    texts: tuple[tuple[str, Text], ...]  # (path, text) for every templated string, for validation
    _render: Callable[[Lookup], Any]

    @property
    def is_static(self) -> bool:
        return not self.texts

    def render(self, lookup: Lookup) -> Any:
        return self._render(lookup)

    def validate(self, scope: Scope) -> None:
        """Check every reference against ``scope``; every problem is raised together."""
        issues = Issues()
        for path, text in self.texts:
            for key in text.refs:
                with issues.collecting():
                    scope.check(key, path)
        issues.raise_if_any(SpecError)


def compile_payload(payload: Any, path: str) -> Renderer:
    """Compile any JSON-like value; strings containing ``{{`` become templated, the rest is shared as-is."""
    texts: list[tuple[str, Text]] = []

    def build(value: Any, where: str) -> Callable[[Lookup], Any] | None:
        if isinstance(value, str):
            if "{{" not in value:
                return None
            text = parse_text(value, where)
            texts.append((where, text))
            return text.render
        if isinstance(value, Mapping):
            builders = {key: build(item, f"{where}.{key}") for key, item in value.items()}
            if all(b is None for b in builders.values()):
                return None
            static = dict(value)
            return lambda lookup: {key: (static[key] if b is None else b(lookup)) for key, b in builders.items()}
        if isinstance(value, list | tuple):
            elements = [build(item, f"{where}[{index}]") for index, item in enumerate(value)]
            if all(b is None for b in elements):
                return None
            items = list(value)
            return lambda lookup: [items[index] if b is None else b(lookup) for index, b in enumerate(elements)]
        return None

    renderer = build(payload, path)
    if renderer is None:
        return Renderer(payload=payload, texts=(), _render=lambda lookup: payload)
    return Renderer(payload=payload, texts=tuple(texts), _render=renderer)


def item_lookup(item: Any, key: RefKey) -> str:
    """Resolve ``("item", ...)`` against one ``withItems``/``withParam`` element."""
    value = item
    for part in key[1:]:
        if not isinstance(value, Mapping) or part not in value:
            raise SubstitutionError.at("", f"'{{{{{'.'.join(key)}}}}}': item has no field {part!r}")
        value = value[part]
    return _stringify(value)


def item_label(item: Any) -> str:
    """How an item appears in a child node's name: ``A(0:foo)``, ``A(1:os:debian,tag:9)`` for maps."""
    if isinstance(item, Mapping):
        return ",".join(f"{key}:{_stringify(item[key])}" for key in sorted(item))
    return _stringify(item)

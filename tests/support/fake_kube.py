"""An in-memory API for the commands' unit tests: stores plain dicts, applies patches, records every request.

It implements :class:`rollouts.commands.CommandKube` with the real client's semantics where the commands depend on
them: None for a missing object, merge patches (RFC 7386) and JSON patches (``test`` failures are 422s, as the API
server answers), the ``status`` subresource changing only ``status``, ``generateName``, list selectors. Tests assert on
``requests`` (what was sent) and on the stored objects (what it did).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollouts.core.statuspatch import merge_patch as core_merge_patch
from workflows.api import Resource
from workflows.runtime.informer import selector_matches
from workflows.runtime.kube import ApiError, InvalidError, Listing, resource_for

#: ``kubectl rollouts`` run in-process: ``plugin("get", "rollout", "web")`` -> (exit code, stdout, stderr).
Plugin = Callable[..., tuple[int, str, str]]


@dataclass(frozen=True)
class Request:
    verb: str  # get | list | create | patch
    resource: Resource
    name: str | None
    namespace: str | None
    body: Any = None
    subresource: str | None = None
    patch_type: str | None = None


def _key(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 as the product applies it (:func:`rollouts.core.statuspatch.merge_patch`), on a copy of ``patch`` so
    the fake's stored objects never share a list or map with the caller's."""
    return core_merge_patch(target, copy.deepcopy(patch))


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def json_patch(target: Any, operations: Sequence[Mapping[str, Any]]) -> Any:
    """RFC 6902 for the operations the commands send (test, replace, add, remove)."""
    document = copy.deepcopy(target)
    for operation in operations:
        *parents, last = _pointer(str(operation["path"]))
        container = document
        for part in parents:
            container = container[int(part)] if isinstance(container, list) else container[part]
        index: Any = int(last) if isinstance(container, list) and last != "-" else last
        match operation["op"]:
            case "test":
                actual = container[index] if isinstance(container, list) else container.get(index)
                if actual != operation["value"]:
                    raise InvalidError(422, "Invalid", f"the test of {operation['path']} failed")
            case "replace":
                container[index] = copy.deepcopy(operation["value"])
            case "add":
                if isinstance(container, list):
                    container.insert(len(container) if index == "-" else index, copy.deepcopy(operation["value"]))
                else:
                    container[index] = copy.deepcopy(operation["value"])
            case "remove":
                del container[index]
            case other:
                raise AssertionError(f"unsupported JSON patch op {other}")
    return document


def _matches(labels: Mapping[str, str], selector: str | None) -> bool:
    """As the API server selects (``!key``, ``key in (...)`` and ``!=`` included): the informers' own matcher."""
    return selector_matches(selector, labels)


@dataclass
class FakeKube:
    namespace: str = "default"
    objects: dict[tuple[str, str | None, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    refusals: dict[tuple[str, str], ApiError] = field(default_factory=dict)  # (verb, plural) -> error to raise
    closed: bool = False
    connections: list[tuple[str | None, str | None]] = field(default_factory=list)  # (kubeconfig, context) per use
    _generated: int = 0

    # -- set-up -------------------------------------------------------------------------------------------------
    def add(self, body: Mapping[str, Any], resource: Resource | None = None) -> dict[str, Any]:
        """Store ``body`` (its kind from apiVersion/kind unless ``resource`` is given) with a uid and generation."""
        resource = resource or resource_for(str(body["apiVersion"]), str(body["kind"]))
        stored = copy.deepcopy(dict(body))
        meta = stored.setdefault("metadata", {})
        if resource.namespaced:
            meta.setdefault("namespace", self.namespace)
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta.setdefault("generation", 1)
        self.objects[(_key(resource), meta.get("namespace") if resource.namespaced else None, meta["name"])] = stored
        return stored

    def stored(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.objects[(_key(resource), (namespace or self.namespace) if resource.namespaced else None, name)]

    def writes(self) -> list[Request]:
        return [request for request in self.requests if request.verb in ("create", "patch")]

    def _refuse(self, verb: str, resource: Resource) -> None:
        error = self.refusals.get((verb, resource.plural))
        if error is not None:
            raise error

    def _slot(self, resource: Resource, name: str, namespace: str | None) -> tuple[str, str | None, str]:
        return (_key(resource), namespace if resource.namespaced else None, name)

    # -- CommandKube --------------------------------------------------------------------------------------------
    def get(
        self, resource: Resource, name: str, namespace: str | None = None, *, subresource: str | None = None
    ) -> dict[str, Any] | None:
        self.requests.append(Request("get", resource, name, namespace, subresource=subresource))
        self._refuse("get", resource)
        found = self.objects.get(self._slot(resource, name, namespace))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Listing:
        self.requests.append(Request("list", resource, None, namespace, body=(label_selector, field_selector)))
        self._refuse("list", resource)
        wanted_name = (field_selector or "").removeprefix("metadata.name=") or None
        items = [
            copy.deepcopy(body)
            for (kind, ns, name), body in sorted(self.objects.items(), key=lambda item: (item[0][1] or "", item[0][2]))
            if kind == _key(resource)
            and (namespace is None or ns == namespace)
            and (wanted_name is None or name == wanted_name)
            and _matches(body["metadata"].get("labels") or {}, label_selector)
        ]
        return Listing(items=items, resource_version="1")

    def create(self, resource: Resource, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self.requests.append(Request("create", resource, None, namespace, body=copy.deepcopy(dict(body))))
        self._refuse("create", resource)
        created = copy.deepcopy(dict(body))
        meta = created.setdefault("metadata", {})
        if not meta.get("name"):
            self._generated += 1
            meta["name"] = f"{meta['generateName']}x{self._generated:04d}"
        if resource.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or self.namespace
        return copy.deepcopy(self.add(created, resource))

    def patch(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> dict[str, Any] | None:
        sent = copy.deepcopy(list(patch) if patch_type == "json" else dict(patch))  # type: ignore[arg-type]
        self.requests.append(Request("patch", resource, name, namespace, sent, subresource, patch_type))
        self._refuse("patch", resource)
        slot = self._slot(resource, name, namespace)
        current = self.objects.get(slot)
        if current is None:
            return None
        patched = json_patch(current, sent) if patch_type == "json" else merge_patch(current, sent)
        if subresource == "status":
            patched = {**current, "status": patched.get("status")}
        elif "spec" in patched and patched.get("spec") != current.get("spec"):
            patched["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        self.objects[slot] = patched
        return copy.deepcopy(patched)

    def close(self) -> None:
        self.closed = True

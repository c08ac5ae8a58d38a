"""Operator commands: thin patchers of spec/status fields that the controllers act upon (so RBAC governs them).

One module per concern: ``rollouts`` (the patches of ``promote``/``abort``/``set image``/``undo``/...), ``view``
(``get``), ``status`` (the phase as Argo's plugin computes it, and the ``status`` watch), ``listing`` (``list
rollouts``), ``analysisruns`` (``create analysisrun``, ``terminate analysisrun``), ``lint`` (manifests against our CRD
schemas and the controller's parsers, offline), ``completion`` (shell completion generated from the parser),
``workflows`` (``rollouts workflow resume``). The commands reach the API through :class:`CommandKube`, the part of
:class:`workflows.runtime.kube.Kube` they use, so unit tests hand them a fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from workflows.api import Resource
from workflows.runtime.kube import Listing

__all__ = ["CommandError", "CommandKube"]


class CommandError(Exception):
    """The API refused a command; the message names the object and the reason (for the terminal)."""


class CommandKube(Protocol):
    """What the commands ask of the API (``Kube`` implements it): the same semantics, None for a missing object."""

    namespace: str

    def get(
        self, resource: Resource, name: str, namespace: str | None = None, *, subresource: str | None = None
    ) -> dict[str, Any] | None: ...

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Listing: ...

    def create(self, resource: Resource, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]: ...

    def patch(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> dict[str, Any] | None: ...

    def close(self) -> None: ...

"""``kubectl rollouts promote|abort|retry|pause|resume|restart|set image|undo``: patches the controller acts on.

Each command records intent on the object exactly where Argo Rollouts records it, so RBAC on ``rollouts`` and
``rollouts/status`` decides who may do what, and GitOps tools can do the same declaratively:

| command            | patch                                                                                 |
| ------------------ | ------------------------------------------------------------------------------------- |
| promote            | status: clear ``pauseConditions`` (the planner reads "controllerPause and no pause    |
|                    | conditions" as released); spec: ``paused: false``; when nothing is paused, skip the    |
|                    | current step (``currentStepIndex + 1``)                                                |
| promote --full     | status: ``promoteFull: true``; spec: ``paused: false``                                  |
| abort / retry      | status: ``abort: true`` / ``abort: false``                                             |
| pause / resume     | spec: ``paused: true`` / ``paused: false``                                             |
| restart [--in D]   | spec: ``restartAt: <now + D>``                                                         |
| set image          | the container's ``image`` (JSON patch at its index, guarded by a test of its name)     |
| undo               | ``template`` replaced by an earlier revision's ReplicaSet template                     |

``set image`` and ``undo`` edit the pod template where it lives: the Rollout's own ``spec.template``, or, for a
Rollout with ``spec.workloadRef``, the referenced Deployment's (as Argo's plugin does; the controller follows the
Deployment's edits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollouts.commands import CommandError, CommandKube
from rollouts.core.hashing import strip_hash_label, without_injected_anti_affinity
from rollouts.core.observed import replica_set_view_from
from workflows.api import ROLLOUTS_DEV, ApiMode, Resource
from workflows.model.durations import format_duration
from workflows.runtime.kube import DEPLOYMENTS, REPLICA_SETS, ApiError

__all__ = ["RolloutClient", "TemplateOwner", "image_patch"]

# Where a pod template's containers live, in the order Argo's ``set image`` visits them.
_CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True, slots=True)
class TemplateOwner:
    """The object whose ``spec.template`` is the Rollout's pod template: the Rollout, or its workloadRef Deployment."""

    resource: Resource
    name: str
    body: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return self.resource.kind.lower()


def image_patch(template_owner: Mapping[str, Any], container: str, image: str) -> list[dict[str, Any]]:
    """The JSON patch setting ``container``'s image (``*``: every container's) in ``spec.template``; empty when no
    container has that name. Each replace is preceded by a test of the container's name at that index, so a template
    reordered since it was read is refused instead of patched in the wrong place."""
    pod = ((template_owner.get("spec") or {}).get("template") or {}).get("spec") or {}
    operations: list[dict[str, Any]] = []
    for field_name in _CONTAINER_FIELDS:
        for index, item in enumerate(pod.get(field_name) or []):
            if item.get("name") == container or container == "*":
                path = f"/spec/template/spec/{field_name}/{index}"
                operations.append({"op": "test", "path": f"{path}/name", "value": item.get("name")})
                operations.append({"op": "replace", "path": f"{path}/image", "value": image})
    return operations


@dataclass
class RolloutClient:
    """Reads and patches one namespace's Rollouts; every method raises :class:`CommandError` on API refusal."""

    kube: CommandKube
    namespace: str
    mode: ApiMode = ROLLOUTS_DEV  # which group's Rollouts (``--api-group argoproj.io``: Argo's, in drop-in mode)

    def _refused(self, name: str, error: ApiError, *, kind: str = "rollout") -> CommandError:
        # The server's own message names the object and the rule (RBAC, validation): what the terminal should show.
        return CommandError(f"{kind} {self.namespace}/{name}: {error}")

    def _not_found(self, name: str, *, kind: str = "rollout") -> CommandError:
        return CommandError(f"{kind} {self.namespace}/{name} not found")

    def get(self, name: str) -> dict[str, Any]:
        try:
            body = self.kube.get(self.mode.rollouts, name, self.namespace)
        except ApiError as error:
            raise self._refused(name, error) from None
        if body is None:
            raise self._not_found(name)
        return body

    def list_rollouts(self, *, all_namespaces: bool = False, name: str | None = None) -> list[dict[str, Any]]:
        """The namespace's Rollouts (every namespace's with ``all_namespaces``), only ``name`` when given."""
        namespace = None if all_namespaces else self.namespace
        try:
            listing = self.kube.list(
                self.mode.rollouts, namespace, field_selector=f"metadata.name={name}" if name else None
            )
        except ApiError as error:
            raise CommandError(f"rollouts in {namespace or 'all namespaces'}: {error}") from None
        return listing.items

    def template_owner(self, rollout: Mapping[str, Any]) -> TemplateOwner:
        """Where ``rollout``'s pod template is edited: the Rollout itself, or its ``workloadRef`` Deployment."""
        name = str(rollout["metadata"]["name"])
        ref = (rollout.get("spec") or {}).get("workloadRef")
        if not ref:
            return TemplateOwner(self.mode.rollouts, name, rollout)
        if ref.get("kind") != "Deployment":
            raise CommandError(
                f"rollout {self.namespace}/{name}: spec.workloadRef.kind {ref.get('kind')!r} is not supported "
                "(only Deployment)"
            )
        deployment_name = str(ref.get("name") or "")
        try:
            deployment = self.kube.get(DEPLOYMENTS, deployment_name, self.namespace)
        except ApiError as error:
            raise self._refused(deployment_name, error, kind="deployment") from None
        if deployment is None:
            raise CommandError(
                f"rollout {self.namespace}/{name}: its spec.workloadRef names deployment "
                f"{self.namespace}/{deployment_name}, which does not exist"
            )
        return TemplateOwner(DEPLOYMENTS, deployment_name, deployment)

    def _patch(
        self, name: str, *, spec: Mapping[str, Any] | None = None, status: Mapping[str, Any] | None = None
    ) -> None:
        if spec:
            self._send(self.mode.rollouts, name, {"spec": spec})
        if status:
            self._send(self.mode.rollouts, name, {"status": status}, subresource="status")

    def _send(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> None:
        kind = resource.kind.lower()
        try:
            patched = self.kube.patch(
                resource, name, patch, self.namespace, subresource=subresource, patch_type=patch_type
            )
        except ApiError as error:
            raise self._refused(name, error, kind=kind) from None
        if patched is None:
            raise self._not_found(name, kind=kind)

    # -- commands -------------------------------------------------------------------------------------------------
    def promote(self, name: str, *, full: bool = False) -> str:
        rollout = self.get(name)
        spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
        unpause = {"paused": False} if spec.get("paused") else None
        if full:
            self._patch(name, spec=unpause, status={"promoteFull": True})
            return f"rollout '{name}' fully promoted"
        if status.get("pauseConditions") or spec.get("paused"):
            self._patch(name, spec=unpause, status={"pauseConditions": None} if status.get("pauseConditions") else None)
            return f"rollout '{name}' promoted"
        steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or []
        index = status.get("currentStepIndex")
        if steps and isinstance(index, int) and index < len(steps):
            self._patch(name, status={"currentStepIndex": index + 1})
            return f"rollout '{name}' promoted: skipped step {index}"
        return f"rollout '{name}' has nothing to promote (not paused, no step pending)"

    def abort(self, name: str) -> str:
        self._patch(name, status={"abort": True})
        return f"rollout '{name}' aborted"

    def retry(self, name: str) -> str:
        self._patch(name, status={"abort": False})
        return f"rollout '{name}' retried"

    def pause(self, name: str) -> str:
        self._patch(name, spec={"paused": True})
        return f"rollout '{name}' paused"

    def resume(self, name: str) -> str:
        self._patch(name, spec={"paused": False})
        return f"rollout '{name}' resumed"

    def restart(self, name: str, *, now: dt.datetime, delay: dt.timedelta = dt.timedelta(0)) -> str:
        """``spec.restartAt = now + delay`` (Argo's ``restart --in``): pods created before it are replaced then."""
        at = now.astimezone(dt.UTC) + delay
        self._patch(name, spec={"restartAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
        return f"rollout '{name}' restarts in {format_duration(delay)}"

    def set_image(self, name: str, container: str, image: str) -> str:
        owner = self.template_owner(self.get(name))
        operations = image_patch(owner.body, container, image)
        if not operations:
            raise CommandError(
                f"{owner.kind} {self.namespace}/{owner.name}: unable to find container named {container!r}"
            )
        self._send(owner.resource, owner.name, operations, patch_type="json")
        return f'{owner.kind} "{owner.name}" image updated'

    def history(self, name: str) -> list[dict[str, Any]]:
        """The Rollout's ReplicaSets, oldest revision first."""
        return self._history(self.get(name))

    def _history(self, rollout: Mapping[str, Any]) -> list[dict[str, Any]]:
        name, uid = rollout["metadata"]["name"], rollout["metadata"]["uid"]
        try:
            listing = self.kube.list(REPLICA_SETS, self.namespace)
        except ApiError as error:
            raise self._refused(name, error) from None
        owned = [
            rs for rs in listing.items if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])
        ]
        return sorted(owned, key=lambda rs: replica_set_view_from(rs, mode=self.mode).revision)

    def undo(self, name: str, *, to_revision: int | None = None) -> str:
        """Put an earlier revision's template back where the template lives (see :meth:`template_owner`).

        Without ``to_revision``: the newest revision that is not the current one. A revision whose template is the
        current one is skipped with a message, as Argo does.
        """
        rollout = self.get(name)
        history = self._history(rollout)
        current = (rollout.get("status") or {}).get("currentPodHash")

        def revision(rs: Mapping[str, Any]) -> int:
            return replica_set_view_from(rs, mode=self.mode).revision

        target: Mapping[str, Any] | None
        if to_revision is None:
            candidates = [rs for rs in history if replica_set_view_from(rs, mode=self.mode).pod_hash != current]
            if not candidates:
                raise CommandError(f"rollout {self.namespace}/{name}: no previous revision to go back to")
            target = candidates[-1]
        else:
            target = next((rs for rs in history if revision(rs) == to_revision), None)
            if target is None:
                known = ", ".join(str(revision(rs)) for rs in history) or "none"
                raise CommandError(f"rollout {self.namespace}/{name}: no revision {to_revision} (known: {known})")
            if replica_set_view_from(target, mode=self.mode).pod_hash == current:
                return f"skipped rollback (current template already matches revision {to_revision})"
        owner = self.template_owner(rollout)
        # Drop what the controller added to the ReplicaSet's pods: the hash label and ephemeral canary/stable metadata.
        template = strip_hash_label(without_injected_anti_affinity(target["spec"]["template"]))
        ephemeral = replica_set_view_from(target, mode=self.mode).pod_metadata
        meta = template.get("metadata") or {}
        for key in ephemeral.labels:
            (meta.get("labels") or {}).pop(key, None)
        for key in ephemeral.annotations:
            (meta.get("annotations") or {}).pop(key, None)
        self._send(
            owner.resource,
            owner.name,
            [{"op": "replace", "path": "/spec/template", "value": template}],
            patch_type="json",
        )
        where = "" if owner.resource == self.mode.rollouts else f" (deployment '{owner.name}')"
        return f"rollout '{name}' rolled back to revision {revision(target)}{where}"

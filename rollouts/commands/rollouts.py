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
| restart            | spec: ``restartAt: <now>``                                                             |
| set image          | spec: the container's ``image`` (JSON patch at its index)                             |
| undo               | spec: ``template`` replaced by an earlier revision's ReplicaSet template               |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollouts.commands import CommandError
from rollouts.core.hashing import strip_hash_label
from rollouts.core.observed import replica_set_view_from
from workflows.api import ROLLOUTS_DEV, ApiMode
from workflows.runtime.kube import REPLICA_SETS, ApiError, Kube

__all__ = ["RolloutClient"]


@dataclass
class RolloutClient:
    """Reads and patches one namespace's Rollouts; every method raises :class:`CommandError` on API refusal."""

    kube: Kube
    namespace: str
    mode: ApiMode = ROLLOUTS_DEV  # which group's Rollouts (``--api-group argoproj.io``: Argo's, in drop-in mode)

    def _refused(self, name: str, error: ApiError) -> CommandError:
        # The server's own message names the object and the rule (RBAC, validation): what the terminal should show.
        return CommandError(f"rollout {self.namespace}/{name}: {error}")

    def _not_found(self, name: str) -> CommandError:
        return CommandError(f"rollout {self.namespace}/{name} not found")

    def get(self, name: str) -> dict[str, Any]:
        try:
            body = self.kube.get(self.mode.rollouts, name, self.namespace)
        except ApiError as error:
            raise self._refused(name, error) from None
        if body is None:
            raise self._not_found(name)
        return body

    def _patch(
        self, name: str, *, spec: Mapping[str, Any] | None = None, status: Mapping[str, Any] | None = None
    ) -> None:
        if spec:
            self._send(name, {"spec": spec})
        if status:
            self._send(name, {"status": status}, subresource="status")

    def _json_patch(self, name: str, operations: Sequence[Mapping[str, Any]]) -> None:
        self._send(name, operations, patch_type="json")

    def _send(
        self,
        name: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> None:
        try:
            patched = self.kube.patch(
                self.mode.rollouts, name, patch, self.namespace, subresource=subresource, patch_type=patch_type
            )
        except ApiError as error:
            raise self._refused(name, error) from None
        if patched is None:
            raise self._not_found(name)

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

    def restart(self, name: str, *, now: dt.datetime) -> str:
        self._patch(name, spec={"restartAt": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
        return f"rollout '{name}' restarts pods created before {now:%Y-%m-%dT%H:%M:%SZ}"

    def set_image(self, name: str, container: str, image: str) -> str:
        rollout = self.get(name)
        pod = ((rollout.get("spec") or {}).get("template") or {}).get("spec") or {}
        for field_name in ("containers", "initContainers", "ephemeralContainers"):
            for index, item in enumerate(pod.get(field_name) or []):
                if item.get("name") == container or container == "*":
                    self._json_patch(
                        name,
                        [{"op": "replace", "path": f"/spec/template/spec/{field_name}/{index}/image", "value": image}],
                    )
                    if container != "*":
                        return f"rollout '{name}' image updated: {container}={image}"
        if container == "*":
            return f"rollout '{name}' images updated to {image}"
        raise CommandError(f"rollout {self.namespace}/{name}: no container named {container!r}")

    def history(self, name: str) -> list[dict[str, Any]]:
        """The Rollout's ReplicaSets, oldest revision first."""
        rollout = self.get(name)
        uid = rollout["metadata"]["uid"]
        try:
            listing = self.kube.list(REPLICA_SETS, self.namespace)
        except ApiError as error:
            raise self._refused(name, error) from None
        owned = [
            rs for rs in listing.items if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])
        ]
        return sorted(owned, key=lambda rs: replica_set_view_from(rs, mode=self.mode).revision)

    def undo(self, name: str, *, to_revision: int | None = None) -> str:
        rollout = self.get(name)
        history = self.history(name)
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
        # Drop what the controller added to the ReplicaSet's pods: the hash label and ephemeral canary/stable metadata.
        template = strip_hash_label(target["spec"]["template"])
        ephemeral = replica_set_view_from(target, mode=self.mode).pod_metadata
        meta = template.get("metadata") or {}
        for key in ephemeral.labels:
            (meta.get("labels") or {}).pop(key, None)
        for key in ephemeral.annotations:
            (meta.get("annotations") or {}).pop(key, None)
        self._json_patch(name, [{"op": "replace", "path": "/spec/template", "value": template}])
        return f"rollout '{name}' rolled back to revision {revision(target)}"

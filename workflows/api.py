"""The product's API group and version, and how our objects point at their owners: one place, at the bottom layer.

Every package names the group the same way, and every object the controllers create (ReplicaSets, AnalysisRuns,
Jobs, canary Ingresses) carries the same shape of ``ownerReferences`` entry, so Kubernetes' garbage collector deletes
it with its owner and a restarted controller recognises what is its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = [
    "API_VERSION",
    "ARGO",
    "ARGO_API_VERSION",
    "GROUP",
    "MANAGED_LABEL",
    "MANAGER",
    "ROLLOUTS_DEV",
    "VERSION",
    "ApiMode",
    "Resource",
    "api_mode",
    "configured",
    "owner_reference",
]

GROUP = "rollouts.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
#: Argo's group/version, accepted as an alias where a manifest is read (Workflows, AnalysisTemplates).
ARGO_API_VERSION = "argoproj.io/v1alpha1"
#: Every Job the engine runs (workflow container steps, analysis job metrics) carries this label, so one watch sees
#: them all (``workflows.runtime.jobs.JobIndex``).
MANAGED_LABEL = "workflows.rollouts.dev/managed-by"
MANAGER = "rollouts"


@dataclass(frozen=True, slots=True)
class Resource:
    """A kind the product reads or writes: where it lives in the API (``/apis/<group>/<version>/.../<plural>``)."""

    group: str  # "" for the core API
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


def configured(value: object) -> bool:
    """Whether ``value`` sets anything. Go writes structs it never set as ``{}`` (Argo's controller puts
    ``authentication: {oauth2: {}, sigv4: {}}`` on every AnalysisRun it makes), so empty maps and lists, ``null``,
    ``""`` and ``false`` set nothing; a number, even 0, is an explicit setting."""
    if isinstance(value, Mapping):
        return any(configured(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(configured(item) for item in value)
    return value is not None and value is not False and value != ""


def owner_reference(owner: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
    """The controlling ``ownerReferences`` entry pointing at ``owner`` (a Rollout, AnalysisRun or Workflow body,
    in whichever group it was served)."""
    meta = owner["metadata"]
    return {
        "apiVersion": str(owner.get("apiVersion") or API_VERSION),
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiMode:
    """The names one API flavour speaks: the group the Rollout kinds are served under and every label, annotation and
    key the controller writes or reads on the objects around a Rollout.

    Two values exist, :data:`ROLLOUTS_DEV` (our own group, the default) and :data:`ARGO` (drop-in mode: Argo Rollouts'
    ``argoproj.io`` group and the names its users, its kubectl plugin, Argo CD and its e2e suite read). The mode is
    chosen once at start-up and passed down; code reads ``mode.revision_annotation``, never ``if argo:``.
    Workflows and WorkflowTemplates stay in ``rollouts.dev`` in both modes (Argo Workflows owns ``argoproj.io``'s
    Workflow kind).
    """

    group: str
    version: str = VERSION
    #: Rollout revision on each ReplicaSet (Argo: ``rollout.argoproj.io/revision``).
    revision_annotation: str
    #: When a scaled-down-later ReplicaSet may go to zero (Argo: ``scale-down-deadline``).
    scale_down_deadline_annotation: str
    #: The ephemeral pod metadata currently applied to a ReplicaSet's pods.
    ephemeral_metadata_annotation: str
    #: Why an AnalysisRun exists (Step/Background/PrePromotion/PostPromotion; Argo: ``rollout-type``).
    analysis_kind_label: str
    #: The canary step a Step run belongs to (Argo: ``step-index``).
    step_index_label: str
    #: Set on a run whose verdict an abort consumed, so a retry starts a new one (ours in both modes).
    superseded_label: str = "rollouts.dev/superseded"
    #: Objects of one controller instance (``--instance-id``) carry this label with the instance's id.
    instance_id_label: str = "argo-rollouts.argoproj.io/controller-instance-id"
    #: On a Service whose selector a Rollout pins: which Rollout (released when the Rollout stops naming it).
    managed_by_annotation: str = "rollouts.dev/managed-by-rollouts"
    #: How a ReplicaSet's pod-template hash (its name suffix and ``rollouts-pod-template-hash``) is computed, by name:
    #: ``"rollouts"`` (FNV-1a over a canonical JSON of the template: ours, kept so existing ReplicaSets keep their
    #: names) or ``"argo"`` (Argo Rollouts' ``ComputePodTemplateHash``: what Argo's controller names them).
    #: ``rollouts.core.hashing.template_hash`` maps the name to the function.
    pod_template_hash: str = "rollouts"
    #: Whether the AnalysisRun kind has a status subresource (ours does; Argo's CRD has none, so its status is
    #: written through the object itself).
    analysis_run_status_subresource: bool = True
    #: The served CRDs do not enforce our schema (Argo's published ones preserve unknown fields), so the controller
    #: validates every Rollout, AnalysisTemplate and AnalysisRun it reads against our own CRD's schema itself
    #: (:class:`workflows.runtime.crds.SchemaCheck`) and refuses what it finds as invalid input.
    enforce_own_schema: bool = False
    #: The ConfigMap of notification triggers, templates and services, in the controller's namespace (Argo:
    #: ``argo-rollouts-notification-configmap``); see ``rollouts.notifications``.
    notifications_config_map: str = "rollouts-notification-configmap"
    #: The Secret whose keys the notification services name as ``$key`` (Argo: ``argo-rollouts-notification-secret``).
    notifications_secret: str = "rollouts-notification-secret"  # noqa: S105 -- the Secret's name
    #: Subscription annotations on a Rollout are ``<prefix>/subscribe.<trigger>.<service>`` (Argo:
    #: ``notifications.argoproj.io``, the notifications engine's prefix).
    notifications_annotation_prefix: str = "notifications.rollouts.dev"
    #: On a Rollout: which notifications were delivered (hashed keys and times), so a restarted controller
    #: re-deciding the same step does not send them again (Argo CD's engine records the same way under this name).
    notifications_record_annotation: str = "notified.notifications.rollouts.dev"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def rollouts(self) -> Resource:
        return Resource(self.group, self.version, "rollouts", "Rollout")

    @property
    def analysis_runs(self) -> Resource:
        return Resource(self.group, self.version, "analysisruns", "AnalysisRun")

    @property
    def analysis_templates(self) -> Resource:
        return Resource(self.group, self.version, "analysistemplates", "AnalysisTemplate")

    @property
    def cluster_analysis_templates(self) -> Resource:
        return Resource(
            self.group, self.version, "clusteranalysistemplates", "ClusterAnalysisTemplate", namespaced=False
        )


ROLLOUTS_DEV = ApiMode(
    group=GROUP,
    revision_annotation="rollouts.dev/revision",
    scale_down_deadline_annotation="rollouts.dev/scale-down-deadline",
    ephemeral_metadata_annotation="rollouts.dev/ephemeral-metadata",
    analysis_kind_label="rollouts.dev/analysis-kind",
    step_index_label="rollouts.dev/step-index",
)

ARGO = ApiMode(
    group="argoproj.io",
    revision_annotation="rollout.argoproj.io/revision",
    scale_down_deadline_annotation="scale-down-deadline",
    ephemeral_metadata_annotation="rollout.argoproj.io/ephemeral-metadata",
    analysis_kind_label="rollout-type",
    step_index_label="step-index",
    managed_by_annotation="argo-rollouts.argoproj.io/managed-by-rollouts",
    pod_template_hash="argo",
    analysis_run_status_subresource=False,
    enforce_own_schema=True,
    notifications_config_map="argo-rollouts-notification-configmap",
    notifications_secret="argo-rollouts-notification-secret",  # noqa: S106 -- the Secret's name
    notifications_annotation_prefix="notifications.argoproj.io",
    notifications_record_annotation="notified.notifications.argoproj.io",
)


def api_mode(group: str) -> ApiMode:
    """The mode serving ``group`` (``rollouts.dev`` or ``argoproj.io``); ValueError for anything else."""
    for mode in (ROLLOUTS_DEV, ARGO):
        if mode.group == group:
            return mode
    raise ValueError(f"unknown API group {group!r}: expected {ROLLOUTS_DEV.group} or {ARGO.group}")

"""Shapes shared by several kinds: metadata maps, Kubernetes-style conditions, and a CRD's outer shell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflows.api import GROUP, VERSION

from .schema import (
    Schema,
    integer,
    obj,
    string,
    string_map,
    timestamp,
    unbounded_array,
)

CATEGORIES = ("rollouts",)


def labels_and_annotations(description: str) -> Schema:
    """Argo's ``PodTemplateMetadata`` / ``AnalysisRunMetadata``: extra labels and annotations."""
    return obj(
        description,
        {
            "labels": string_map("Labels to add."),
            "annotations": string_map("Annotations to add."),
        },
    )


def conditions() -> Schema:
    """``status.conditions`` in the Kubernetes style (``metav1.Condition`` plus Argo's ``lastUpdateTime``)."""
    condition = obj(
        "One observation of the object's state.",
        {
            "type": string("Condition type, e.g. Available, Progressing, Paused, Completed, Healthy, InvalidSpec."),
            "status": string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "observedGeneration": integer("The metadata.generation this condition was computed from.", fmt="int64"),
            "lastUpdateTime": timestamp("Last time the condition was probed."),
            "lastTransitionTime": timestamp("Last time the status changed."),
            "reason": string("CamelCase reason for the last transition."),
            "message": string("Human-readable details."),
        },
        required=["type", "status"],
    )
    return {
        **unbounded_array(condition, "Kubernetes-style conditions, one per type."),
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    }


def observed_generation() -> Schema:
    """``status.observedGeneration``.

    Argo Rollouts writes it as a string and Kubernetes convention is an integer; accepting both keeps tools written
    for either readable. Our controller writes an integer.
    """
    return {
        "description": "The metadata.generation last acted on by the controller.",
        "x-kubernetes-int-or-string": True,
    }


def printer_column(
    name: str, json_path: str, column_type: str, description: str, *, priority: int | None = None
) -> Schema:
    column: Schema = {"name": name, "type": column_type, "jsonPath": json_path, "description": description}
    if priority is not None:
        column["priority"] = priority
    return column


AGE_COLUMN = printer_column("Age", ".metadata.creationTimestamp", "date", "Time since the object was created.")


def crd(
    *,
    kind: str,
    plural: str,
    short_names: Sequence[str],
    scope: str,
    description: str,
    spec: Schema,
    status: Schema | None,
    spec_required: bool = True,
    columns: Sequence[Schema] = (),
    scale: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``CustomResourceDefinition`` around one kind's schema."""
    properties: Schema = {
        "apiVersion": string("APIVersion of this object: rollouts.dev/v1alpha1."),
        "kind": string(f"Kind of this object: {kind}."),
        "metadata": {"type": "object"},
        "spec": spec,
    }
    if status is not None:
        properties["status"] = status
    root = obj(description, properties, required=["spec"] if spec_required else ())
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
    }
    subresources: dict[str, Any] = {}
    if status is not None:
        subresources["status"] = {}
    if scale is not None:
        subresources["scale"] = dict(scale)
    if subresources:
        version["subresources"] = subresources
    all_columns = [*columns, AGE_COLUMN]
    version["additionalPrinterColumns"] = all_columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "rollouts"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": list(short_names),
                "categories": list(CATEGORIES),
            },
            "scope": scope,
            "versions": [version],
        },
    }


def message(description: str = "Human-readable explanation of the current phase.") -> Schema:
    """A status message: written by the controller, never bounded (a failed status write helps nobody)."""
    return string(description)

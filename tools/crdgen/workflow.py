"""Schemas of Workflow and WorkflowTemplate: the DAG subset of Argo Workflows under ``rollouts.dev/v1alpha1``.

Supported templates are ``dag``, ``container`` (run as a Kubernetes Job), ``http`` and ``suspend``. Argo's ``steps``,
``script``, ``resource``, ``data``, ``containerSet`` and plugin templates, artifacts, template outputs, inline tasks,
``withSequence`` and DAG ``target`` are declared only to be refused by name.
"""

from __future__ import annotations

from .common import conditions, crd, labels_and_annotations, message, observed_generation, printer_column
from .schema import (
    DURATION_OR_PLACEHOLDER_PATTERN,
    PLACEHOLDER_PATTERN,
    SHORT_NAME_MAX,
    Schema,
    any_value,
    array,
    boolean,
    int_or_string,
    integer,
    map_of,
    name,
    needs_exactly_one,
    obj,
    open_object,
    rule,
    string,
    string_map,
    timestamp,
    unbounded_array,
    unsupported,
    unsupported_fields,
)

TEMPLATES_MAX = 200
TASKS_MAX = 200
TEMPLATE_NAME_MAX = SHORT_NAME_MAX * 2  # Argo allows up to 128 characters

TEMPLATE_KINDS = ("dag", "container", "http", "suspend")
UNSUPPORTED_TEMPLATE_KINDS = {
    "steps": ("steps templates", "express the sequence as a dag with depends", "object-lists"),
    "script": ("script templates", "use a container template with command and args", "object"),
    "resource": ("resource templates", "", "object"),
    "data": ("data templates", "", "object"),
    "containerSet": ("containerSet templates", "", "object"),
    "plugin": ("plugin templates", "", "object"),
}
# Pod-level fields of a template: they shape the Job's pod, so they only make sense on container templates.
POD_FIELDS = (
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "priorityClassName",
    "serviceAccountName",
    "volumes",
)


def _parameter(description: str, *, declaration: bool) -> Schema:
    properties: dict[str, Schema] = {
        "name": name("Parameter name.", max_length=TEMPLATE_NAME_MAX),
        "value": int_or_string("Value; may use {{...}} placeholders.", max_length=262144),
    }
    if declaration:
        properties.update(
            {
                "default": int_or_string("Value used when none is supplied.", max_length=262144),
                "enum": array(int_or_string(max_length=4096), "Allowed values.", max_items=256),
                "description": string("What the parameter means."),
            }
        )
    return obj(
        description,
        {**properties, **unsupported_fields({"valueFrom": "parameter valueFrom"})},
        required=["name"],
    )


def _parameters(description: str, *, declaration: bool) -> Schema:
    return array(
        _parameter("A named string parameter.", declaration=declaration),
        description,
        max_items=256,
        map_keys=["name"],
    )


def arguments(description: str) -> Schema:
    return obj(
        description,
        {
            "parameters": _parameters("Parameter values.", declaration=False),
            **unsupported_fields({"artifacts": ("artifacts", "objects")}),
        },
    )


def _template_ref() -> Schema:
    return obj(
        "A template of a WorkflowTemplate in the same namespace.",
        {
            "name": name("WorkflowTemplate name."),
            "template": name("Template name within it.", max_length=TEMPLATE_NAME_MAX),
            **unsupported_fields({"clusterScope": ("ClusterWorkflowTemplate references", "boolean")}),
        },
        required=["name", "template"],
    )


def dag_task() -> Schema:
    return obj(
        "A node of the DAG: a template invocation with its dependencies.",
        {
            "name": name("Task name, unique in the DAG.", max_length=TEMPLATE_NAME_MAX),
            "template": name("Template of this workflow to run.", max_length=TEMPLATE_NAME_MAX),
            "templateRef": _template_ref(),
            "arguments": arguments("Arguments for the template."),
            "dependencies": array(
                name("Task name.", max_length=TEMPLATE_NAME_MAX),
                "Tasks that must succeed first (shorthand for depends: A && B).",
                max_items=TASKS_MAX,
            ),
            "depends": string("Dependency expression, e.g. A && (B.Succeeded || B.Failed).", max_length=16384),
            "when": string("Skip the task unless this expression is true.", max_length=16384),
            "withItems": array(
                any_value("One item, available as {{item}}."), "Fan out over these items.", max_items=10000
            ),
            "withParam": string("Fan out over the JSON list in this (placeholder) string."),
            "continueOn": obj(
                "Let dependants run even if this task fails or errors.",
                {"failed": boolean("Continue when Failed."), "error": boolean("Continue when Errored.")},
            ),
            "onExit": name("Template to run after the task, whatever its outcome.", max_length=TEMPLATE_NAME_MAX),
            **unsupported_fields(
                {
                    "inline": "inline task templates (declare the template under spec.templates)",
                    "withSequence": "withSequence (use withItems)",
                    "hooks": "lifecycle hooks (use onExit)",
                }
            ),
        },
        required=["name"],
        rules=[
            needs_exactly_one("a task", ["template", "templateRef", "inline"], named=["template", "templateRef"]),
            rule(
                "!(has(self.dependencies) && has(self.depends))",
                "a task uses dependencies or depends, not both",
                field_path=".depends",
                reason="FieldValueForbidden",
            ),
            rule(
                "!(has(self.withParam) && has(self.withSequence))",
                "a task uses at most one of withParam or withSequence",
                field_path=".withParam",
                reason="FieldValueForbidden",
            ),
        ],
    )


def dag() -> Schema:
    return obj(
        "A directed acyclic graph of tasks.",
        {
            "tasks": array(dag_task(), "The tasks.", max_items=TASKS_MAX, min_items=1, map_keys=["name"]),
            "failFast": boolean("Stop scheduling new tasks once one fails (engine default true; not defaulted here)."),
            **unsupported_fields({"target": ("dag target", "string")}),
        },
        required=["tasks"],
    )


def _http() -> Schema:
    header = obj(
        "An HTTP header.",
        {
            "name": string("Header name.", min_length=1, max_length=256),
            "value": string("Header value; may use placeholders."),
            **unsupported_fields({"valueFrom": "http header valueFrom (pass the value as a workflow parameter)"}),
        },
        required=["name", "value"],
    )
    return obj(
        "An HTTP request; the node succeeds when successCondition holds (default: a 2xx status).",
        {
            "url": string("URL; may use placeholders.", min_length=1),
            "method": string("HTTP method (default GET).", enum=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
            "headers": array(header, "Request headers."),
            "body": string("Request body."),
            "timeoutSeconds": integer("Request timeout in seconds.", minimum=1, fmt="int64"),
            "successCondition": string(
                "Expression over response.statusCode, response.body and response.headers.", max_length=16384
            ),
            "insecureSkipVerify": boolean("Skip TLS certificate verification."),
            **unsupported_fields({"bodyFrom": "http bodyFrom"}),
        },
        required=["url"],
    )


def _retry_strategy() -> Schema:
    number_or_placeholder = f"^[0-9]+$|{PLACEHOLDER_PATTERN}"
    return obj(
        "Retry a failed node.",
        {
            "limit": int_or_string("Maximum retries.", pattern=number_or_placeholder),
            "retryPolicy": string(
                "Which outcomes are retried (default OnFailure).",
                enum=["Always", "OnFailure", "OnError", "OnTransientError"],
            ),
            "backoff": obj(
                "Delay between retries.",
                {
                    "duration": int_or_string(
                        "First delay: seconds or a duration string.", pattern=DURATION_OR_PLACEHOLDER_PATTERN
                    ),
                    "factor": int_or_string(
                        "Multiplier applied to the delay after each retry.", pattern=number_or_placeholder
                    ),
                    "maxDuration": int_or_string(
                        "Stop retrying once this much time passed since the first attempt.",
                        pattern=DURATION_OR_PLACEHOLDER_PATTERN,
                    ),
                    "cap": int_or_string("Upper bound of a single delay.", pattern=DURATION_OR_PLACEHOLDER_PATTERN),
                },
            ),
            **unsupported_fields(
                {"expression": ("retryStrategy.expression", "string"), "affinity": "retryStrategy.affinity"}
            ),
        },
    )


def _container() -> Schema:
    return open_object(
        "A core/v1 Container run as a Kubernetes Job; validated by the Job API when created.",
        properties={"image": string("Container image.", min_length=1)},
        required=["image"],
    )


def template() -> Schema:
    unsupported_kinds = {
        field: unsupported(feature, hint, shape=shape)
        for field, (feature, hint, shape) in UNSUPPORTED_TEMPLATE_KINDS.items()
    }
    return obj(
        "A named unit of work: exactly one of dag, container, http or suspend.",
        {
            "name": name("Template name, unique in the workflow.", max_length=TEMPLATE_NAME_MAX),
            "inputs": obj(
                "Declared inputs.",
                {
                    "parameters": _parameters(
                        "Input parameters, available as {{inputs.parameters.NAME}}.", declaration=True
                    ),
                    **unsupported_fields({"artifacts": ("artifacts", "objects")}),
                },
            ),
            "dag": dag(),
            "container": _container(),
            "http": _http(),
            "suspend": obj(
                "Wait for approval (kubectl rollouts resume) or for duration.",
                {
                    "duration": int_or_string(
                        "Resume automatically after this long: seconds or a duration string.",
                        pattern=DURATION_OR_PLACEHOLDER_PATTERN,
                    )
                },
            ),
            "retryStrategy": _retry_strategy(),
            "timeout": string(
                "Deadline of one attempt, e.g. 30s; may be a placeholder.", pattern=DURATION_OR_PLACEHOLDER_PATTERN
            ),
            "activeDeadlineSeconds": int_or_string("Deadline of the node in seconds."),
            "parallelism": integer("Children of this template running at once.", minimum=1, fmt="int64"),
            "failFast": boolean("Fail this template as soon as one child fails (engine default true)."),
            "metadata": labels_and_annotations("Labels and annotations of the template's pods."),
            "nodeSelector": string_map("Node selector of the Job's pod."),
            "tolerations": array(open_object("A core/v1 Toleration."), "Tolerations of the Job's pod."),
            "affinity": open_object("A core/v1 Affinity for the Job's pod."),
            "securityContext": open_object("A core/v1 PodSecurityContext for the Job's pod."),
            "priorityClassName": string("PriorityClass of the Job's pod."),
            "serviceAccountName": string("ServiceAccount of the Job's pod (overrides the workflow's)."),
            "volumes": array(open_object("A core/v1 Volume."), "Volumes of the Job's pod."),
            **unsupported_kinds,
            **unsupported_fields(
                {
                    "outputs": "template outputs (output parameters and artifacts)",
                    "synchronization": ("synchronization (use parallelism)", "object"),
                    "memoize": "memoize",
                    "daemon": ("daemon templates", "boolean"),
                    "initContainers": ("initContainers", "objects"),
                    "sidecars": ("sidecars", "objects"),
                }
            ),
        },
        required=["name"],
        rules=[
            needs_exactly_one("a template", [*TEMPLATE_KINDS, *UNSUPPORTED_TEMPLATE_KINDS], named=TEMPLATE_KINDS),
            rule(
                "has(self.container) || !(" + " || ".join(f"has(self.{f})" for f in POD_FIELDS) + ")",
                f"{', '.join(POD_FIELDS)} apply only to container templates",
            ),
        ],
    )


def _templates(*, required: bool) -> Schema:
    return array(
        template(),
        "Templates of the workflow.",
        max_items=TEMPLATES_MAX,
        min_items=1 if required else None,
        map_keys=["name"],
    )


_ENTRYPOINT_EXISTS = rule(
    "!has(self.entrypoint) || !has(self.templates) || self.templates.exists(t, t.name == self.entrypoint)",
    "entrypoint must name a template of spec.templates",
    field_path=".entrypoint",
)
_ON_EXIT_EXISTS = rule(
    "!has(self.onExit) || !has(self.templates) || self.templates.exists(t, t.name == self.onExit)",
    "onExit must name a template of spec.templates",
    field_path=".onExit",
)


def _common_spec_properties() -> dict[str, Schema]:
    return {
        "entrypoint": name("Template the workflow starts with.", max_length=TEMPLATE_NAME_MAX),
        "arguments": arguments("Workflow parameters, available as {{workflow.parameters.NAME}}."),
        "parallelism": integer("Nodes of this workflow running at once.", minimum=1, fmt="int64"),
        "activeDeadlineSeconds": integer("Deadline of the whole workflow in seconds.", minimum=1, fmt="int64"),
        "onExit": name("Template run when the workflow ends, whatever its outcome.", max_length=TEMPLATE_NAME_MAX),
        "serviceAccountName": name("ServiceAccount of the Jobs of container templates."),
        **unsupported_fields(
            {
                "podGC": "podGC",
                "synchronization": ("synchronization (use parallelism)", "object"),
                "volumeClaimTemplates": ("volumeClaimTemplates", "objects"),
            }
        ),
    }


def workflow_spec() -> Schema:
    return obj(
        "The workflow to run.",
        {
            **_common_spec_properties(),
            "templates": _templates(required=False),
            "workflowTemplateRef": obj(
                "Run a WorkflowTemplate of this namespace instead of inline templates.",
                {
                    "name": name("WorkflowTemplate name."),
                    **unsupported_fields({"clusterScope": ("ClusterWorkflowTemplate references", "boolean")}),
                },
                required=["name"],
            ),
        },
        rules=[
            rule(
                "has(self.templates) || has(self.workflowTemplateRef)",
                "a workflow needs spec.templates or spec.workflowTemplateRef",
                field_path=".templates",
                reason="FieldValueRequired",
            ),
            rule(
                "has(self.entrypoint) || has(self.workflowTemplateRef)",
                "a workflow needs spec.entrypoint (or spec.workflowTemplateRef)",
                field_path=".entrypoint",
                reason="FieldValueRequired",
            ),
            _ENTRYPOINT_EXISTS,
            _ON_EXIT_EXISTS,
        ],
    )


def workflow_template_spec() -> Schema:
    return obj(
        "Reusable templates; with an entrypoint, also a submittable workflow.",
        {**_common_spec_properties(), "templates": _templates(required=True)},
        required=["templates"],
        rules=[_ENTRYPOINT_EXISTS, _ON_EXIT_EXISTS],
    )


def node() -> Schema:
    """One row of the node table. Typed for the fields every node has; the engine may add more."""
    return obj(
        "A node of the run: a task, a retry attempt, a loop item or the DAG itself.",
        {
            "id": string("Node ID, unique in the workflow."),
            "name": string("Full name, e.g. wf.A(0)."),
            "displayName": string("Short name."),
            "type": string("DAG, Pod, HTTP, Suspend, Retry, TaskGroup, Skipped, ..."),
            "templateName": string("Template run by the node."),
            "phase": string("Pending, Running, Succeeded, Failed, Error, Skipped or Omitted."),
            "message": message("Why the node has this phase."),
            "startedAt": timestamp("When the node started."),
            "finishedAt": timestamp("When the node finished."),
            "boundaryID": string("ID of the DAG node that owns this node."),
            "children": unbounded_array(string(), "IDs of child nodes."),
            "retries": integer("Attempts after the first."),
            "outputs": obj("What the node produced.", {"result": string("The node's result text.")}),
        },
        preserve_unknown=True,
    )


def workflow_status() -> Schema:
    return obj(
        "Observed state of the workflow run.",
        {
            "phase": string("Pending, Running, Succeeded, Failed or Error."),
            "message": message(),
            "startedAt": timestamp("When the run started."),
            "finishedAt": timestamp("When the run finished."),
            "progress": string("Finished/total nodes, e.g. 3/5."),
            "counts": map_of(integer(fmt="int64"), "Nodes by phase."),
            "nodes": unbounded_array(node(), "The node table while it is small."),
            "compressedNodes": string("The node table, compressed and base64-encoded once it grows."),
            "storedTemplates": open_object(
                "Snapshot of every WorkflowTemplate the run references, taken when it started (name -> spec)."
            ),
            "resume": unbounded_array(
                string(), "Suspended nodes to resume (names, or * for all); the controller clears it once applied."
            ),
            "observedGeneration": observed_generation(),
            "conditions": conditions(),
        },
    )


def workflow_crd() -> dict[str, object]:
    return crd(
        kind="Workflow",
        plural="workflows",
        short_names=["wf"],
        scope="Namespaced",
        description="A DAG of containers, HTTP calls and approval gates (the DAG subset of Argo Workflows).",
        spec=workflow_spec(),
        status=workflow_status(),
        columns=[
            printer_column("Phase", ".status.phase", "string", "Phase of the run."),
            printer_column("Progress", ".status.progress", "string", "Finished/total nodes."),
            printer_column("Message", ".status.message", "string", "Details.", priority=1),
        ],
    )


def workflow_template_crd() -> dict[str, object]:
    return crd(
        kind="WorkflowTemplate",
        plural="workflowtemplates",
        short_names=["wftmpl"],
        scope="Namespaced",
        description="Reusable workflow templates, referenced by templateRef or workflowTemplateRef.",
        spec=workflow_template_spec(),
        status=None,
    )


__all__ = ["workflow_crd", "workflow_template_crd"]

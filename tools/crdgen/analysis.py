"""Schemas of AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun, and the analysis references in Rollouts.

Field names and meanings follow Argo Rollouts' ``argoproj.io/v1alpha1`` analysis API. Providers we implement are
prometheus, web and job, plus ``workflow`` (a WorkflowTemplate run as a measurement) and metric ``dependencies`` --
both ours. Argo's other providers are declared only to be refused by name.
"""

from __future__ import annotations

from .common import conditions, crd, labels_and_annotations, message, observed_generation, printer_column
from .schema import (
    PLACEHOLDER_PATTERN,
    SHORT_NAME_MAX,
    Schema,
    array,
    boolean,
    duration,
    int_or_string,
    integer,
    name,
    needs_exactly_one,
    obj,
    open_object,
    rule,
    string,
    string_map,
    timestamp,
    unbounded_array,
    unsupported_fields,
)

METRICS_MAX = 32
DEPENDENCIES_MAX = 16
# Non-negative count in either form; placeholders ("{{args.limit}}") are resolved when the run is created.
COUNT_PATTERN = f"^[0-9]+$|{PLACEHOLDER_PATTERN}"

SUPPORTED_PROVIDERS = ("prometheus", "web", "job", "workflow")
UNSUPPORTED_PROVIDERS = {
    "kayenta": "the kayenta metric provider",
    "wavefront": "the wavefront metric provider",
    "datadog": "the datadog metric provider",
    "newRelic": "the newRelic metric provider",
    "cloudWatch": "the cloudWatch metric provider",
    "graphite": "the graphite metric provider",
    "influxdb": "the influxdb metric provider",
    "skywalking": "the skywalking metric provider",
    "plugin": "metric provider plugins",
}


def _header(key_field: str) -> Schema:
    return obj(
        "An HTTP header sent with the request.",
        {key_field: string("Header name.", min_length=1, max_length=256), "value": string("Header value.")},
        required=[key_field, "value"],
    )


def secret_key_ref() -> Schema:
    return obj(
        "A key of a Secret in the object's namespace. The value never appears in status, events or logs.",
        {"name": name("Secret name."), "key": string("Key within the Secret.", min_length=1, max_length=253)},
        required=["name", "key"],
    )


def field_ref() -> Schema:
    return obj(
        "A field of the owning Rollout, e.g. metadata.labels['app'].",
        {"fieldPath": string("Path of the field to read.", min_length=1, max_length=1024)},
        required=["fieldPath"],
    )


def analysis_argument() -> Schema:
    """``spec.args[]`` of a template or run: a declared argument, optionally with a value or a source."""
    return obj(
        "An argument of the analysis, referenced in metrics as {{args.NAME}}.",
        {
            "name": name("Argument name.", max_length=SHORT_NAME_MAX),
            "value": string("Value; when absent, the Rollout or run must supply it."),
            "valueFrom": obj(
                "Where to read the value from.",
                {"secretKeyRef": secret_key_ref(), "fieldRef": field_ref()},
                rules=[needs_exactly_one("valueFrom", ["secretKeyRef", "fieldRef"])],
            ),
        },
        required=["name"],
        rules=[
            rule(
                "!(has(self.value) && has(self.valueFrom))",
                "an argument has either value or valueFrom, not both",
                field_path=".valueFrom",
                reason="FieldValueForbidden",
            )
        ],
    )


def _prometheus() -> Schema:
    return obj(
        "A PromQL query; the result vector is the measurement.",
        {
            "address": string("Base URL of the Prometheus server; defaults to the controller's configured one."),
            "query": string("PromQL query; may use {{args.NAME}}.", min_length=1),
            "timeout": integer("Query timeout in seconds.", minimum=1, fmt="int64"),
            "insecure": boolean("Skip TLS certificate verification."),
            "headers": array(_header("key"), "Extra HTTP headers, e.g. for a tenant ID."),
            "rangeQuery": obj(
                "A range query instead of an instant one; every sample of every series is one flat list.",
                {
                    "start": string('Window start: now(), now() - duration("1h") or now() + duration("5m").'),
                    "end": string('Window end: now(), now() - duration("1h") or now() + duration("5m").'),
                    "step": string("Resolution, a duration such as 30s or 1m."),
                },
            ),
            **unsupported_fields({"authentication": "prometheus authentication (sigv4/oauth2); use headers"}),
        },
        required=["query"],
    )


def _web() -> Schema:
    return obj(
        "An HTTP request; the (JSONPath-selected) response body is the measurement.",
        {
            "url": string("URL to call; may use {{args.NAME}}.", min_length=1),
            "method": string("HTTP method.", enum=["GET", "POST", "PUT"]),
            "headers": array(_header("key"), "HTTP headers."),
            "body": string("Request body as text."),
            "jsonBody": open_object("Request body as a JSON object."),
            "timeoutSeconds": integer("Request timeout in seconds (engine default 10).", minimum=1, fmt="int64"),
            "jsonPath": string("JSONPath selecting the result from the response, e.g. {$.data.ok}."),
            "insecure": boolean("Skip TLS certificate verification."),
            **unsupported_fields({"authentication": "web authentication (sigv4/oauth2); use headers"}),
        },
        required=["url"],
        rules=[
            rule(
                "!(has(self.body) && has(self.jsonBody))",
                "web provider takes body or jsonBody, not both",
                field_path=".jsonBody",
                reason="FieldValueForbidden",
            )
        ],
    )


def _job() -> Schema:
    return obj(
        "A Kubernetes Job; success or failure of the Job is the measurement.",
        {
            "metadata": labels_and_annotations("Labels and annotations of the created Job."),
            "spec": open_object(
                "A batch/v1 JobSpec, validated by the Job API when the Job is created.",
                properties={"template": open_object("The Job's pod template.")},
                required=["template"],
            ),
        },
        required=["spec"],
    )


def _workflow() -> Schema:
    return obj(
        "Run a WorkflowTemplate; the workflow's outcome is the measurement (rollouts.dev extension).",
        {
            "templateRef": obj(
                "The WorkflowTemplate to run, in the run's namespace.",
                {"name": name("WorkflowTemplate name.")},
                required=["name"],
            ),
            "arguments": obj(
                "Arguments passed to the workflow.",
                {
                    "parameters": array(
                        obj(
                            "A workflow parameter.",
                            {
                                "name": name("Parameter name.", max_length=SHORT_NAME_MAX),
                                "value": int_or_string("Value; may use {{args.NAME}}.", max_length=65536),
                            },
                            required=["name"],
                        ),
                        "Workflow parameters.",
                        map_keys=["name"],
                    )
                },
            ),
        },
        required=["templateRef"],
    )


def provider() -> Schema:
    return obj(
        "Where the measurement comes from: exactly one provider.",
        {
            "prometheus": _prometheus(),
            "web": _web(),
            "job": _job(),
            "workflow": _workflow(),
            **unsupported_fields(UNSUPPORTED_PROVIDERS),
        },
        rules=[
            needs_exactly_one(
                "a metric provider", [*SUPPORTED_PROVIDERS, *UNSUPPORTED_PROVIDERS], named=SUPPORTED_PROVIDERS
            )
        ],
    )


def _limit(description: str, *, default: int | None = None) -> Schema:
    schema = int_or_string(description, pattern=COUNT_PATTERN)
    schema["minimum"] = 0
    if default is not None:
        schema["default"] = default
    return schema


def metric() -> Schema:
    return obj(
        "One measured signal and how to judge it.",
        {
            "name": name("Metric name, unique in the template.", max_length=SHORT_NAME_MAX),
            "interval": duration("Time between measurements, e.g. 30s; without it a single measurement is taken."),
            "initialDelay": duration("Delay before the first measurement."),
            "count": _limit("Number of measurements; with only interval the metric runs until terminated."),
            "successCondition": string("Expression over `result` that marks a measurement Successful."),
            "failureCondition": string("Expression over `result` that marks a measurement Failed."),
            "failureLimit": _limit("Failed measurements tolerated before the metric fails.", default=0),
            "inconclusiveLimit": _limit(
                "Inconclusive measurements tolerated before the metric is Inconclusive.", default=0
            ),
            "consecutiveErrorLimit": _limit(
                "Consecutive measurement errors tolerated before the metric errors.", default=4
            ),
            "provider": provider(),
            **unsupported_fields(
                {"consecutiveSuccessLimit": ("consecutiveSuccessLimit (use count with failureLimit)", "int-or-string")}
            ),
            "dependencies": array(
                name("Name of a metric of the same template.", max_length=SHORT_NAME_MAX),
                "Metrics that must succeed before this one starts (rollouts.dev extension).",
                max_items=DEPENDENCIES_MAX,
                set_semantics=True,
            ),
        },
        required=["name", "provider"],
        rules=[
            rule(
                "!has(self.count) || has(self.interval) || !string(self.count).matches('^[0-9]+$')"
                " || int(string(self.count)) <= 1",
                "a metric with count greater than 1 needs an interval",
                field_path=".interval",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.dependencies) || !(self.name in self.dependencies)",
                "a metric cannot depend on itself",
                field_path=".dependencies",
            ),
        ],
    )


def _metric_name_ref(description: str, extra: dict[str, Schema] | None = None) -> Schema:
    properties: dict[str, Schema] = {
        "metricName": string("Metric name, or * for every metric.", min_length=1, max_length=SHORT_NAME_MAX)
    }
    properties.update(extra or {})
    return obj(description, properties, required=["metricName"])


def dry_run() -> Schema:
    return array(
        _metric_name_ref("A metric whose result is recorded but never fails the run."),
        "Metrics evaluated in dry-run mode.",
        map_keys=["metricName"],
    )


def measurement_retention() -> Schema:
    return array(
        _metric_name_ref(
            "How many measurements of a metric to keep in status.",
            {"limit": integer("Measurements to keep.", minimum=1)},
        ),
        "Measurement retention per metric (default 10).",
        map_keys=["metricName"],
    )


def _metrics_list() -> Schema:
    return array(metric(), "The metrics to measure.", max_items=METRICS_MAX, min_items=1, map_keys=["name"])


_DEPENDENCIES_RESOLVE = rule(
    "self.metrics.all(m, !has(m.dependencies) || m.dependencies.all(d, self.metrics.exists(o, o.name == d)))",
    "every entry of metrics[].dependencies must name a metric of this template",
    field_path=".metrics",
)


def template_spec(kind: str) -> Schema:
    return obj(
        f"The {kind}: metrics, their arguments and evaluation options.",
        {
            "args": array(analysis_argument(), "Arguments of the template.", map_keys=["name"]),
            "metrics": _metrics_list(),
            "dryRun": dry_run(),
            "measurementRetention": measurement_retention(),
            **unsupported_fields(
                {
                    "templates": (
                        "nested AnalysisTemplates (templates); list every template in the Rollout's analysis instead",
                        "objects",
                    )
                }
            ),
        },
        required=["metrics"],
        rules=[_DEPENDENCIES_RESOLVE],
    )


def run_spec() -> Schema:
    return obj(
        "The AnalysisRun: resolved metrics and arguments.",
        {
            "args": array(analysis_argument(), "Arguments of the run.", map_keys=["name"]),
            "metrics": _metrics_list(),
            "dryRun": dry_run(),
            "measurementRetention": measurement_retention(),
            "terminate": boolean("Stop the run early; running measurements are cancelled and the run concludes."),
            "ttlStrategy": obj(
                "How long the finished run is kept before the controller deletes it (Argo's TTLStrategy).",
                {
                    "secondsAfterCompletion": integer("Seconds to keep any finished run.", minimum=0),
                    "secondsAfterSuccess": integer("Seconds to keep a Successful run (wins).", minimum=0),
                    "secondsAfterFailure": integer("Seconds to keep a Failed run (wins).", minimum=0),
                },
            ),
        },
        required=["metrics"],
        rules=[_DEPENDENCIES_RESOLVE],
    )


def _summary(description: str) -> Schema:
    return obj(
        description,
        {
            "count": integer("Metrics measured."),
            "successful": integer("Metrics Successful."),
            "failed": integer("Metrics Failed."),
            "inconclusive": integer("Metrics Inconclusive."),
            "error": integer("Metrics in Error."),
        },
    )


def measurement() -> Schema:
    return obj(
        "One point-in-time measurement.",
        {
            "phase": string("Pending, Running, Successful, Failed, Inconclusive or Error."),
            "message": message("Why the measurement has this phase (errors, never secrets)."),
            "startedAt": timestamp("When the measurement started."),
            "finishedAt": timestamp("When the measurement finished."),
            "value": string("The measured value as text."),
            "metadata": string_map("Provider details such as a Job name."),
            "resumeAt": timestamp("When a long-running measurement is checked again."),
        },
        required=["phase"],
    )


def metric_result() -> Schema:
    return obj(
        "The aggregate state of one metric.",
        {
            "name": string("Metric name."),
            "phase": string("Aggregate phase of the metric."),
            "message": message("Details, e.g. the last error."),
            "measurements": unbounded_array(measurement(), "Most recent measurements (bounded by retention)."),
            "count": integer("Measurements taken without error."),
            "successful": integer("Successful measurements."),
            "failed": integer("Failed measurements."),
            "inconclusive": integer("Inconclusive measurements."),
            "error": integer("Measurements in error."),
            "consecutiveError": integer("Errors in a row, reset by a non-error measurement."),
            "dryRun": boolean("The metric ran in dry-run mode."),
            "metadata": string_map("Provider details."),
        },
        required=["name", "phase"],
    )


def run_status() -> Schema:
    return obj(
        "Observed state of the AnalysisRun.",
        {
            "phase": string("Pending, Running, Successful, Failed, Inconclusive or Error."),
            "message": message(),
            "startedAt": timestamp("When the run started."),
            "completedAt": timestamp("When the run concluded."),
            "metricResults": unbounded_array(metric_result(), "Per-metric results."),
            "runSummary": _summary("Counts of metrics by phase."),
            "dryRunSummary": _summary("Counts of dry-run metrics by phase."),
            "observedGeneration": observed_generation(),
            "conditions": conditions(),
        },
    )


# --- references from a Rollout --------------------------------------------------------------------------------


def rollout_argument() -> Schema:
    """``args[]`` of a Rollout's analysis reference: a value, or one read from the Rollout's own state."""
    return obj(
        "A value for an argument of the referenced templates.",
        {
            "name": name("Argument name.", max_length=SHORT_NAME_MAX),
            "value": string("Literal value."),
            "valueFrom": obj(
                "Where to read the value from.",
                {
                    "podTemplateHashValue": string(
                        "Pod template hash of the Stable or Latest ReplicaSet.", enum=["Stable", "Latest"]
                    ),
                    "fieldRef": field_ref(),
                },
                rules=[needs_exactly_one("valueFrom", ["podTemplateHashValue", "fieldRef"])],
            ),
        },
        required=["name"],
        rules=[
            rule(
                "!(has(self.value) && has(self.valueFrom))",
                "an argument has either value or valueFrom, not both",
                field_path=".valueFrom",
                reason="FieldValueForbidden",
            )
        ],
    )


def rollout_analysis(description: str, *, background: bool = False) -> Schema:
    """Argo's ``RolloutAnalysis`` (``RolloutAnalysisBackground`` when ``background``)."""
    properties: dict[str, Schema] = {
        "templates": array(
            obj(
                "A template to include in the run.",
                {
                    "templateName": name("AnalysisTemplate (or ClusterAnalysisTemplate) name."),
                    "clusterScope": boolean("Look the name up among ClusterAnalysisTemplates."),
                },
                required=["templateName"],
            ),
            "Templates merged into one AnalysisRun.",
            min_items=1,
            max_items=16,
        ),
        "args": array(rollout_argument(), "Argument values.", map_keys=["name"]),
        "dryRun": dry_run(),
        "measurementRetention": measurement_retention(),
        "analysisRunMetadata": labels_and_annotations("Labels and annotations added to the AnalysisRun."),
    }
    if background:
        properties["startingStep"] = integer("Index of the canary step at which the analysis starts.", minimum=0)
    return obj(description, properties, required=["templates"])


# --- the three CRDs -------------------------------------------------------------------------------------------


def analysis_template_crd() -> dict[str, object]:
    return crd(
        kind="AnalysisTemplate",
        plural="analysistemplates",
        short_names=["at"],
        scope="Namespaced",
        description="A reusable set of metrics that AnalysisRuns are created from.",
        spec=template_spec("AnalysisTemplate"),
        status=None,
    )


def cluster_analysis_template_crd() -> dict[str, object]:
    return crd(
        kind="ClusterAnalysisTemplate",
        plural="clusteranalysistemplates",
        short_names=["cat"],
        scope="Cluster",
        description="An AnalysisTemplate shared by every namespace (referenced with clusterScope: true).",
        spec=template_spec("ClusterAnalysisTemplate"),
        status=None,
    )


def analysis_run_crd() -> dict[str, object]:
    return crd(
        kind="AnalysisRun",
        plural="analysisruns",
        short_names=["ar"],
        scope="Namespaced",
        description="One execution of analysis metrics, judged Successful, Failed, Inconclusive or Error.",
        spec=run_spec(),
        status=run_status(),
        columns=[printer_column("Phase", ".status.phase", "string", "Phase of the run.")],
    )


__all__ = [
    "analysis_run_crd",
    "analysis_template_crd",
    "cluster_analysis_template_crd",
    "rollout_analysis",
    "secret_key_ref",
]

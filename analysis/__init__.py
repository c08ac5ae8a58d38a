"""Analysis: AnalysisTemplates and AnalysisRuns, metric providers and the safe condition evaluator.

Layering: may use :mod:`workflows` (a run executes as a DAG on the shared executor), never :mod:`rollouts`.

Where things live (the pure decision core; no kopf, kubernetes or network here):

- conditions are compiled by :func:`workflows.model.expr.compile_condition` (expr-lang with ``result``), the
  product's one expression evaluator; ``compile_condition`` and ``Condition`` are re-exported here.
- :mod:`analysis.spec` -- template/run specs: parse, validate with field paths, merge templates, resolve args.
- :mod:`analysis.args` -- ``{{args.x}}`` substitution, secret rendering for requests, redaction for records.
- :mod:`analysis.assess` -- judge a measurement, assess a metric and a run, and ``plan_run`` for drivers.
- :mod:`analysis.errors` -- the error hierarchy (field issues, durations and expressions: :mod:`workflows.errors`).
"""

from analysis.args import (
    REDACTED,
    Argument,
    FieldRef,
    RenderedProvider,
    SecretKeyRef,
    SecretResolver,
    merge_args,
    redact,
    render_provider,
    resolve_field_refs,
    substitute,
)
from analysis.assess import (
    ERROR_RETRY_INTERVAL,
    AnalysisPhase,
    Judgement,
    Measurement,
    MetricAssessment,
    MetricResult,
    RunAssessment,
    RunPlan,
    RunSummary,
    assess_metric,
    assess_run,
    judge_measurement,
    plan_run,
    record_measurement,
    worst_phase,
)
from analysis.errors import AnalysisError, SecretResolutionError, SpecError
from analysis.spec import (
    API_VERSION,
    AnalysisRunSpec,
    AnalysisTemplateSpec,
    DryRunRule,
    Metric,
    MetricTemplate,
    Provider,
    ProviderKind,
    RetentionRule,
    build_run_spec,
    merge_templates,
    parse_run_spec,
    parse_template_manifest,
    parse_template_spec,
    resolve_metrics,
)
from workflows.model.expr import Condition, compile_condition

__all__ = [
    "API_VERSION",
    "ERROR_RETRY_INTERVAL",
    "REDACTED",
    "AnalysisError",
    "AnalysisPhase",
    "AnalysisRunSpec",
    "AnalysisTemplateSpec",
    "Argument",
    "Condition",
    "DryRunRule",
    "FieldRef",
    "Judgement",
    "Measurement",
    "Metric",
    "MetricAssessment",
    "MetricResult",
    "MetricTemplate",
    "Provider",
    "ProviderKind",
    "RenderedProvider",
    "RetentionRule",
    "RunAssessment",
    "RunPlan",
    "RunSummary",
    "SecretKeyRef",
    "SecretResolutionError",
    "SecretResolver",
    "SpecError",
    "assess_metric",
    "assess_run",
    "build_run_spec",
    "compile_condition",
    "judge_measurement",
    "merge_args",
    "merge_templates",
    "parse_run_spec",
    "parse_template_manifest",
    "parse_template_spec",
    "plan_run",
    "record_measurement",
    "redact",
    "render_provider",
    "resolve_field_refs",
    "resolve_metrics",
    "substitute",
    "worst_phase",
]

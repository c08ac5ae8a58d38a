"""AnalysisTemplate / ClusterAnalysisTemplate / AnalysisRun specs: parsed, validated, merged, resolved.

Two shapes on purpose. A template's metric may hold ``{{args.x}}`` anywhere -- in the query, but also in ``count``,
``interval``, a limit or a condition -- so :class:`MetricTemplate` keeps the metric as written and validates only
what is already concrete. :func:`resolve_metrics` substitutes the run's plain args and produces :class:`Metric`,
where every field is typed (durations, ints, compiled-checked conditions); that is what assessment consumes.
Secret args stay as placeholders in the provider body until :func:`analysis.args.render_provider` runs.

Validation collects every problem with its field path and a fix (:class:`~analysis.errors.SpecError`), the way a
user wants to read it once, not one error per ``kubectl apply``. Providers other than prometheus, web, job (and our
``workflow``) are refused by name, so a manifest never half-works.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from graphlib import CycleError, TopologicalSorter
from typing import Any

from analysis.args import Argument, FieldRef, SecretKeyRef, find_placeholders, merge_args, substitute
from analysis.errors import SpecError
from analysis.refused import ARGO_ONLY_PROVIDERS, REFUSED, present, refused_fields
from workflows.api import API_VERSION, ARGO_API_VERSION
from workflows.errors import DurationError, ExpressionSyntaxError, Issues
from workflows.model.durations import parse_duration
from workflows.model.expr import check_pattern, compile_condition, search_pattern

__all__ = [
    "API_VERSION",
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "DEFAULT_MEASUREMENT_RETENTION",
    "AnalysisRunSpec",
    "AnalysisTemplateSpec",
    "DryRunRule",
    "Metric",
    "MetricTemplate",
    "Provider",
    "ProviderKind",
    "RetentionRule",
    "build_run_spec",
    "merge_templates",
    "parse_run_spec",
    "parse_template_manifest",
    "parse_template_spec",
    "resolve_metrics",
]

TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_MEASUREMENT_RETENTION = 10


class ProviderKind(StrEnum):
    PROMETHEUS = "prometheus"
    WEB = "web"
    JOB = "job"
    WORKFLOW = "workflow"  # beyond Argo: run a WorkflowTemplate as the measurement


_SUPPORTED_TEXT = "supported: prometheus, web, job"
_METRIC_FIELDS = frozenset({
    "name", "interval", "initialDelay", "count", "successCondition", "failureCondition", "failureLimit",
    "inconclusiveLimit", "consecutiveErrorLimit", "provider", "dependencies",
})  # fmt: skip
# Table paths of analysis.refused.REFUSED: the parser refuses the fields listed there by their concrete path.
_SPEC, _METRIC, _PROVIDER = "spec", "spec.metrics[]", "spec.metrics[].provider"
# Every field of each provider's body, nested objects by their table path (the job's JobSpec is kept whole: the Job
# API validates it when the Job is created). A field in none of these, and not refused, is an unknown field.
_PROVIDER_FIELDS: dict[str, frozenset[str]] = {
    "prometheus": frozenset({"address", "query", "timeout", "insecure", "headers", "rangeQuery"}),
    "prometheus.headers[]": frozenset({"key", "value"}),
    "prometheus.rangeQuery": frozenset({"start", "end", "step"}),
    "web": frozenset({"url", "method", "headers", "body", "jsonBody", "timeoutSeconds", "jsonPath", "insecure"}),
    "web.headers[]": frozenset({"key", "value"}),
    "job": frozenset({"metadata", "spec"}),
    "job.metadata": frozenset({"labels", "annotations"}),
    "workflow": frozenset({"templateRef", "arguments"}),
    "workflow.templateRef": frozenset({"name"}),
    "workflow.arguments": frozenset({"parameters"}),
    "workflow.arguments.parameters[]": frozenset({"name", "value"}),
}
_TEMPLATE_FIELDS = frozenset({"args", "metrics", "dryRun", "measurementRetention"})
_RUN_FIELDS = _TEMPLATE_FIELDS | {"terminate", "ttlStrategy"}
_TTL_FIELDS = ("secondsAfterCompletion", "secondsAfterSuccess", "secondsAfterFailure")
_FINISHED_PHASES = frozenset({"Successful", "Failed", "Error", "Inconclusive"})  # AnalysisPhase's final values


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """Which provider measures a metric, and its body as written (a read-only mapping, provider-owned schema)."""

    kind: ProviderKind
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricNameRule:
    """A rule naming metrics: ``metricName`` is ``*`` or a regular expression searched in the name (Argo's Go regexp,
    here RE2 too, so a pattern means the same and can never backtrack)."""

    metric_name: str

    def matches(self, name: str) -> bool:
        return self.metric_name == "*" or search_pattern(self.metric_name, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunRule(MetricNameRule):
    """``dryRun[].metricName``: matching metrics are measured and reported but never decide the run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionRule(MetricNameRule):
    """``measurementRetention[]``: keep ``limit`` measurements for metrics matching ``metric_name``."""

    limit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricTemplate:
    """A metric as written in a template; ``raw`` may still hold ``{{args.x}}`` placeholders."""

    name: str
    provider_kind: ProviderKind
    raw: Mapping[str, Any]
    arg_names: frozenset[str]
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """A metric with every field concrete; the input of assessment and planning."""

    name: str
    provider: Provider
    interval: timedelta | None = None
    initial_delay: timedelta | None = None
    count: int | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: int = 0  # -1 disables the failure check
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT  # -1 disables the error check
    dependencies: tuple[str, ...] = ()

    @property
    def effective_count(self) -> int | None:
        """Measurements to take: ``count``; one when neither count nor interval is set; None = until stopped."""
        if not self.count:
            return 1 if self.interval is None else None
        return self.count


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisTemplateSpec:
    args: tuple[Argument, ...] = ()
    metrics: tuple[MetricTemplate, ...] = ()
    dry_run: tuple[DryRunRule, ...] = ()
    measurement_retention: tuple[RetentionRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TTLStrategy:
    """``spec.ttlStrategy``: seconds a finished run is kept; a phase's own setting wins over the general one."""

    after_completion: int | None = None
    after_success: int | None = None
    after_failure: int | None = None

    def deletion_time(self, phase: str, completed_at: datetime | None) -> datetime | None:
        """When a run that ended ``phase`` (an ``AnalysisPhase`` value) at ``completed_at`` is due for deletion;
        None: kept (no setting applies, or the run has not finished).

        As Argo (``isAnalysisRunTtlExceeded``): Successful uses ``secondsAfterSuccess``, Failed
        ``secondsAfterFailure``, otherwise (also Error/Inconclusive) ``secondsAfterCompletion``; a run is deleted once
        more than the whole seconds have passed.
        """
        if completed_at is None or phase not in _FINISHED_PHASES:
            return None
        seconds = None
        if phase == "Successful" and self.after_success is not None:
            seconds = self.after_success
        elif phase == "Failed" and self.after_failure is not None:
            seconds = self.after_failure
        elif self.after_completion is not None:
            seconds = self.after_completion
        return None if seconds is None else completed_at + timedelta(seconds=seconds + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisRunSpec:
    args: tuple[Argument, ...] = ()
    metrics: tuple[MetricTemplate, ...] = ()
    dry_run: tuple[DryRunRule, ...] = ()
    measurement_retention: tuple[RetentionRule, ...] = ()
    terminate: bool = False
    ttl: TTLStrategy | None = None  # spec.ttlStrategy: when the finished run is deleted

    def is_dry_run(self, metric_name: str) -> bool:
        return any(rule.matches(metric_name) for rule in self.dry_run)

    def retention_limit(self, metric_name: str) -> int:
        """Measurements kept for a metric: the last matching rule with a positive limit, else 10 (as Argo)."""
        limit = DEFAULT_MEASUREMENT_RETENTION
        for rule in self.measurement_retention:
            if rule.limit > 0 and rule.matches(metric_name):
                limit = rule.limit
        return limit


# --------------------------------------------------------------------------------------------------------------
# Parsing


def parse_template_manifest(manifest: Mapping[str, Any]) -> AnalysisTemplateSpec:
    """Parse a whole AnalysisTemplate / ClusterAnalysisTemplate object (``apiVersion``, ``kind``, ``spec``)."""
    issues = Issues()
    api_version = manifest.get("apiVersion")
    if api_version not in (API_VERSION, ARGO_API_VERSION):  # ours, or Argo's in drop-in mode
        issues.add("apiVersion", f"must be {API_VERSION} or {ARGO_API_VERSION}, got {api_version!r}")
    if manifest.get("kind") not in TEMPLATE_KINDS:
        issues.add("kind", f"must be one of {', '.join(TEMPLATE_KINDS)}, got {manifest.get('kind')!r}")
    spec = manifest.get("spec")
    parsed = AnalysisTemplateSpec()
    if not isinstance(spec, Mapping):
        issues.add("spec", "is required and must be a map")
    else:
        with issues.collecting():
            parsed = parse_template_spec(spec)
    issues.raise_if_any(SpecError)
    return parsed


def parse_template_spec(spec: Mapping[str, Any], *, path: str = "spec") -> AnalysisTemplateSpec:
    """Validate and parse a template ``spec``. Raises :class:`SpecError` listing every issue."""
    issues = Issues()
    _check_fields(spec, _TEMPLATE_FIELDS, path, issues, context=_SPEC)
    args = _parse_args(spec.get("args"), f"{path}.args", issues)
    metrics = _parse_metrics(spec.get("metrics"), f"{path}.metrics", args, issues)
    dry_run = _parse_dry_run(spec.get("dryRun"), f"{path}.dryRun", issues)
    retention = _parse_retention(spec.get("measurementRetention"), f"{path}.measurementRetention", issues)
    issues.raise_if_any(SpecError)
    return AnalysisTemplateSpec(args=args, metrics=metrics, dry_run=dry_run, measurement_retention=retention)


def parse_run_spec(spec: Mapping[str, Any], *, path: str = "spec") -> AnalysisRunSpec:
    """Validate and parse an AnalysisRun ``spec``: a flattened template plus ``terminate``; every arg has a value."""
    issues = Issues()
    _check_fields(spec, _RUN_FIELDS, path, issues, context=_SPEC)
    args = _parse_args(spec.get("args"), f"{path}.args", issues)
    metrics = _parse_metrics(spec.get("metrics"), f"{path}.metrics", args, issues)
    dry_run = _parse_dry_run(spec.get("dryRun"), f"{path}.dryRun", issues)
    retention = _parse_retention(spec.get("measurementRetention"), f"{path}.measurementRetention", issues)
    terminate = spec.get("terminate", False)
    if not isinstance(terminate, bool):
        issues.add(f"{path}.terminate", "must be true or false")
        terminate = False
    for index, arg in enumerate(args):
        if not arg.is_resolved:
            issues.add(f"{path}.args[{index}]", f"arg {arg.name!r} has no value: set value or valueFrom")
    _check_rules_match(dry_run, retention, metrics, path, issues)
    ttl = _parse_ttl(spec.get("ttlStrategy"), f"{path}.ttlStrategy", issues)
    issues.raise_if_any(SpecError)
    return AnalysisRunSpec(
        args=args, metrics=metrics, dry_run=dry_run, measurement_retention=retention, terminate=terminate, ttl=ttl
    )


def ttl_of(run_spec: Mapping[str, Any]) -> TTLStrategy | None:
    """The ``ttlStrategy`` of an AnalysisRun ``spec`` (None without one, or when it is invalid: the run's parse
    reports that)."""
    issues = Issues()
    ttl = _parse_ttl(run_spec.get("ttlStrategy"), "spec.ttlStrategy", issues)
    return None if issues.items else ttl


def _parse_ttl(value: object, path: str, issues: Issues) -> TTLStrategy | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        issues.add(path, "must be an object")
        return None
    _check_fields(value, frozenset(_TTL_FIELDS), path, issues)
    seconds: dict[str, int | None] = {}
    for key in _TTL_FIELDS:
        item = value.get(key)
        if item is not None and (isinstance(item, bool) or not isinstance(item, int) or item < 0):
            issues.add(f"{path}.{key}", "must be a whole number of seconds, 0 or more")
            item = None
        seconds[key] = item
    return TTLStrategy(
        after_completion=seconds["secondsAfterCompletion"],
        after_success=seconds["secondsAfterSuccess"],
        after_failure=seconds["secondsAfterFailure"],
    )


def merge_templates(templates: Sequence[AnalysisTemplateSpec]) -> AnalysisTemplateSpec:
    """Flatten several templates into one, as a Rollout step listing several templates does.

    Metrics concatenate (a duplicate name is an error); args dedupe by name (two different values are an error;
    a value wins over no value); dryRun and measurementRetention rules concatenate (duplicate rules are errors).
    """
    issues = Issues()
    metrics: list[MetricTemplate] = []
    seen_metrics: set[str] = set()
    args: list[Argument] = []
    dry_run: list[DryRunRule] = []
    retention: list[RetentionRule] = []
    for position, template in enumerate(templates):
        where = f"templates[{position}]"
        for metric in template.metrics:
            if metric.name in seen_metrics:
                issues.add(f"{where}.metrics", f"metric {metric.name!r} is defined by more than one template")
            seen_metrics.add(metric.name)
            metrics.append(metric)
        for arg in template.args:
            _merge_arg(args, arg, f"{where}.args", issues)
        for dry in template.dry_run:
            if any(existing.metric_name == dry.metric_name for existing in dry_run):
                issues.add(f"{where}.dryRun", f"two dryRun rules for metricName {dry.metric_name!r}")
            dry_run.append(dry)
        for keep in template.measurement_retention:
            if any(existing.metric_name == keep.metric_name for existing in retention):
                issues.add(
                    f"{where}.measurementRetention",
                    f"two measurementRetention rules for metricName {keep.metric_name!r}",
                )
            retention.append(keep)
    _check_dependencies(metrics, "metrics", issues)
    issues.raise_if_any(SpecError)
    return AnalysisTemplateSpec(
        args=tuple(args), metrics=tuple(metrics), dry_run=tuple(dry_run), measurement_retention=tuple(retention)
    )


def build_run_spec(
    template: AnalysisTemplateSpec,
    *,
    args: Sequence[Argument] = (),
    dry_run: Sequence[DryRunRule] = (),
    measurement_retention: Sequence[RetentionRule] = (),
) -> AnalysisRunSpec:
    """The AnalysisRun spec a Rollout creates from a (merged) template and the args/rules it passes."""
    issues = Issues()
    try:
        merged_args = merge_args(incoming=args, declared=template.args)
    except SpecError as error:
        issues.extend(error.issues, prefix="spec")
        merged_args = template.args
    rules = (*dry_run, *template.dry_run)
    retention = (*measurement_retention, *template.measurement_retention)
    _check_rules_match(rules, retention, template.metrics, "spec", issues)
    issues.raise_if_any(SpecError)
    return AnalysisRunSpec(
        args=merged_args,
        metrics=template.metrics,
        dry_run=tuple(rules),
        measurement_retention=tuple(retention),
    )


def resolve_metrics(run: AnalysisRunSpec, *, path: str = "spec.metrics") -> tuple[Metric, ...]:
    """Substitute the run's plain args into every metric and type every field.

    Secret args stay as ``{{args.x}}`` in the provider body (rendered at measurement time); a secret arg used
    anywhere else is refused, because that field would be stored in status.
    """
    issues = Issues()
    plain = {arg.name: arg.value for arg in run.args if arg.value is not None and not arg.is_secret}
    secret_names = {arg.name for arg in run.args if arg.is_secret}
    resolved: list[Metric] = []
    for index, template in enumerate(run.metrics):
        where = f"{path}[{index}]"
        for name, field_path in find_placeholders(dict(template.raw), path=where):
            if name in secret_names and not field_path.startswith(f"{where}.provider"):
                issues.add(field_path, f"secret arg {name!r} may only be used inside provider")
            elif name not in plain and name not in secret_names:
                issues.add(field_path, f"arg {name!r} has no value in this run")
        raw = substitute(template.raw, plain)
        assert isinstance(raw, Mapping)
        metric = _parse_metric(raw, where, issues, concrete=True)
        if metric is not None:
            resolved.append(metric)
    issues.raise_if_any(SpecError)
    return tuple(resolved)


# --------------------------------------------------------------------------------------------------------------
# Helpers


def _check_fields(
    value: Mapping[str, Any], allowed: frozenset[str], path: str, issues: Issues, *, context: str | None = None
) -> None:
    """Every field of ``value`` not in ``allowed`` is an issue at its path: ``not supported`` when
    :data:`analysis.refused.REFUSED` lists it under ``context`` (its table path), otherwise ``unknown field``."""
    refused = refused_fields(context) if context else {}
    for key in value:
        if key in refused:
            if present(refused[key], value[key]):
                issues.add(f"{path}.{key}", f"not supported: {REFUSED[refused[key]]}")
        elif key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(sorted(allowed))}"
            issues.add(f"{path}.{key}", f"unknown field{hint}")


def _check_provider_fields(body: Mapping[str, Any], where: str, path: str, issues: Issues) -> None:
    """Unknown (and refused) fields of a provider body and of its nested objects, by path; ``where`` is the body's
    key in :data:`_PROVIDER_FIELDS` (``prometheus``, ``prometheus.rangeQuery``, ...)."""
    _check_fields(body, _PROVIDER_FIELDS[where], path, issues, context=f"{_PROVIDER}.{where}")
    for field_name, value in body.items():
        nested = f"{where}.{field_name}"
        if nested in _PROVIDER_FIELDS and isinstance(value, Mapping):
            _check_provider_fields(value, nested, f"{path}.{field_name}", issues)
        elif f"{nested}[]" in _PROVIDER_FIELDS and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    _check_provider_fields(item, f"{nested}[]", f"{path}.{field_name}[{index}]", issues)


def _parse_args(value: object, path: str, issues: Issues) -> tuple[Argument, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        issues.add(path, "must be a list of {name, value | valueFrom}")
        return ()
    args: list[Argument] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            issues.add(where, "must be a map with name and value or valueFrom")
            continue
        _check_fields(item, frozenset({"name", "value", "valueFrom"}), where, issues)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            issues.add(f"{where}.name", "is required")
            continue
        if name in names:
            issues.add(f"{where}.name", f"arg {name!r} is declared twice")
        names.add(name)
        raw_value = item.get("value")
        if raw_value is not None and not isinstance(raw_value, str):
            issues.add(f"{where}.value", "must be a string (quote numbers in YAML)")
            raw_value = None
        secret_ref, field_ref = _parse_value_from(item.get("valueFrom"), f"{where}.valueFrom", issues)
        if raw_value is not None and (secret_ref or field_ref):
            issues.add(where, "set either value or valueFrom, not both")
        args.append(Argument(name=name, value=raw_value, secret_key_ref=secret_ref, field_ref=field_ref))
    return tuple(args)


def _parse_value_from(value: object, path: str, issues: Issues) -> tuple[SecretKeyRef | None, FieldRef | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        issues.add(path, "must be a map with secretKeyRef or fieldRef")
        return None, None
    _check_fields(value, frozenset({"secretKeyRef", "fieldRef"}), path, issues)
    secret: SecretKeyRef | None = None
    field_ref: FieldRef | None = None
    raw_secret = value.get("secretKeyRef")
    if raw_secret is not None:
        if isinstance(raw_secret, Mapping) and all(
            isinstance(raw_secret.get(key), str) and raw_secret.get(key) for key in ("name", "key")
        ):
            secret = SecretKeyRef(name=raw_secret["name"], key=raw_secret["key"])
        else:
            issues.add(f"{path}.secretKeyRef", "needs name (the Secret) and key (the entry in it)")
    raw_field = value.get("fieldRef")
    if raw_field is not None:
        if isinstance(raw_field, Mapping) and isinstance(raw_field.get("fieldPath"), str) and raw_field["fieldPath"]:
            field_ref = FieldRef(field_path=raw_field["fieldPath"])
        else:
            issues.add(f"{path}.fieldRef", "needs fieldPath, e.g. metadata.labels['app']")
    if secret is None and field_ref is None and raw_secret is None and raw_field is None:
        issues.add(path, "needs secretKeyRef or fieldRef")
    if secret is not None and field_ref is not None:
        issues.add(path, "set either secretKeyRef or fieldRef, not both")
    return secret, field_ref


def _parse_metrics(value: object, path: str, args: tuple[Argument, ...], issues: Issues) -> tuple[MetricTemplate, ...]:
    if not isinstance(value, list) or not value:
        issues.add(path, "at least one metric is required")
        return ()
    declared = {arg.name for arg in args}
    secret_args = {arg.name for arg in args if arg.is_secret}
    metrics: list[MetricTemplate] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            issues.add(where, "must be a map")
            continue
        referenced = find_placeholders(dict(item), path=where)
        for name, field_path in referenced:
            if name not in declared:
                issues.add(field_path, f"{{{{args.{name}}}}} refers to an undeclared arg; add it to spec.args")
            elif name in secret_args and not field_path.startswith(f"{where}.provider"):
                issues.add(field_path, f"secret arg {name!r} may only be used inside provider (it would be stored)")
        metric = _parse_metric(item, where, issues, concrete=False)
        if metric is None:
            continue
        if metric.name in names:
            issues.add(f"{where}.name", f"metric name {metric.name!r} is used twice")
        names.add(metric.name)
        metrics.append(
            MetricTemplate(
                name=metric.name,
                provider_kind=metric.provider.kind,
                raw=dict(item),
                arg_names=frozenset(arg for arg, _ in referenced),
                dependencies=metric.dependencies,
            )
        )
    _check_dependencies(metrics, path, issues)
    return tuple(metrics)


def _templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _parse_metric(raw: Mapping[str, Any], path: str, issues: Issues, *, concrete: bool) -> Metric | None:
    """Parse one metric. With ``concrete=False`` fields holding placeholders are skipped (checked after args)."""
    before = len(issues.items)
    _check_fields(raw, _METRIC_FIELDS, path, issues, context=_METRIC)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        issues.add(f"{path}.name", "is required")
        name = ""

    def deferred(value: object) -> bool:
        return not concrete and _templated(value)

    interval = _duration(raw.get("interval"), f"{path}.interval", issues, deferred)
    initial_delay = _duration(raw.get("initialDelay"), f"{path}.initialDelay", issues, deferred)
    count = _integer(raw.get("count"), f"{path}.count", issues, deferred, minimum=0, default=0)
    failure_limit = _integer(raw.get("failureLimit"), f"{path}.failureLimit", issues, deferred, minimum=-1, default=0)
    inconclusive_limit = _integer(
        raw.get("inconclusiveLimit"), f"{path}.inconclusiveLimit", issues, deferred, minimum=0, default=0
    )
    error_limit = _integer(
        raw.get("consecutiveErrorLimit"),
        f"{path}.consecutiveErrorLimit",
        issues,
        deferred,
        minimum=-1,
        default=DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    )
    conditions: dict[str, str | None] = {}
    for key in ("successCondition", "failureCondition"):
        source = raw.get(key)
        conditions[key] = None
        if source is None or source == "":
            continue
        if not isinstance(source, str):
            issues.add(f"{path}.{key}", "must be a string such as result[0] >= 0.95")
            continue
        conditions[key] = source
        if deferred(source):
            continue
        try:
            compile_condition(source)
        except ExpressionSyntaxError as error:
            issues.add(f"{path}.{key}", str(error))
    if count and count > 0:
        if failure_limit > count:
            issues.add(f"{path}.count", f"must be >= failureLimit ({failure_limit})")
        if inconclusive_limit > count:
            issues.add(f"{path}.count", f"must be >= inconclusiveLimit ({inconclusive_limit})")
    if count and count > 1 and "interval" not in raw:
        issues.add(f"{path}.interval", f"is required when count > 1 (count is {count}); e.g. interval: 1m")
    if interval is not None and interval == timedelta(0) and "interval" in raw and not deferred(raw["interval"]):
        issues.add(f"{path}.interval", "must be greater than zero")
    provider = _parse_provider(raw.get("provider"), f"{path}.provider", issues)
    dependencies = _parse_dependencies(raw.get("dependencies"), f"{path}.dependencies", name, issues)
    if provider is None or len(issues.items) > before:
        return None
    return Metric(
        name=name,
        provider=provider,
        interval=interval,
        initial_delay=initial_delay,
        count=count or None,
        success_condition=conditions["successCondition"],
        failure_condition=conditions["failureCondition"],
        failure_limit=failure_limit,
        inconclusive_limit=inconclusive_limit,
        consecutive_error_limit=error_limit,
        dependencies=dependencies,
    )


def _duration(value: object, path: str, issues: Issues, deferred: Any) -> timedelta | None:
    if value is None or value == "" or deferred(value):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        issues.add(path, "must be a duration such as 30s, 5m or 1h")
        return None
    try:
        return parse_duration(value)
    except DurationError as error:
        issues.add(path, str(error))
        return None


def _integer(value: object, path: str, issues: Issues, deferred: Any, *, minimum: int, default: int) -> int:
    if value is None or deferred(value):
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        number = int(value.strip())  # Argo's IntOrString: "3" counts as 3
    if number is None:
        issues.add(path, f"must be an integer (or {{{{args.name}}}}), got {value!r}")
        return default
    if number < minimum:
        allowed = ">= 0, or -1 to disable the check" if minimum == -1 else ">= 0"
        issues.add(path, f"must be {allowed}, got {number}")
        return default
    return number


def _parse_provider(value: object, path: str, issues: Issues) -> Provider | None:
    if not isinstance(value, Mapping) or not value:
        issues.add(path, f"is required: exactly one provider ({_SUPPORTED_TEXT})")
        return None
    kinds = list(value)
    for key in kinds:
        if key in ARGO_ONLY_PROVIDERS:
            issues.add(f"{path}.{key}", f"not supported: {REFUSED[f'{_PROVIDER}.{key}']} ({_SUPPORTED_TEXT})")
        elif key not in ProviderKind.__members__.values():
            issues.add(f"{path}.{key}", f"unknown provider ({_SUPPORTED_TEXT})")
    if len(kinds) > 1:
        issues.add(path, f"exactly one provider may be set, found {', '.join(map(str, kinds))}")
        return None
    key = kinds[0]
    if key not in ProviderKind.__members__.values():
        return None
    kind = ProviderKind(key)
    body = value[key]
    if not isinstance(body, Mapping):
        issues.add(f"{path}.{key}", "must be a map")
        return None
    _check_provider_fields(body, key, f"{path}.{key}", issues)
    required = {
        ProviderKind.PROMETHEUS: ("query", "a PromQL query"),
        ProviderKind.WEB: ("url", "the URL to call"),
        ProviderKind.JOB: ("spec", "a Job spec"),
    }
    if kind in required:
        field_name, what = required[kind]
        if not body.get(field_name):
            issues.add(f"{path}.{key}.{field_name}", f"is required ({what})")
    if kind is ProviderKind.WORKFLOW:
        ref = body.get("templateRef")
        if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref.get("name"):
            issues.add(f"{path}.workflow.templateRef.name", "is required (the WorkflowTemplate to run)")
    return Provider(kind=kind, body=dict(body))


def _parse_dependencies(value: object, path: str, own_name: str, issues: Issues) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        issues.add(path, "must be a list of metric names")
        return ()
    if own_name in value:
        issues.add(path, f"metric {own_name!r} cannot depend on itself")
    return tuple(value)


def _check_dependencies(metrics: Sequence[MetricTemplate], path: str, issues: Issues) -> None:
    names = {metric.name for metric in metrics}
    graph: dict[str, tuple[str, ...]] = {}
    for index, metric in enumerate(metrics):
        for dependency in metric.dependencies:
            if dependency not in names:
                issues.add(f"{path}[{index}].dependencies", f"{dependency!r} is not a metric of this analysis")
        graph[metric.name] = tuple(dep for dep in metric.dependencies if dep in names and dep != metric.name)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        cycle = " -> ".join(error.args[1])
        issues.add(path, f"metric dependencies form a cycle: {cycle}")


def _parse_rule_name(item: Mapping[str, Any], where: str, issues: Issues) -> str | None:
    name = item.get("metricName")
    if not isinstance(name, str) or not name:
        issues.add(f"{where}.metricName", "is required (a metric name, a regular expression, or *)")
        return None
    if name != "*":
        try:
            check_pattern(name)
        except ValueError as error:
            issues.add(f"{where}.metricName", f"{error}; use * for all")
            return None
    return name


def _parse_dry_run(value: object, path: str, issues: Issues) -> tuple[DryRunRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        issues.add(path, "must be a list of {metricName}")
        return ()
    rules: list[DryRunRule] = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            issues.add(where, "must be a map with metricName")
            continue
        _check_fields(item, frozenset({"metricName"}), where, issues)
        name = _parse_rule_name(item, where, issues)
        if name is None:
            continue
        if any(rule.metric_name == name for rule in rules):
            issues.add(f"{where}.metricName", f"two dryRun rules for {name!r}")
        rules.append(DryRunRule(metric_name=name))
    return tuple(rules)


def _parse_retention(value: object, path: str, issues: Issues) -> tuple[RetentionRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        issues.add(path, "must be a list of {metricName, limit}")
        return ()
    rules: list[RetentionRule] = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            issues.add(where, "must be a map with metricName and limit")
            continue
        _check_fields(item, frozenset({"metricName", "limit"}), where, issues)
        name = _parse_rule_name(item, where, issues)
        limit = item.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            issues.add(f"{where}.limit", "must be an integer >= 0 (measurements to keep)")
            continue
        if name is None:
            continue
        if any(rule.metric_name == name for rule in rules):
            issues.add(f"{where}.metricName", f"two measurementRetention rules for {name!r}")
        rules.append(RetentionRule(metric_name=name, limit=limit))
    return tuple(rules)


def _check_rules_match(
    dry_run: Sequence[DryRunRule],
    retention: Sequence[RetentionRule],
    metrics: Sequence[MetricTemplate],
    path: str,
    issues: Issues,
) -> None:
    """Argo refuses a rule that matches no metric: it is almost always a typo in the metric name."""
    names = [metric.name for metric in metrics]
    for index, dry in enumerate(dry_run):
        if names and not any(dry.matches(name) for name in names):
            issues.add(f"{path}.dryRun[{index}].metricName", f"{dry.metric_name!r} matches no metric")
    for index, keep in enumerate(retention):
        if names and not any(keep.matches(name) for name in names):
            issues.add(f"{path}.measurementRetention[{index}].metricName", f"{keep.metric_name!r} matches no metric")


def _merge_arg(merged: list[Argument], arg: Argument, path: str, issues: Issues) -> None:
    for index, existing in enumerate(merged):
        if existing.name != arg.name:
            continue
        if existing.value is not None and arg.value is not None and existing.value != arg.value:
            issues.add(path, f"arg {arg.name!r} is given different values by two templates")
        if not existing.is_resolved:
            merged[index] = arg
        return
    merged.append(arg)

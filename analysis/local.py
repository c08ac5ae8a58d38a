"""``rollouts analysis run FILE``: run an AnalysisTemplate on this machine, no cluster, measurements printed live.

What works locally: prometheus metrics (``--prometheus URL`` replaces every ``address``, for a port-forward or a
local Prometheus) and web metrics. What cannot: ``job`` and ``workflow`` metrics need the cluster controller, and
``valueFrom.secretKeyRef`` args cannot be read without a cluster -- pass their values with ``--arg name=value``;
they are still treated as secrets (used in the request, shown as ``*****`` everywhere else).

Both ``rollouts.dev/v1alpha1`` and Argo's ``argoproj.io/v1alpha1`` templates are accepted here, so a template can
be tried before it is migrated. Several template documents in one file are merged, as a Rollout step listing
several templates merges them.

Exit codes: 0 Successful, 1 Failed, 2 Inconclusive, 3 Error, 4 invalid input (printed with field paths).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analysis.args import Argument
from analysis.assess import AnalysisPhase, MetricResult
from analysis.errors import AnalysisError, SecretResolutionError, SpecError
from analysis.providers import ProviderRegistry, default_providers
from analysis.spec import (
    TEMPLATE_KINDS,
    AnalysisRunSpec,
    AnalysisTemplateSpec,
    Metric,
    ProviderKind,
    build_run_spec,
    merge_templates,
    parse_template_manifest,
    resolve_metrics,
)
from workflows.errors import FieldIssue

if TYPE_CHECKING:
    from analysis.runner import AnalysisOutcome

__all__ = [
    "EXIT_CODES",
    "EXIT_INVALID",
    "LocalSecrets",
    "LocalSetup",
    "load_template_file",
    "prepare_local_run",
    "run_analysis_file",
]

EXIT_CODES = {
    AnalysisPhase.SUCCESSFUL: 0,
    AnalysisPhase.FAILED: 1,
    AnalysisPhase.INCONCLUSIVE: 2,
    AnalysisPhase.ERROR: 3,
}
EXIT_INVALID = 4
_STYLE = {
    AnalysisPhase.SUCCESSFUL: "green",
    AnalysisPhase.FAILED: "red",
    AnalysisPhase.ERROR: "red",
    AnalysisPhase.INCONCLUSIVE: "yellow",
    AnalysisPhase.RUNNING: "cyan",
    AnalysisPhase.PENDING: "dim",
}
_CLUSTER_ONLY = {
    ProviderKind.JOB: "job metrics run a Kubernetes Job and need a cluster (rollouts controller)",
    ProviderKind.WORKFLOW: "workflow metrics run a WorkflowTemplate and need a cluster (rollouts controller)",
}


class LocalSecrets:
    """Secret args supplied on the command line, looked up by the Secret name and key the template names."""

    def __init__(self, values: Mapping[tuple[str, str], str]) -> None:
        self._values = dict(values)

    def resolve_secret(self, namespace: str, name: str, key: str) -> str:
        try:
            return self._values[(name, key)]
        except KeyError:
            raise SecretResolutionError(arg="?", secret=name, key=key, reason="not passed with --arg") from None


def load_template_file(path: str | Path) -> AnalysisTemplateSpec:
    """Parse (and merge) every AnalysisTemplate/ClusterAnalysisTemplate document in ``path``.

    Raises :class:`SpecError` (with field paths, prefixed by the document index when there are several),
    ``OSError`` or ``yaml.YAMLError``.
    """
    documents = [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc is not None]
    templates: list[AnalysisTemplateSpec] = []
    issues: list[FieldIssue] = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or document.get("kind") not in TEMPLATE_KINDS:
            continue
        try:
            templates.append(parse_template_manifest(document))
        except SpecError as error:
            prefix = f"documents[{index}]." if len(documents) > 1 else ""
            issues.extend(FieldIssue(prefix + issue.path, issue.message) for issue in error.issues)
    if issues:
        raise SpecError(issues)
    if not templates:
        raise SpecError.at("kind", f"{path} holds no AnalysisTemplate or ClusterAnalysisTemplate")
    return templates[0] if len(templates) == 1 else merge_templates(templates)


class LocalSetup:
    """Everything a local run (or a backtest) needs, validated: the run spec, typed metrics, secrets."""

    def __init__(self, run: AnalysisRunSpec, metrics: tuple[Metric, ...], secrets: LocalSecrets) -> None:
        self.run = run
        self.metrics = metrics
        self.secrets = secrets


def prepare_local_run(
    template: AnalysisTemplateSpec,
    *,
    args: Mapping[str, str],
    prometheus: str | None,
    allow_cluster_only: bool = False,
) -> LocalSetup:
    """Bind ``--arg`` values, resolve metrics, apply ``--prometheus`` and refuse what needs a cluster.

    Raises :class:`SpecError` listing every problem (unknown args, secrets not passed, job metrics, no address).
    ``allow_cluster_only`` lets backtests list job/web metrics as skipped instead of refusing them.
    """
    issues: list[FieldIssue] = []
    declared = {arg.name: arg for arg in template.args}
    for name in args:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            issues.append(FieldIssue(f"--arg {name}", f"the template declares no arg {name!r} (declared: {known})"))
    incoming: list[Argument] = []
    secrets: dict[tuple[str, str], str] = {}
    for arg in template.args:
        given = args.get(arg.name)
        if arg.secret_key_ref is not None:
            ref = arg.secret_key_ref
            if given is None:
                issues.append(
                    FieldIssue(
                        f"spec.args.{arg.name}",
                        f"comes from Secret {ref.name!r} key {ref.key!r}, which cannot be read without a cluster: "
                        f"pass its value with --arg {arg.name}=VALUE",
                    )
                )
            else:
                secrets[(ref.name, ref.key)] = given  # stays a secret arg: rendered only into the request
        elif arg.field_ref is not None and given is None:
            issues.append(
                FieldIssue(
                    f"spec.args.{arg.name}",
                    f"comes from the owning Rollout ({arg.field_ref.field_path}); pass it with --arg {arg.name}=VALUE",
                )
            )
        elif given is not None:
            incoming.append(Argument(name=arg.name, value=given))
    if issues:
        raise SpecError(issues)
    run = build_run_spec(template, args=incoming)
    metrics = list(resolve_metrics(run))
    for index, metric in enumerate(metrics):
        kind = metric.provider.kind
        if kind in _CLUSTER_ONLY and not allow_cluster_only:
            issues.append(FieldIssue(f"spec.metrics[{index}].provider.{kind}", _CLUSTER_ONLY[kind]))
        if kind is ProviderKind.PROMETHEUS:
            if prometheus:
                body = {**metric.provider.body, "address": prometheus}
                metrics[index] = replace(metric, provider=replace(metric.provider, body=body))
            elif not metric.provider.body.get("address"):
                issues.append(
                    FieldIssue(f"spec.metrics[{index}].provider.prometheus.address", "is empty: pass --prometheus URL")
                )
    if issues:
        raise SpecError(issues)
    return LocalSetup(run, tuple(metrics), LocalSecrets(secrets))


def report_invalid(console: Console, error: Exception, *, what: str, path: str | Path) -> int:
    """Print why a file could not be used (every field issue on its own line) and return :data:`EXIT_INVALID`."""
    if isinstance(error, SpecError):
        console.print(f"[red]invalid {what}[/red] {escape(str(path))}:")
        for issue in error.issues:
            console.print(f"  {escape(str(issue))}")
    else:
        console.print(f"[red]error:[/red] {escape(str(error))}")
    return EXIT_INVALID


def run_analysis_file(
    path: str | Path,
    *,
    args: Mapping[str, str],
    prometheus: str | None,
    out: IO[str] | None = None,
    providers: ProviderRegistry | None = None,
) -> int:
    """Entry point for ``rollouts analysis run FILE [--arg k=v] [--prometheus URL]``; returns the exit code."""
    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
    try:
        setup = prepare_local_run(load_template_file(path), args=args, prometheus=prometheus)
    except (SpecError, OSError, yaml.YAMLError, AnalysisError) as error:
        return report_invalid(console, error, what="analysis", path=path)
    return asyncio.run(_run(setup, name=Path(path).stem, console=console, providers=providers))


async def _run(setup: LocalSetup, *, name: str, console: Console, providers: ProviderRegistry | None) -> int:
    from analysis.runner import METRIC_KIND, MetricRunner, run_analysis, utc_now
    from analysis.status import decode_metric_results
    from workflows import Executor, ExecutorConfig, RunnerRegistry

    runner = MetricRunner(providers=providers or default_providers(), secrets=setup.secrets)
    executor = Executor(registry=RunnerRegistry({METRIC_KIND: runner}), config=ExecutorConfig(status_interval=0))
    seen: dict[str, int] = {}

    async def report(status: dict[str, Any]) -> None:
        """Print each measurement once, as the status bodies the executor writes show it."""
        for metric, result in decode_metric_results(status, fallback_time=utc_now()).items():
            total = result.count + result.error
            last = result.last
            if seen.get(metric) == total or last is None or last.in_flight:
                continue
            seen[metric] = total
            style = _STYLE.get(last.phase, "white")
            stamp = last.started_at.astimezone().strftime("%H:%M:%S")
            text = (
                f"{stamp} {escape(metric)} #{total} [{style}]{last.phase}[/{style}] value={escape(last.value or '-')}"
            )
            if last.message:
                text += f"  {escape(last.message)}"
            console.print(text)

    console.print(f"analysis [bold]{escape(name)}[/bold]: {len(setup.metrics)} metric(s)")
    try:
        outcome = await run_analysis(executor, setup.run, name=name, metrics=setup.metrics, report=report)
    finally:
        await executor.close()
    console.print(_summary(setup.metrics, outcome))
    style = _STYLE.get(outcome.phase, "white")
    console.print(f"{escape(name)}: [bold {style}]{outcome.phase}[/bold {style}] {escape(outcome.message)}")
    return EXIT_CODES.get(outcome.phase, 3)


def _summary(metrics: Sequence[Metric], outcome: AnalysisOutcome) -> Table:
    """One row per metric; the reasons go below the table, where long messages stay readable."""
    table = Table(show_edge=False)
    for column in ("METRIC", "PHASE", "MEASURED", "OK/FAILED/INCONCL./ERROR", "LAST VALUE"):
        table.add_column(column)
    for metric in metrics:
        result = outcome.results.get(metric.name) or MetricResult(name=metric.name)
        assessed = outcome.assessment.metrics.get(metric.name)
        phase = result.phase if metric.name in outcome.results or assessed is None else assessed.phase
        style = _STYLE.get(phase, "white")
        last = result.last
        table.add_row(
            escape(metric.name),
            f"[{style}]{phase}[/{style}]",
            str(result.count + result.error),
            f"{result.successful}/{result.failed}/{result.inconclusive}/{result.error}",
            escape((last.value if last else None) or "-"),
        )
    return table

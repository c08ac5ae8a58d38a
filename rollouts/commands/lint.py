"""``kubectl rollouts lint -f FILE`` (Argo's form; also ``lint FILE...``, ``-`` for stdin, and ``rollouts lint``):
every problem of manifests, offline, with its field path, before anything applies.

Why it exists. Served through Argo's own ``argoproj.io`` CRDs (drop-in mode), the API server accepts fields this
product does not implement; they would apply cleanly and then be ignored. Lint says so before they are applied, the
way the controller says so after (an ``InvalidSpec`` condition): each document of one of our kinds, under
``rollouts.dev/v1alpha1`` or ``argoproj.io/v1alpha1`` alike, is checked

1. against our CRD's schema (:func:`workflows.model.schema.validate_object`: types, enums, patterns, bounds,
   required fields, undeclared fields, and the CEL rules that refuse unimplemented features by name), then
2. by its kind's own parser -- what the controller reads: ``rollouts.core.spec.parse_rollout``,
   ``analysis.spec.parse_template_manifest`` / ``parse_run_spec``, ``workflows.model.spec.parse_workflow`` and, for a
   Workflow, the compiler's whole-graph checks. Where the schema reported a problem, the parser's complaints about
   the same field, a field inside it or one containing it are left out: they are consequences, and the schema's
   words are the precise ones.

The input itself stands in for the cluster where it can: WorkflowTemplates serve ``templateRef``, and the Deployment
a Rollout's ``spec.workloadRef`` names gives its pod template and selector. A Deployment that is not in the input is
only the cluster's to know: the Rollout is checked with a stand-in template and a note says the real one was not.
Documents of other kinds (Services, Ingresses, ...) are skipped; a kind of our groups that this product does not
serve (``Experiment``, ``CronWorkflow``) is a problem. Nothing is printed when all is well (as Argo's ``lint``).
Reads files and stdin; never talks to a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from workflows.api import API_VERSION, ARGO_API_VERSION
from workflows.errors import FieldIssue, IssuesError, explained_first
from workflows.model.schema import validate_object
from workflows.runtime.crds import openapi_schema

__all__ = ["KINDS", "LintResult", "Problem", "lint_documents", "lint_paths", "load_documents"]

#: Our kinds, each with the parser the controller reads it with.
KINDS = ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Workflow", "WorkflowTemplate")
_GROUPS = {version.split("/", maxsplit=1)[0]: version for version in (API_VERSION, ARGO_API_VERSION)}
# A stand-in pod template for a Rollout that takes it from spec.workloadRef (read from the cluster at run time).
_WORKLOAD_LABELS = {"rollouts.dev/lint": "workload"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of one document: ``FILE#N: Kind/name: path: message`` (N counts the file's documents from 1,
    empty ones included); a problem of the whole file (unreadable, not YAML) is ``FILE: message``."""

    source: str
    document: int | None  # 1-based index in its file; None for a problem of the whole file
    subject: str  # Kind/name, Kind, or "" when there is no kind to speak of
    issue: FieldIssue

    def __str__(self) -> str:
        if self.document is None:
            return f"{self.source}: {self.issue}"
        where = f"{self.source}#{self.document}"
        return f"{where}: {self.subject}: {self.issue}" if self.subject else f"{where}: {self.issue}"


@dataclass
class LintResult:
    """What lint found: ``problems`` (any one makes the exit code 1) and ``notes`` (what only the cluster can tell,
    in the same form)."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Input:
    """What the input provides to the checks of its documents, in place of the cluster."""

    workflow_templates: Mapping[str, Any]  # parsed, by name: a Workflow's templateRef
    deployments: Mapping[str, Mapping[str, Any]]  # by name: a Rollout's workloadRef


class _StringTimes(yaml.SafeLoader):
    """YAML as kubectl reads it: ``2024-01-01`` stays a string (Go's YAML decoder does not make timestamps)."""


_StringTimes.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str) -> list[Any]:
    """The documents of a (multi-document) YAML text, empty ones included as None. Raises ``yaml.YAMLError``."""
    return list(yaml.load_all(text, Loader=_StringTimes))


def _subject(document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata")
    name = ""
    if isinstance(metadata, Mapping):
        name = str(metadata.get("name") or metadata.get("generateName") or "")
    kind = document.get("kind")
    if not isinstance(kind, str) or not kind:
        return ""
    return f"{kind}/{name}" if name else kind


def lint_documents(documents: Iterable[tuple[str, int, Any]]) -> LintResult:
    """Problems (and notes) of ``(source, index, document)`` triples, in document order.

    WorkflowTemplates and Deployments of the whole input are gathered first, so Workflows referring to them
    (``templateRef``) compile and Rollouts referring to them (``workloadRef``) are checked with their template.
    """
    entries: list[tuple[str, int, Any]] = [entry for entry in documents if entry[2] is not None]
    given = _Input(
        workflow_templates=_workflow_templates(_ours(document) for _, _, document in entries),
        deployments=_deployments(document for _, _, document in entries),
    )
    result = LintResult()
    for source, index, document in entries:
        if not isinstance(document, Mapping):
            issue = FieldIssue("", f"a manifest is a mapping, not {type(document).__name__}")
            result.problems.append(Problem(source, index + 1, "", issue))
            continue
        api_version = str(document.get("apiVersion", ""))
        group = api_version.split("/", maxsplit=1)[0]
        if group not in _GROUPS:
            continue
        subject = _subject(document)
        if api_version != _GROUPS[group]:
            message = f"{group} is served as {_GROUPS[group]} only"
            result.problems.append(Problem(source, index + 1, subject, FieldIssue("apiVersion", message)))
        elif document.get("kind") not in KINDS:
            kind = document.get("kind")
            message = f"rollouts.dev does not implement the kind {kind!r} (it serves {', '.join(KINDS)})"
            result.problems.append(Problem(source, index + 1, subject, FieldIssue("kind", message)))
        else:
            ours = {**document, "apiVersion": API_VERSION}
            result.problems.extend(Problem(source, index + 1, subject, issue) for issue in _issues(ours, given))
            note = _unresolved_workload(ours, given)
            if note is not None:
                result.notes.append(Problem(source, index + 1, subject, note))
    return result


def _ours(document: Any) -> Mapping[str, Any]:
    """A document of one of our kinds under either group, as ours; anything else as an empty mapping."""
    if isinstance(document, Mapping) and document.get("apiVersion") in _GROUPS.values():
        return {**document, "apiVersion": API_VERSION}
    return {}


def _issues(document: dict[str, Any], given: _Input) -> tuple[FieldIssue, ...]:
    kind = str(document["kind"])
    found = validate_object(openapi_schema(kind), document).items
    return explained_first(found, _semantic_issues(kind, document, given, schema_clean=not found))


def _semantic_issues(kind: str, document: dict[str, Any], given: _Input, *, schema_clean: bool) -> list[FieldIssue]:
    parse = _PARSERS[kind]
    try:
        parse(document, given)
    except IssuesError as error:
        return list(error.issues)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
        # The parsers read objects the schema admitted; on one it refused they may trip. The schema's issues say
        # what is wrong then; on a schema-clean object a trip is ours to fix, and is reported as such.
        if schema_clean:
            return [FieldIssue("", f"rollouts.dev could not read this object ({type(error).__name__}: {error})")]
    return []


def _workload_ref(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = document.get("spec")
    ref = spec.get("workloadRef") if isinstance(spec, Mapping) else None
    return ref if isinstance(ref, Mapping) else None


def _referenced_deployment(ref: Mapping[str, Any], given: _Input) -> Mapping[str, Any] | None:
    if ref.get("kind", "Deployment") != "Deployment":
        return None
    return given.deployments.get(str(ref.get("name") or ""))


def _unresolved_workload(document: Mapping[str, Any], given: _Input) -> FieldIssue | None:
    """The note for a Rollout whose ``workloadRef`` names a Deployment that is not in the input."""
    ref = _workload_ref(document) if document.get("kind") == "Rollout" else None
    if ref is None or _referenced_deployment(ref, given) is not None:
        return None
    what = f"{ref.get('kind') or 'workload'} {str(ref.get('name') or '')!r}"
    return FieldIssue("spec.workloadRef", f"note: {what} is not in the input; its pod template was not checked")


def _rollout(document: dict[str, Any], given: _Input) -> None:
    from rollouts.core.spec import parse_rollout

    ref = _workload_ref(document)
    if ref is None:
        parse_rollout(document)
        return
    deployment = _referenced_deployment(ref, given)
    if deployment is None:
        # The workload's pod template and selector are read from the cluster at run time; offline, a stand-in
        # that matches lets every other check run (and a note says the real one was not checked).
        template: Mapping[str, Any] = {"metadata": {"labels": dict(_WORKLOAD_LABELS)}}
        selector: Mapping[str, Any] | None = {"matchLabels": dict(_WORKLOAD_LABELS)}
    else:
        spec = deployment.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        found = spec.get("template")
        template = found if isinstance(found, Mapping) else {}
        found = spec.get("selector")
        selector = found if isinstance(found, Mapping) else None
    parse_rollout(document, workload_template=template, workload_selector=selector)


def _analysis_template(document: dict[str, Any], _: _Input) -> None:
    from analysis.spec import parse_template_manifest

    parse_template_manifest(document)


def _analysis_run(document: dict[str, Any], _: _Input) -> None:
    from analysis.spec import parse_run_spec

    spec = document.get("spec")
    parse_run_spec(spec if isinstance(spec, Mapping) else {})


def _workflow(document: dict[str, Any], given: _Input) -> None:
    from workflows.model.compiler import compile_workflow
    from workflows.model.spec import parse_workflow

    spec = parse_workflow(document)
    referenced = {
        task.template_ref.name
        for template in spec.templates.values()
        for task in (template.dag.tasks if template.dag is not None else ())
        if task.template_ref is not None
    }
    # A WorkflowTemplate that is not in the input may well be in the cluster: only the cluster can say.
    templates = given.workflow_templates
    if document.get("kind") == "Workflow" and spec.entrypoint is not None and referenced <= templates.keys():
        compile_workflow(spec, workflow_templates=templates)


_PARSERS: dict[str, Callable[[dict[str, Any], _Input], None]] = {
    "Rollout": _rollout,
    "AnalysisTemplate": _analysis_template,
    "ClusterAnalysisTemplate": _analysis_template,
    "AnalysisRun": _analysis_run,
    "Workflow": _workflow,
    "WorkflowTemplate": _workflow,
}


def _workflow_templates(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The WorkflowTemplates of the input that parse, by name, for Workflows' ``templateRef``."""
    from workflows.model.spec import parse_workflow

    parsed: dict[str, Any] = {}
    for document in documents:
        metadata = document.get("metadata")
        if document.get("kind") != "WorkflowTemplate" or not isinstance(metadata, Mapping):
            continue
        try:
            parsed[str(metadata.get("name"))] = parse_workflow(document)
        except (IssuesError, TypeError, ValueError, KeyError, AttributeError, IndexError):
            continue  # its own problems are reported where it is linted
    return parsed


def _deployments(documents: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    """The Deployments of the input, by name, for Rollouts' ``workloadRef``."""
    found: dict[str, Mapping[str, Any]] = {}
    for document in documents:
        if not isinstance(document, Mapping) or document.get("kind") != "Deployment":
            continue
        metadata = document.get("metadata")
        if document.get("apiVersion") == "apps/v1" and isinstance(metadata, Mapping) and metadata.get("name"):
            found[str(metadata["name"])] = document
    return found


def lint_paths(paths: Sequence[str], *, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Lint the files (``-`` for stdin) as Argo's ``lint`` reports: every problem on ``out`` (then the notes),
    ``Error: <the first>`` on ``err`` and 1; nothing but the notes and 0 when there is no problem."""
    documents: list[tuple[str, int, Any]] = []
    problems: list[Problem] = []
    for name in paths:
        source = "<stdin>" if name == "-" else name
        try:
            text = stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            loaded = load_documents(text)
        except OSError as error:
            problems.append(Problem(source, None, "", FieldIssue("", error.strerror or str(error))))
            continue
        except yaml.YAMLError as error:
            problems.append(Problem(source, None, "", FieldIssue("", f"not YAML: {error}".replace("\n", " "))))
            continue
        documents.extend((source, index, document) for index, document in enumerate(loaded))
    result = lint_documents(documents)
    problems.extend(result.problems)
    for line in (*problems, *result.notes):
        print(line, file=out)
    if problems:
        print(f"Error: {problems[0]}", file=err)
        return 1
    return 0

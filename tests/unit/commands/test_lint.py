"""`kubectl rollouts lint -f FILE` (or FILE..., - for stdin) / `rollouts lint`: every problem of every document,
offline.

Printed as FILE#N: Kind/name: path: message (N: the document's index in its file), `Error: <the first>` on stderr and
exit 1 on any problem, as Argo's lint; nothing when clean.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from rollouts.cli import kubectl_main, main
from tests.support.corpus import CORPUS
from tests.support.crds import CORPUS_REFUSALS
from tests.support.fake_kube import FakeKube, Plugin

ROLLOUT = """\
apiVersion: {group}/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: "nginx:1.27", ports: [{{containerPort: 80}}]}}]
  strategy:
    canary:
      steps: [{{setWeight: 20}}, {{pause: {{duration: 1m}}}}]
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}}\n---\n"


def lint(capsys: pytest.CaptureFixture[str], *args: str, kubectl: bool = True) -> tuple[int, list[str]]:
    code = kubectl_main(["lint", *args]) if kubectl else main(["lint", *args])
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("group", ["rollouts.dev", "argoproj.io"])
def test_a_valid_file_lints_clean_silently_under_either_group(
    tmp_path: Path, api: FakeKube, plugin: Plugin, capsys: pytest.CaptureFixture[str], group: str
) -> None:
    path = write(tmp_path, "web.yaml", SERVICE + ROLLOUT.format(group=group))
    # Argo's form, ours, and the rollouts CLI's: nothing printed; whatever group the plugin talks to, lint reads
    # files, not the cluster.
    assert plugin("lint", "-f", path) == (0, "", "")
    assert plugin("lint", path) == (0, "", "")
    assert plugin("--api-group", "argoproj.io", "lint", "--filename", path) == (0, "", "")
    assert lint(capsys, path, kubectl=False) == (0, [])
    assert api.requests == []
    assert api.connections == []


def test_no_file_is_a_usage_error(plugin: Plugin) -> None:
    with pytest.raises(SystemExit) as exit_:
        plugin("lint")
    assert exit_.value.code == 2


def test_every_problem_is_reported_with_its_path_and_the_first_as_the_error(tmp_path: Path, plugin: Plugin) -> None:
    good = ROLLOUT.format(group="argoproj.io")
    bad = good.replace("name: web", "name: bad").replace(
        "selector: {matchLabels: {app: web}}", "selector: {matchLabels: {app: other}}"
    )
    bad = bad.replace("{pause: {duration: 1m}}", "{teleport: {}}")
    path = write(tmp_path, "two.yaml", good + "---\n" + bad)
    code, out, err = plugin("lint", "-f", path)
    lines = out.splitlines()
    assert code == 1
    # the schema's issues first; the parser's own complaint about the unknown step is a consequence, left out
    assert lines == [
        f"{path}#2: Rollout/bad: spec.strategy.canary.steps[1].teleport: field not declared in the schema",
        (
            f"{path}#2: Rollout/bad: spec.strategy.canary.steps[1]: Invalid value: a canary step needs exactly one of "
            "setWeight, pause, setCanaryScale, analysis, setHeaderRoute or setMirrorRoute"
        ),
        f"{path}#2: Rollout/bad: spec.selector: does not match the template's labels (spec.template.metadata.labels)",
    ]
    assert err == f"Error: {lines[0]}\n"


def test_an_unimplemented_argo_field_is_refused_by_name_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ROLLOUT.format(group="argoproj.io") + "      trafficRouting: {traefik: {weightedTraefikServiceName: web}}\n"
    text += "      canaryService: web-canary\n      stableService: web-stable\n"
    path = write(tmp_path, "web.yaml", text)
    code, lines = lint(capsys, path)
    assert code == 1
    # the parser's own complaint about the routing (no router it knows) is a consequence, not repeated
    assert lines == [
        (
            f"{path}#1: Rollout/web: spec.strategy.canary.trafficRouting.traefik: Forbidden: rollouts.dev does not "
            "support Traefik traffic routing"
        )
    ]


def test_every_problem_of_every_document_in_document_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "all.yaml",
        """\
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: AnalysisTemplate
        metadata: {name: rate}
        spec:
          metrics:
          - name: rate
            interval: 5z
            sucessCondition: result[0] > 1
            provider: {prometheus: {address: "http://prometheus", query: up}}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Experiment
        metadata: {name: e}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: loop-}
        spec:
          entrypoint: main
          templates:
          - name: main
            dag:
              tasks:
              - {name: a, template: echo, depends: b}
              - {name: b, template: echo, depends: a}
          - {name: echo, container: {image: busybox}}
        """,
    )
    code, lines = lint(capsys, path)
    assert code == 1
    assert [line.split(": ", 3)[:3] for line in lines] == [
        [f"{path}#2", "AnalysisTemplate/rate", "spec.metrics[0].interval"],
        [f"{path}#2", "AnalysisTemplate/rate", "spec.metrics[0].sucessCondition"],
        [f"{path}#3", "Experiment/e", "kind"],
        [f"{path}#4", "Workflow/loop-", "spec.templates[0].dag.tasks"],
    ]
    assert lines[1].endswith("field not declared in the schema")
    assert "dependency cycle: a -> b -> a" in lines[3]


def test_the_kinds_own_parser_adds_what_the_schema_cannot_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ROLLOUT.format(group="argoproj.io").replace("labels: {app: web}", "labels: {app: api}")
    code, lines = lint(capsys, write(tmp_path, "web.yaml", text))
    assert code == 1
    assert lines == [
        (
            f"{tmp_path / 'web.yaml'}#1: Rollout/web: spec.selector: does not match the template's labels "
            "(spec.template.metadata.labels)"
        )
    ]


def test_a_path_the_schema_reported_is_not_repeated_by_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ROLLOUT.format(group="rollouts.dev").replace("setWeight: 20", "setWeight: 120")
    code, lines = lint(capsys, write(tmp_path, "web.yaml", text))
    assert code == 1
    # the schema's rule bounds every step's weight by maxTrafficWeight (at steps); the parser's word on the step inside
    # it is a consequence
    assert [line.split(": ", 3)[2] for line in lines] == ["spec.strategy.canary.steps"]


def test_stdin_and_several_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(ROLLOUT.format(group="argoproj.io")))
    path = write(tmp_path, "two.yaml", ROLLOUT.format(group="rollouts.dev") + "---\n" + ROLLOUT.format(group="x.io"))
    assert lint(capsys, "-", "-f", path) == (0, [])  # the x.io Rollout is not ours: skipped, as a Service is
    monkeypatch.setattr("sys.stdin", io.StringIO("kind: Rollout\napiVersion: rollouts.dev/v1alpha1\nspec: {}\n"))
    code, lines = lint(capsys, "-")
    assert code == 1
    assert lines[0].startswith("<stdin>#1: Rollout: metadata.name: Required value")


def test_unreadable_input_is_a_problem_too(tmp_path: Path, plugin: Plugin) -> None:
    broken = write(tmp_path, "broken.yaml", "kind: [Rollout\n")
    missing = str(tmp_path / "missing.yaml")
    code, out, err = plugin("lint", "-f", broken, "--filename", missing)
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith(f"{broken}: not YAML:")
    assert lines[1] == f"{missing}: No such file or directory"
    assert err == f"Error: {lines[0]}\n"


def test_other_versions_of_our_groups_and_non_mappings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, "odd.yaml", "apiVersion: argoproj.io/v1beta1\nkind: Rollout\nmetadata: {name: w}\n---\n- a\n"
    )
    code, lines = lint(capsys, path)
    assert code == 1
    assert lines == [
        f"{path}#1: Rollout/w: apiVersion: argoproj.io is served as argoproj.io/v1alpha1 only",
        f"{path}#2: a manifest is a mapping, not list",
    ]


def test_dates_stay_strings_as_kubectl_reads_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ROLLOUT.format(group="argoproj.io").replace(
        "  replicas: 3\n", "  replicas: 3\n  restartAt: 2024-01-01T00:00:00Z\n"
    )
    assert lint(capsys, write(tmp_path, "web.yaml", text))[0] == 0


WORKLOAD_REF_ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy: {canary: {steps: [{setWeight: 50}]}}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
"""


def test_a_workload_ref_is_resolved_in_the_input_or_said_unchecked(tmp_path: Path, plugin: Plugin) -> None:
    alone = write(tmp_path, "ref.yaml", WORKLOAD_REF_ROLLOUT)
    note = f"{alone}#1: Rollout/web: spec.workloadRef: note: Deployment 'web' is not in the input; its pod template"
    assert plugin("lint", "-f", alone) == (0, f"{note} was not checked\n", "")
    matching = write(tmp_path, "deployment.yaml", DEPLOYMENT % "web")
    assert plugin("lint", alone, matching) == (0, "", "")  # the Deployment may come from another file
    code, out, _ = plugin(
        "lint", "-f", write(tmp_path, "both.yaml", WORKLOAD_REF_ROLLOUT + "---\n" + DEPLOYMENT % "api")
    )
    assert code == 1
    assert [line.split(": ", 3)[2] for line in out.splitlines()] == ["spec.selector"]


def test_workflow_template_refs_compile_against_the_input_and_missing_ones_are_the_clusters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = """\
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: shared}
        spec:
          templates:
          - name: hello
            inputs: {parameters: [{name: who}]}
            container: {image: busybox}
        """
    workflow = """\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: use-}
        spec:
          entrypoint: main
          templates:
          - name: main
            dag:
              tasks:
              - name: a
                templateRef: {name: %s, template: hello}
        """
    both = write(tmp_path, "both.yaml", textwrap.dedent(template) + "---\n" + textwrap.dedent(workflow % "shared"))
    code, lines = lint(capsys, both)
    assert code == 1  # the referenced template needs its parameter: found because the template was in the input
    assert lines[0].startswith(f"{both}#2: Workflow/use-: spec.templates[0].dag.tasks[0]")
    alone = write(tmp_path, "alone.yaml", workflow % "elsewhere")
    assert lint(capsys, alone) == (0, [])


def test_an_analysis_run_needs_every_arg_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "run.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: AnalysisRun
        metadata: {name: run}
        spec:
          args: [{name: service}]
          metrics:
          - name: up
            provider: {prometheus: {address: "http://prometheus", query: up}}
        """,
    )
    code, lines = lint(capsys, path)
    assert code == 1
    assert lines == [f"{path}#1: AnalysisRun/run: spec.args[0]: arg 'service' has no value: set value or valueFrom"]


CORPUS_FILES = sorted(CORPUS.rglob("*.yaml"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.relative_to(CORPUS).as_posix() for p in CORPUS_FILES])
def test_the_argo_corpus_as_written_passes_unless_it_uses_what_we_do_not_implement(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    relative = path.relative_to(CORPUS).as_posix()
    refused = {p for case_id, paths in CORPUS_REFUSALS.items() if case_id.startswith(f"{relative}#") for p in paths}
    code, lines = lint(capsys, str(path))
    assert code == (1 if refused else 0), lines
    assert {line.split(": ", 3)[2] for line in lines if code} == refused


def test_the_document_index_counts_empty_documents_as_kubectl_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "---\n# nothing here\n---\n" + ROLLOUT.format(group="argoproj.io").replace("setWeight: 20", "setWeight: x")
    path = write(tmp_path, "gap.yaml", text)
    code, lines = lint(capsys, path)
    assert code == 1
    assert lines[0].split(": ", 3)[:3] == [f"{path}#2", "Rollout/web", "spec.strategy.canary.steps[0].setWeight"]

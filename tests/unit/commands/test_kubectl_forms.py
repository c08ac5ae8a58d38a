"""Every command form of Argo's ``kubectl argo rollouts`` that CI scripts use parses verbatim, with the global flags in
any position and pflag's ``--flag=false`` booleans; our older short forms keep working."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollouts.cli import _argo_argv, _kubectl_parser


def parse(*argv: str) -> dict[str, Any]:
    parser = _kubectl_parser()
    parsed = vars(parser.parse_args(_argo_argv(parser, argv)))
    parsed.pop("handler")
    return parsed


FORMS: list[tuple[list[str], dict[str, Any]]] = [
    # get: Argo's kind-first forms and our older `get NAME`
    (["get", "rollout", "web"], {"command": "get", "kind": "rollout", "name": "web", "watch": False}),
    (["get", "rollout", "web", "-w"], {"kind": "rollout", "name": "web", "watch": True}),
    (["get", "ro", "web", "--watch"], {"kind": "ro", "name": "web", "watch": True}),
    (["get", "rollouts", "web"], {"kind": "rollouts", "name": "web"}),
    (["get", "web"], {"kind": "rollout", "name": "web"}),
    (["get", "web", "-w"], {"kind": "rollout", "name": "web", "watch": True}),
    (["get", "rollout", "web", "--no-color", "--timeout-seconds", "30"], {"no_color": True, "timeout_seconds": 30}),
    (["get", "experiment", "exp1"], {"kind": "experiment", "name": "exp1"}),
    # list
    (["list", "rollouts"], {"command": "list", "kind": "rollouts", "all_namespaces": False, "only_name": None}),
    (["list", "ro", "-A"], {"kind": "ro", "all_namespaces": True}),
    (["list", "rollout", "--all-namespaces", "--name", "web"], {"all_namespaces": True, "only_name": "web"}),
    (["list", "rollouts", "-n", "other"], {"namespace": "other", "all_namespaces": False}),
    (["list", "experiments"], {"kind": "experiments"}),
    # status: watching by default, Go durations
    (["status", "web"], {"command": "status", "name": "web", "watch": True, "timeout": None}),
    (["status", "web", "--watch=false"], {"watch": False}),
    (["status", "web", "-w=false"], {"watch": False}),
    (["status", "web", "--no-watch"], {"watch": False}),
    (["status", "web", "--watch"], {"watch": True}),
    (["status", "--timeout", "60s", "web"], {"timeout": timedelta(seconds=60)}),
    (["status", "web", "--timeout=5m"], {"timeout": timedelta(minutes=5)}),
    (["status", "web", "-t", "1h30m"], {"timeout": timedelta(hours=1, minutes=30)}),
    (["status", "web", "--timeout", "90"], {"timeout": timedelta(seconds=90)}),
    # retry
    (["retry", "rollout", "web"], {"command": "retry", "kind": "rollout", "names": ["web"]}),
    (["retry", "ro", "a", "b"], {"kind": "ro", "names": ["a", "b"]}),
    (["retry", "web"], {"kind": "rollout", "names": ["web"]}),
    (["retry", "experiment", "e"], {"kind": "experiment", "names": ["e"]}),
    # restart
    (["restart", "web"], {"command": "restart", "name": "web", "delay": timedelta(0)}),
    (["restart", "web", "--in", "10s"], {"delay": timedelta(seconds=10)}),
    (["restart", "web", "-i", "1m30s"], {"delay": timedelta(seconds=90)}),
    # promote, abort, pause, resume, undo, set image
    (["promote", "web"], {"command": "promote", "name": "web", "full": False}),
    (["promote", "web", "--full"], {"full": True}),
    (["abort", "web"], {"command": "abort", "names": ["web"]}),
    (["abort", "a", "b"], {"names": ["a", "b"]}),
    (["pause", "web"], {"command": "pause", "names": ["web"]}),
    (["resume", "web"], {"command": "resume", "names": ["web"]}),
    (["undo", "web"], {"command": "undo", "name": "web", "to_revision": 0}),
    (["undo", "web", "--to-revision", "3"], {"to_revision": 3}),
    (["undo", "web", "--to-revision=3"], {"to_revision": 3}),
    (["set", "image", "web", "app=demo:2"], {"command": "set", "name": "web", "assignment": "app=demo:2"}),
    (["set", "image", "web", "*=demo:2"], {"assignment": "*=demo:2"}),
    # create / terminate analysisrun
    (
        ["create", "analysisrun", "--from", "rate", "-a", "service=web", "--argument", "q=a=b", "--name", "r1"],
        {"kind": "analysisrun", "from_template": "rate", "argument": ["service=web", "q=a=b"], "run_name": "r1"},
    ),
    (
        ["create", "ar", "--global", "--from", "rate", "--generate-name", "manual-"],
        {"kind": "ar", "cluster_template": True, "generate_name": "manual-", "run_name": None},
    ),
    (["create", "analysisrun", "--from-file", "t.yaml"], {"from_template": None, "from_file": "t.yaml"}),
    (["create", "analysisrun", "--from", "t", "--instance-id", "ci"], {"instance_id": "ci"}),
    (["terminate", "analysisrun", "r1"], {"command": "terminate", "kind": "analysisrun", "names": ["r1"]}),
    (["terminate", "ar", "r1", "r2"], {"kind": "ar", "names": ["r1", "r2"]}),
    # version, completion
    (["version"], {"command": "version", "short": False}),
    (["version", "--short"], {"short": True}),
    (["completion", "bash"], {"command": "completion", "shell": "bash"}),
    (["completion", "zsh"], {"shell": "zsh"}),
    (["completion", "fish"], {"shell": "fish"}),
    # lint
    (["lint", "-f", "r.yaml"], {"command": "lint", "filename": ["r.yaml"], "files": []}),
    (["lint", "--filename=r.yaml", "-f", "s.yaml"], {"filename": ["r.yaml", "s.yaml"]}),
    (["lint", "r.yaml", "-"], {"filename": [], "files": ["r.yaml", "-"]}),
]


@pytest.mark.parametrize(("argv", "expected"), FORMS, ids=[" ".join(argv) for argv, _ in FORMS])
def test_each_form_parses(argv: list[str], expected: dict[str, Any]) -> None:
    parsed = parse(*argv)
    if expected.get("from_file") is not None:
        parsed["from_file"] = str(parsed["from_file"])
    assert {key: parsed[key] for key in expected} == expected


GLOBALS = ["-n", "shop", "--kubeconfig", "/tmp/kc", "--context", "ci", "--api-group", "argoproj.io"]
EXPECTED_GLOBALS = {"namespace": "shop", "kubeconfig": "/tmp/kc", "context": "ci", "api_group": "argoproj.io"}


@pytest.mark.parametrize(
    "argv",
    [
        [*GLOBALS, "get", "rollout", "web"],
        ["get", *GLOBALS, "rollout", "web"],
        ["get", "rollout", *GLOBALS, "web"],
        ["get", "rollout", "web", *GLOBALS],
        ["get", *GLOBALS, "web"],
        [*GLOBALS, "status", "web", "--watch=false"],
        ["status", "web", *GLOBALS],
        ["list", *GLOBALS, "rollouts"],
        ["list", "rollouts", *GLOBALS],
        ["set", *GLOBALS, "image", "web", "app=x"],
        ["set", "image", "web", "app=x", *GLOBALS],
        ["create", "analysisrun", *GLOBALS, "--from", "t"],
        ["terminate", "analysisrun", "r", *GLOBALS],
        ["retry", *GLOBALS, "web"],
        ["-n=shop", "--kubeconfig=/tmp/kc", "--context=ci", "--api-group=argoproj.io", "promote", "web"],
    ],
    ids=" ".join,
)
def test_global_flags_go_anywhere(argv: list[str]) -> None:
    parsed = parse(*argv)
    assert {key: parsed[key] for key in EXPECTED_GLOBALS} == EXPECTED_GLOBALS


def test_a_namespace_value_is_never_taken_for_a_command() -> None:
    # `get` followed by a flag whose value happens to be a kind word: the value stays the flag's.
    parsed = parse("-n", "rollout", "get", "web")
    assert (parsed["namespace"], parsed["kind"], parsed["name"]) == ("rollout", "rollout", "web")
    parsed = parse("get", "--context", "ro", "web")
    assert (parsed["context"], parsed["kind"], parsed["name"]) == ("ro", "rollout", "web")


def test_a_boolean_value_on_a_valued_flag_is_left_alone() -> None:
    # `--name=true` names a Rollout "true"; only boolean flags take pflag's `=true`/`=false`.
    assert parse("list", "rollouts", "--name=true")["only_name"] == "true"
    assert parse("undo", "web", "--to-revision=1")["to_revision"] == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "web", "--timeout", "5 m"],
        ["status", "web", "--timeout", "1d"],
        ["restart", "web", "--in", "soon"],
        ["status", "web", "--api-group", "example.com"],
        ["list"],
        ["get"],
        ["completion", "powershell"],
        ["status", "web", "--time", "5m"],  # no abbreviations, as pflag
    ],
    ids=" ".join,
)
def test_malformed_forms_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_a_bad_duration_says_what_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("status", "web", "--timeout", "1d")
    assert "30s, 5m, 1h" in capsys.readouterr().err

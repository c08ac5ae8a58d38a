"""`kubectl rollouts version` and `completion bash|zsh|fish` (the scripts are generated from the parser, so every
command and flag of the plugin is offered; the bash one is run in bash)."""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version

import pytest

from rollouts.cli import _kubectl_parser
from rollouts.commands.completion import completion_script
from tests.support.fake_kube import FakeKube, Plugin

COMMANDS = "get list status abort pause resume promote undo restart retry set create terminate lint version completion"


def test_version(api: FakeKube, plugin: Plugin) -> None:
    code, out, _ = plugin("version")
    assert code == 0
    assert out.splitlines()[0] == f"kubectl-rollouts: v{version('rollouts')}"
    assert "API groups: rollouts.dev/v1alpha1, argoproj.io/v1alpha1" in out
    assert plugin("version", "--short") == (0, f"kubectl-rollouts: v{version('rollouts')}\n", "")
    assert api.requests == []  # no cluster needed


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_offers_every_command_alias_and_flag(plugin: Plugin, shell: str) -> None:
    code, script, _ = plugin("completion", shell)
    assert code == 0
    assert script == completion_script(_kubectl_parser(), shell, command="kubectl-rollouts")
    commands = COMMANDS
    assert f'"") echo "{commands}" ;;' in script
    assert '"get") echo "rollout ro rollouts experiment exp experiments" ;;' in script
    assert '"--api-group") echo "rollouts.dev argoproj.io" ;;' in script
    assert '"completion") echo "bash zsh fish" ;;' in script
    options = script[script.index("__kubectl_rollouts_options()") :]
    status_flags = "-h --help -n --namespace --kubeconfig --context --api-group -w --watch --no-watch -t --timeout"
    assert f'"status") echo "{status_flags}" ;;' in options


def test_each_shell_registers_its_function() -> None:
    parser = _kubectl_parser()
    assert (
        completion_script(parser, "bash", command="kubectl-rollouts")
        .rstrip()
        .endswith("complete -F _kubectl_rollouts kubectl-rollouts")
    )
    zsh = completion_script(parser, "zsh", command="kubectl-rollouts")
    assert zsh.startswith("#compdef kubectl-rollouts\n")
    assert zsh.rstrip().endswith("compdef _kubectl_rollouts kubectl-rollouts")
    fish = completion_script(parser, "fish", command="kubectl-rollouts")
    assert fish.rstrip().endswith("complete -c kubectl-rollouts -f -a '(__kubectl_rollouts_candidates)'")
    with pytest.raises(ValueError, match="unsupported shell 'tcsh'"):
        completion_script(parser, "tcsh", command="kubectl-rollouts")


def test_fish_tables_are_the_same_as_bashs(plugin: Plugin) -> None:
    code, script, _ = plugin("completion", "fish")
    assert code == 0
    commands = COMMANDS
    assert f"        case ''\n            printf '%s\\n' {commands}\n" in script
    assert "        case 'get'\n            printf '%s\\n' rollout ro rollouts experiment exp experiments\n" in script
    assert "        case '--api-group'\n            printf '%s\\n' rollouts.dev argoproj.io\n" in script
    assert "        case 'completion'\n            printf '%s\\n' bash zsh fish\n" in script
    assert "if contains -- $previous --filename --from-file --kubeconfig -f" in script


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["g"], ["get"]),
        (["get", "ro"], ["rollout", "ro", "rollouts"]),
        (["-n", "shop", "get", "ro"], ["rollout", "ro", "rollouts"]),  # a flag's value is not a command
        (["--api-group", ""], ["rollouts.dev", "argoproj.io"]),
        (["status", "web", "--ti"], ["--timeout"]),
        (["create", "analysisrun", "--gl"], ["--global"]),
        (["completion", ""], ["bash", "zsh", "fish"]),
    ],
)
def test_the_bash_script_completes_in_bash(words: list[str], expected: list[str]) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    script = completion_script(_kubectl_parser(), "bash", command="kubectl-rollouts")
    typed = " ".join(f"'{word}'" for word in ["kubectl-rollouts", *words])
    call = f'COMP_WORDS=({typed}); COMP_CWORD={len(words)}; _kubectl_rollouts; printf "%s\\n" "${{COMPREPLY[@]}}"'
    probe = f"{script}\n{call}"
    result = subprocess.run([bash, "--norc", "--noprofile"], input=probe, capture_output=True, text=True, check=True)
    assert result.stdout.split() == expected

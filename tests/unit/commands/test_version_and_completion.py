"""`kubectl rollouts version` and `completion bash|zsh` (the scripts are generated from the parser, so every command
and flag of the plugin is offered; the integration tier runs the bash one in bash)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from rollouts.cli import _kubectl_parser
from rollouts.commands.completion import completion_script
from tests.support.fake_kube import FakeKube, Plugin


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
    commands = "get list status abort pause resume promote undo restart retry set create terminate version completion"
    assert f'"") echo "{commands}" ;;' in script
    assert '"get") echo "rollout ro rollouts experiment exp experiments" ;;' in script
    assert '"--api-group") echo "rollouts.dev argoproj.io" ;;' in script
    assert '"completion") echo "bash zsh" ;;' in script
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
    with pytest.raises(ValueError, match="unsupported shell 'fish'"):
        completion_script(parser, "fish", command="kubectl-rollouts")

"""``kubectl rollouts completion bash|zsh|fish``: shell completion generated from the argparse parser itself.

The parser is the one description of the command line, so the script is derived from it and can never offer a
command that does not exist: a walk over the parser tree gives, for each command path (``get rollout``), its
subcommands (aliases included), its flags, the flags that take a value, and the values a flag or positional is
limited to (``--api-group``, the shells). Those tables become small ``case`` functions written in the common subset
of bash and zsh (``switch`` functions in fish's own syntax); a short wrapper per shell reads the words typed so far,
finds the command path (skipping flags and their values, so ``-n shop get ro<TAB>`` works) and offers what fits.
``--kubeconfig``, ``--from-file`` and ``-f`` complete file names. Pure: text in, text out.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["SHELLS", "completion_script"]

SHELLS = ("bash", "zsh", "fish")
_FILE_FLAGS = frozenset({"--kubeconfig", "--from-file", "-f", "--filename"})


@dataclass
class _Node:
    """What completion needs to know about one command path."""

    commands: list[str] = field(default_factory=list)  # subcommands and aliases, or a positional's choices
    options: list[str] = field(default_factory=list)
    valued: list[str] = field(default_factory=list)  # flags that take a value (the next word is not a command)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    sub = _subparsers(parser)
    if sub is not None:
        for name, child in sub.choices.items():
            yield from _walk(child, (*path, name))


def _tables(parser: argparse.ArgumentParser) -> tuple[dict[str, _Node], dict[str, list[str]]]:
    nodes: dict[str, _Node] = {}
    values: dict[str, list[str]] = {}
    for path, current in _walk(parser):
        node = _Node()
        sub = _subparsers(current)
        if sub is not None:
            node.commands.extend(sub.choices)
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.option_strings:
                if action.choices is not None and not node.commands:
                    node.commands.extend(str(choice) for choice in action.choices)
                continue
            node.options.extend(action.option_strings)
            if action.nargs != 0:
                node.valued.extend(action.option_strings)
                if action.choices is not None:
                    for option in action.option_strings:
                        values[option] = [str(choice) for choice in action.choices]
        nodes[" ".join(path)] = node
    return nodes, values


def _function_name(command: str) -> str:
    return "_" + re.sub(r"[^A-Za-z0-9]", "_", command)


def _case(function: str, table: dict[str, list[str]]) -> str:
    lines = [f"{function}() {{", '    case "$1" in']
    lines += [f'        "{key}") echo "{" ".join(words)}" ;;' for key, words in table.items() if words]
    lines += ["    esac", "}"]
    return "\n".join(lines)


def _core(parser: argparse.ArgumentParser, prefix: str) -> str:
    """The shell-neutral part: the tables and the path finder."""
    nodes, values = _tables(parser)
    return "\n\n".join(
        (
            _case(f"{prefix}_commands", {key: node.commands for key, node in nodes.items()}),
            _case(f"{prefix}_options", {key: node.options for key, node in nodes.items()}),
            _case(f"{prefix}_valued", {key: node.valued for key, node in nodes.items()}),
            _case(f"{prefix}_values", values),
            f"""# The command path of the words given (flags and their values skipped), e.g. "get rollout".
{prefix}_path() {{
    local _kr_path="" _kr_skip=0 _kr_word
    for _kr_word in "$@"; do
        if [ "$_kr_skip" = 1 ]; then _kr_skip=0; continue; fi
        case "$_kr_word" in
            -*=*) ;;
            -*) case " $({prefix}_valued "$_kr_path") " in *" $_kr_word "*) _kr_skip=1 ;; esac ;;
            *)
                case " $({prefix}_commands "$_kr_path") " in
                    *" $_kr_word "*) [ -n "$({prefix}_options "${{_kr_path:+$_kr_path }}$_kr_word")" ] \\
                        && _kr_path="${{_kr_path:+$_kr_path }}$_kr_word" ;;
                esac ;;
        esac
    done
    echo "$_kr_path"
}}

# What fits after the words given, for the word being typed ($1): a flag's values, flags, or commands.
{prefix}_candidates() {{
    local _kr_current="$1" _kr_previous="$2"; shift 2
    local _kr_path; _kr_path="$({prefix}_path "$@")"
    case " $({prefix}_valued "$_kr_path") " in
        *" $_kr_previous "*) {prefix}_values "$_kr_previous"; return ;;
    esac
    case "$_kr_current" in
        -*) {prefix}_options "$_kr_path" ;;
        *) {prefix}_commands "$_kr_path" ;;
    esac
}}""",
        )
    )


def _fish_switch(function: str, table: dict[str, list[str]]) -> str:
    lines = [f"function {function}", "    switch $argv[1]"]
    for key, words in table.items():
        if words:
            lines += [f"        case '{key}'", f"            printf '%s\\n' {' '.join(words)}"]
    lines += ["    end", "end"]
    return "\n".join(lines)


def _fish(parser: argparse.ArgumentParser, prefix: str, command: str, header: str) -> str:
    nodes, values = _tables(parser)
    tables = "\n\n".join(
        (
            _fish_switch(f"{prefix}_commands", {key: node.commands for key, node in nodes.items()}),
            _fish_switch(f"{prefix}_options", {key: node.options for key, node in nodes.items()}),
            _fish_switch(f"{prefix}_valued", {key: node.valued for key, node in nodes.items()}),
            _fish_switch(f"{prefix}_values", values),
        )
    )
    files = " ".join(sorted(_FILE_FLAGS))
    return f"""{header}
# Load it with: {command} completion fish | source

{tables}

# The command path of the words given (flags and their values skipped), e.g. "get rollout".
function {prefix}_path
    set -l path ''
    set -l skip 0
    for word in $argv
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case '-*=*'
            case '-*'
                if contains -- $word ({prefix}_valued "$path")
                    set skip 1
                end
            case '*'
                if contains -- $word ({prefix}_commands "$path")
                    set -l next (string trim -- "$path $word")
                    set -l options ({prefix}_options "$next")
                    if test (count $options) -gt 0
                        set path $next
                    end
                end
        end
    end
    echo $path
end

# What fits the word being typed: a file, a flag's values, flags, or commands.
function {prefix}_candidates
    set -l words (commandline -opc)
    set -e words[1]
    set -l current (commandline -ct)
    set -l previous ''
    if test (count $words) -gt 0
        set previous $words[-1]
    end
    if contains -- $previous {files}
        __fish_complete_path $current
        return
    end
    set -l path ({prefix}_path $words)
    if contains -- $previous ({prefix}_valued "$path")
        {prefix}_values $previous
        return
    end
    switch $current
        case '-*'
            {prefix}_options "$path"
        case '*'
            {prefix}_commands "$path"
    end
end

complete -c {command} -f -a '({prefix}_candidates)'
"""


def completion_script(parser: argparse.ArgumentParser, shell: str, *, command: str) -> str:
    """The completion script for ``command`` (the executable's name, e.g. ``kubectl-rollouts``) in ``shell``."""
    prefix = "_" + _function_name(command)
    entry = _function_name(command)
    files = "|".join(sorted(_FILE_FLAGS))
    header = f"# {shell} completion for {command}, generated from its parser by `{command} completion {shell}`."
    if shell == "bash":
        return f"""{header}
# Load it with: source <({command} completion bash)

{_core(parser, prefix)}

{entry}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    case "$prev" in
        {files}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    COMPREPLY=($(compgen -W "$({prefix}_candidates "$cur" "$prev" "${{COMP_WORDS[@]:1:COMP_CWORD-1}}")" -- "$cur"))
}}
complete -F {entry} {command}
"""
    if shell == "zsh":
        return f"""#compdef {command}
{header}
# Load it with: source <({command} completion zsh)   (after compinit)

{_core(parser, prefix)}

{entry}() {{
    local cur="${{words[CURRENT]}}" prev="${{words[CURRENT-1]}}"
    case "$prev" in
        {files}) _files; return ;;
    esac
    local candidates; candidates="$({prefix}_candidates "$cur" "$prev" "${{(@)words[2,CURRENT-1]}}")"
    compadd -- ${{=candidates}}
}}
compdef {entry} {command}
"""
    if shell == "fish":
        return _fish(parser, prefix, command, header)
    raise ValueError(f"unsupported shell {shell!r}: expected one of {', '.join(SHELLS)}")

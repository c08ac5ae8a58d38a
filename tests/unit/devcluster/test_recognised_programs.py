"""Command lines the simulated kubelet recognises: how long they run and how they end; everything else unrecognised."""

from __future__ import annotations

import shlex
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.devcluster.podsim.programs import (
    Exits,
    NotFound,
    RunsForever,
    Unrecognised,
    container_program,
    recognise,
    run_script,
)


def exits(seconds: float, code: int) -> Exits:
    return Exits(after=timedelta(seconds=seconds), code=code)


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        (["sleep", "5"], None, exits(5, 0)),
        (["/bin/sleep"], ["5"], exits(5, 0)),
        (["sleep", "1m", "30"], None, exits(90, 0)),
        (["sleep", "0.5"], None, exits(0.5, 0)),
        (["sleep", "infinity"], None, RunsForever()),
        (["sleep"], None, exits(0, 1)),  # sleep: missing operand
        (["sleep", "soon"], None, exits(0, 1)),  # sleep: invalid time interval
        (["true"], None, exits(0, 0)),
        (["false"], None, exits(0, 1)),
        (["echo", "$HOME"], None, exits(0, 0)),
        (["sh", "-c", "sleep 10 && exit 1"], None, exits(10, 1)),
        (["sh", "-c"], ["sleep 10 && exit 1"], exits(10, 1)),
        (["sh"], ["-c", "sleep 2; exit 3"], exits(2, 3)),
        (["/bin/bash", "-ec", "sleep 1\nfalse\nsleep 5"], None, exits(1, 1)),
        (["sh", "-c", "sleep 1; false; sleep 2"], None, exits(3, 0)),
        (["sh", "-c", "exit 0"], None, exits(0, 0)),
        (["sh", "-c", "exit 257"], None, exits(0, 1)),
        (["sh", "-c", "false || exit 4"], None, exits(0, 4)),
        (["sh", "-c", "true || exit 4"], None, exits(0, 0)),
        (["sh", "-c", "! true"], None, exits(0, 1)),
        (["sh", "-c", "set -e; false && true; sleep 1"], None, exits(1, 0)),  # not the last of its list
        (["sh", "-c", "set -e; ! true; sleep 1"], None, exits(1, 0)),  # negated
        (["sh", "-c", "X=1 sleep 2 # a comment"], None, exits(2, 0)),
        (["sh", "-c", "exec sleep 3; exit 9"], None, exits(3, 0)),
        (["sh", "-c", "sh -c 'sleep 1 && exit 7'"], None, exits(1, 7)),
        (["sh", "-c", "sleep infinity"], None, RunsForever()),
        (["sh", "-c", "/bad-command"], None, exits(0, 127)),  # sh: /bad-command: not found
        (["sh", "-c", "sleep \\\n 2"], None, exits(2, 0)),
    ],
)
def test_recognised_command_lines(command: list[str], args: list[str] | None, expected: object) -> None:
    assert container_program(command, args) == expected


@pytest.mark.parametrize(
    "command",
    [["/bad-command"], ["/usr/bin/does-not-exist", "--flag"], ["nonexistent"], ["exit", "1"], ["cd", "/"]],
)
def test_executables_that_cannot_exist_cannot_start(command: list[str]) -> None:
    assert isinstance(container_program(command, None), NotFound)


@pytest.mark.parametrize(
    ("command", "args", "why"),
    [
        (None, None, "entrypoint"),
        (None, ["sleep", "5"], "entrypoint"),  # args alone go to the image's entrypoint
        (["/app/server"], None, "not a program the simulation knows"),
        (["sh", "-c", "sleep $DELAY"], None, "expansion"),
        (["sh", "-c", "FLIP=$(($RANDOM%2)) && exit $FLIP"], None, "exit"),
        (["sh", "-c", "sleep 1 | cat"], None, "pipes"),
        (["sh", "-c", "sleep 1 > /dev/null"], None, "redirection"),
        (["sh", "-c", "sleep 1 &"], None, "background"),
        (["sh", "-c", "(sleep 1)"], None, "subshells"),
        (["sh", "-c", "if true; then exit 1; fi"], None, "compound"),
        (["sh", "-c", "curl http://x"], None, "curl"),
        (["sh", "/script.sh"], None, "script file"),
        (["sh", "-c", "echo 'unterminated"], None, "unterminated"),
        (["sh", "-c", "sleep 1 &&"], None, "nothing after"),
    ],
)
def test_everything_else_is_unrecognised_with_a_reason(
    command: list[str] | None, args: list[str] | None, why: str
) -> None:
    program = container_program(command, args)
    assert isinstance(program, Unrecognised)
    assert why in program.reason


# A reference model for the and-or lists of sleeps, exits, true and false: what POSIX sh does, written plainly.
_COMMANDS = st.one_of(
    st.integers(0, 30).map(lambda n: f"sleep {n}"),
    st.integers(0, 300).map(lambda n: f"exit {n}"),
    st.sampled_from(["true", "false", ":"]),
)
_SCRIPTS = st.lists(
    st.lists(st.tuples(st.sampled_from(["&&", "||"]), st.booleans(), _COMMANDS), min_size=1, max_size=4),
    min_size=1,
    max_size=4,
)


def _reference(script: list[list[tuple[str, bool, str]]], *, errexit: bool) -> Exits:
    elapsed, status = 0, 0
    for and_or in script:
        for index, (connector, negated, command) in enumerate(and_or):
            if index > 0 and ((connector == "&&" and status != 0) or (connector == "||" and status == 0)):
                continue
            name, _, operand = command.partition(" ")
            if name == "exit":
                return exits(elapsed, int(operand) % 256)
            code = {"sleep": 0, "true": 0, ":": 0, "false": 1}[name]
            elapsed += int(operand) if name == "sleep" else 0
            status = int(code == 0) if negated else code
            if errexit and status != 0 and not negated and index == len(and_or) - 1:
                return exits(elapsed, status)
    return exits(elapsed, status)


def _render(script: list[list[tuple[str, bool, str]]]) -> str:
    return "; ".join(
        " ".join(
            " ".join(([connector] if index else []) + (["!"] if negated else []) + [command])
            for index, (connector, negated, command) in enumerate(and_or)
        )
        for and_or in script
    )


@given(_SCRIPTS, st.booleans())
def test_and_or_lists_of_sleeps_and_exits_end_as_sh_would(
    script: list[list[tuple[str, bool, str]]], errexit: bool
) -> None:
    text = _render(script)
    assert run_script(text, errexit=errexit) == _reference(script, errexit=errexit), text


@given(_SCRIPTS)
def test_a_script_means_the_same_through_sh_c_however_it_is_split(script: list[list[tuple[str, bool, str]]]) -> None:
    text = _render(script)
    expected = run_script(text)
    assert container_program(["sh", "-c", text], None) == expected
    assert container_program(["sh", "-c"], [text]) == expected
    assert container_program(["/bin/sh"], ["-c", text]) == expected
    assert recognise(shlex.split(f"bash -c {shlex.quote(text)}")) == expected

"""What a container's program does, as far as a simulated kubelet can tell from its command line.

A real kubelet runs the program and sees how it ends. The simulated one recognises a small, exactly defined set of
command lines, says how each ends (:class:`Exits` after a time with a code, :class:`RunsForever`, or
:class:`NotFound`: the runtime cannot even start it), and answers :class:`Unrecognised` for everything else, so the
caller keeps its default. It never guesses: one unknown word anywhere in a script makes the whole script
unrecognised.

Recognised command lines (``argv`` is ``command`` followed by ``args``; the executable is the last path segment of
``argv[0]``, so ``/bin/sleep`` is ``sleep``):

- ``sleep OPERAND...``: each operand a non-negative number with an optional ``s``/``m``/``h``/``d`` suffix, summed
  (``sleep 1m 30``); ``infinity``/``inf`` never ends. Ends with 0 after that time; a malformed or missing operand
  ends at once with 1, as coreutils and busybox do.
- ``true`` (0), ``false`` (1), ``echo ...`` and ``printf ...`` (0, at once; their arguments do not matter).
- a shell (``sh``, ``bash``, ``ash``, ``dash``, ``ksh``, ``zsh``) with ``-c SCRIPT``, options among ``-c -e -x -u -v
  -l``, ``-o errexit|nounset|xtrace|verbose|pipefail`` and bash's ``--login --norc --noprofile``: the script subset
  below.
- an executable whose name says it does not exist (:func:`~rollouts.devcluster.podsim.names.command_marker`:
  ``/bad-command``, ``non-existent-tool``), or a shell builtin that is no executable (``exit``, ``cd``, ``export``,
  ...): :class:`NotFound`, because ``exec`` of it fails.

The script subset: lists of simple commands joined by ``;``, newlines, ``&&`` and ``||``, each optionally negated with
``!``, with ``'...'``, ``"..."`` and backslash quoting, ``#`` comments and leading ``NAME=value`` assignments.
Commands: the programs above (nested shells included), ``:``, ``exit [N]`` (N modulo 256), ``exec PROGRAM`` (the
program's outcome ends the script), ``set -e``/``+e``/``-x``/``-u`` (and ``-o`` forms), and any command whose name
says it does not exist, which fails with 127 as ``sh`` reports "not found". ``-e`` (errexit) is honoured with POSIX
rules: a failure ends the script unless it is negated or not the last command of an ``&&``/``||`` list. Time adds up
over the ``sleep`` commands that run. Not simulated, so unrecognised: pipes, redirections, background ``&``,
subshells and groups, ``if``/``for``/``while``/``case``, functions, any other command, and a ``sleep``/``exit``
operand or command name that comes from an expansion (``$X``, ``$(...)``, backquotes, globs) whose value is unknown.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from rollouts.devcluster.podsim.names import command_marker

__all__ = [
    "SHELLS",
    "Exits",
    "NotFound",
    "Program",
    "RunsForever",
    "Unrecognised",
    "container_program",
    "describe_argv",
    "recognise",
    "run_script",
]

SHELLS = frozenset({"sh", "bash", "ash", "dash", "ksh", "zsh"})
# Special (and a few regular) shell builtins that no image ships as an executable: ``exec`` of them fails.
_BUILTINS_ONLY = frozenset(
    {
        ".", ":", "alias", "break", "cd", "continue", "declare", "eval", "exec", "exit", "export", "local",
        "readonly", "return", "set", "shift", "source", "trap", "typeset", "unalias", "unset",
    }
)  # fmt: skip
_QUICK = {"true": 0, "false": 1, "echo": 0, "printf": 0}
_SHELL_LETTERS = frozenset("cexuvl")
_SHELL_O_OPTIONS = frozenset({"errexit", "nounset", "xtrace", "verbose", "pipefail"})
_BASH_LONG_OPTIONS = frozenset({"--login", "--norc", "--noprofile"})
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in", "function",
     "select", "{", "}", "[[", "]]", "time", "coproc"}
)  # fmt: skip
_SLEEP_OPERAND = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", re.ASCII)
_SLEEP_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_EXIT_STATUS = re.compile(r"\d+", re.ASCII)
# Longer than this is "forever" for the simulation (and stays far inside Go's int64 nanoseconds for KWOK's delays).
_FOREVER = timedelta(days=36500)
_MAX_DEPTH = 8
_OPERATORS = ("&&", "||", ";;", "<<", ">>", "<&", ">&", "<>", ">|", "&", "|", ";", "<", ">", "(", ")")


@dataclass(frozen=True, kw_only=True)
class Exits:
    """The program ends by itself ``after`` this long, with exit ``code`` (0-255)."""

    after: timedelta
    code: int


@dataclass(frozen=True, kw_only=True)
class RunsForever:
    """The program never ends by itself (``sleep infinity``)."""


@dataclass(frozen=True, kw_only=True)
class NotFound:
    """The executable does not exist, so the container runtime cannot start the program (``StartError``)."""

    executable: str
    why: str


@dataclass(frozen=True, kw_only=True)
class Unrecognised:
    """Not something the simulation can tell the outcome of; ``reason`` says what it stopped at."""

    reason: str


Program = Exits | RunsForever | NotFound | Unrecognised


def describe_argv(argv: Sequence[str], *, limit: int = 80) -> str:
    """``argv`` as a shell would quote it, shortened to ``limit`` characters for messages."""
    text = shlex.join(argv)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def container_program(command: Sequence[str] | None, args: Sequence[str] | None) -> Program:
    """The program of a container: ``command`` + ``args``. Without ``command`` the image's own entrypoint runs
    (with ``args`` as its arguments), which the simulation cannot know."""
    if not command:
        what = "no command" if not args else "args without a command"
        return Unrecognised(reason=f"{what}: the image's entrypoint runs, which the simulation cannot know")
    return recognise([*command, *(args or ())])


def recognise(argv: Sequence[str], *, _depth: int = 0) -> Program:
    """How the program ``argv`` (an exec, not through a shell) ends; see the module docstring for the rules."""
    if not argv:
        return Unrecognised(reason="empty command")
    if _depth > _MAX_DEPTH:
        return Unrecognised(reason=f"shells nested more than {_MAX_DEPTH} deep")
    executable = argv[0]
    name = executable.rsplit("/", 1)[-1]
    marker = command_marker(executable)
    if marker is not None:
        return NotFound(executable=executable, why=f"its name says it does not exist ({marker!r})")
    if name in SHELLS:
        return _shell(argv, depth=_depth)
    if name == "sleep":
        return _sleep(argv[1:])
    if name in _QUICK:
        return Exits(after=timedelta(0), code=_QUICK[name])
    if "/" not in executable and executable in _BUILTINS_ONLY:
        return NotFound(executable=executable, why="it is a shell builtin, not an executable")
    return Unrecognised(reason=f"{executable!r} is not a program the simulation knows")


def _sleep(operands: Sequence[str]) -> Exits | RunsForever:
    if not operands:
        return Exits(after=timedelta(0), code=1)  # "sleep: missing operand"
    total = Decimal(0)
    for operand in operands:
        if operand.lower() in ("inf", "infinity"):
            return RunsForever()
        match = _SLEEP_OPERAND.fullmatch(operand)
        if match is None:
            return Exits(after=timedelta(0), code=1)  # "sleep: invalid time interval"
        try:
            total += Decimal(match.group(1)) * _SLEEP_UNITS[match.group(2)]
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
            return Exits(after=timedelta(0), code=1)
    if total > Decimal(_FOREVER.total_seconds()):
        return RunsForever()
    return Exits(after=timedelta(microseconds=int(total * 1_000_000)), code=0)


def _shell(argv: Sequence[str], *, depth: int) -> Program:
    errexit = False
    command_string = False
    index = 1
    while index < len(argv):
        option = argv[index]
        if option == "--":
            index += 1
            break
        if option in _BASH_LONG_OPTIONS:
            index += 1
            continue
        if option in ("-o", "+o"):
            if index + 1 >= len(argv) or argv[index + 1] not in _SHELL_O_OPTIONS:
                value = argv[index + 1] if index + 1 < len(argv) else ""
                return Unrecognised(reason=f"shell option {option} {value!r} is not simulated")
            if argv[index + 1] == "errexit":
                errexit = option == "-o"
            index += 2
            continue
        if len(option) > 1 and option[0] in "-+" and option[1:].isalpha():
            letters = set(option[1:])
            if not letters <= _SHELL_LETTERS:
                return Unrecognised(reason=f"shell option {option!r} is not simulated")
            if "c" in letters:
                if option[0] == "+":
                    return Unrecognised(reason="shell option +c is not simulated")
                command_string = True
            if "e" in letters:
                errexit = option[0] == "-"
            index += 1
            continue
        break
    if not command_string:
        return Unrecognised(reason="a shell without -c runs a script file or reads its input")
    if index >= len(argv):
        return Unrecognised(reason="-c without a command string")
    return run_script(argv[index], errexit=errexit, _depth=depth + 1)


# ------------------------------------------------------------------------------------------------------------------
# The script subset


@dataclass(frozen=True)
class _Word:
    text: str
    literal: bool  # False when part of it comes from an expansion whose value is unknown


@dataclass(frozen=True)
class _Operator:
    text: str


class _NotSimulatedError(Exception):
    """The script uses something outside the subset; the message says what."""


def run_script(script: str, *, errexit: bool = False, _depth: int = 0) -> Exits | RunsForever | Unrecognised:
    """How ``sh -c SCRIPT`` ends (``errexit`` for ``sh -e``)."""
    try:
        lists = _parse(_tokens(script))
        return _Interpreter(errexit=errexit, depth=_depth).run(lists)
    except _NotSimulatedError as error:
        return Unrecognised(reason=str(error))


def _tokens(script: str) -> list[_Word | _Operator]:  # noqa: PLR0915 - one scanner, read top to bottom
    tokens: list[_Word | _Operator] = []
    text: list[str] = []
    in_word = False
    literal = True
    position = 0
    end = len(script)

    def finish_word() -> None:
        nonlocal in_word, literal
        if in_word:
            tokens.append(_Word("".join(text), literal))
        text.clear()
        in_word = False
        literal = True

    while position < end:
        char = script[position]
        if char in " \t\r":
            finish_word()
            position += 1
        elif char == "\n":
            finish_word()
            tokens.append(_Operator("\n"))
            position += 1
        elif char == "#" and not in_word:
            newline = script.find("\n", position)
            position = end if newline < 0 else newline
        elif char == "\\":
            if script.startswith("\\\n", position):
                position += 2
                continue
            text.append(script[position + 1 : position + 2] or "\\")
            in_word = True
            position += 2
        elif char == "'":
            closing = script.find("'", position + 1)
            if closing < 0:
                raise _NotSimulatedError("unterminated single quote")
            text.append(script[position + 1 : closing])
            in_word = True
            position = closing + 1
        elif char == '"':
            position += 1
            while True:
                if position >= end:
                    raise _NotSimulatedError("unterminated double quote")
                inner = script[position]
                if inner == '"':
                    position += 1
                    break
                if inner == "\\" and position + 1 < end and script[position + 1] in '$`"\\\n':
                    if script[position + 1] != "\n":
                        text.append(script[position + 1])
                    position += 2
                    continue
                if inner in "$`":
                    literal = False
                text.append(inner)
                position += 1
            in_word = True
        elif char in "$`":
            literal = False
            in_word = True
            position = _skip_expansion(script, position, text)
        elif char in "*?[":
            literal = False  # a glob: its value depends on the file system
            in_word = True
            text.append(char)
            position += 1
        elif char in "&|;<>()":
            finish_word()
            operator = next(op for op in _OPERATORS if script.startswith(op, position))
            tokens.append(_Operator(operator))
            position += len(operator)
        else:
            text.append(char)
            in_word = True
            position += 1
    finish_word()
    return tokens


def _skip_expansion(script: str, position: int, text: list[str]) -> int:
    """Copy one expansion (``$name``, ``${...}``, ``$(...)``, ``$((...))``, backquotes) into ``text``; return where
    it ends. Its value is unknown, so only its extent matters."""
    if script[position] == "`":
        closing = script.find("`", position + 1)
        if closing < 0:
            raise _NotSimulatedError("unterminated backquote")
        text.append(script[position : closing + 1])
        return closing + 1
    following = script[position + 1 : position + 2]
    if following in ("(", "{"):
        opening, closing_char = following, ")" if following == "(" else "}"
        depth = 0
        for index in range(position + 1, len(script)):
            if script[index] == opening:
                depth += 1
            elif script[index] == closing_char:
                depth -= 1
                if depth == 0:
                    text.append(script[position : index + 1])
                    return index + 1
        raise _NotSimulatedError(f"unterminated ${following}")
    match = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])?", re.ASCII).match(script, position)
    assert match is not None  # the pattern matches a lone "$" too
    text.append(match.group(0))
    return match.end()


# A parsed script: and-or lists; each is (connector, negated, words) with connector None, "&&" or "||".
_Command = tuple[str | None, bool, tuple[_Word, ...]]


def _parse(tokens: list[_Word | _Operator]) -> list[list[_Command]]:
    lists: list[list[_Command]] = []
    current: list[_Command] = []
    words: list[_Word] = []
    pending: str | None = None  # the connector of the next command ("&&"/"||"), None at the start of a list

    def finish_command() -> None:
        nonlocal pending
        negated = words[0].text == "!" and words[0].literal
        command = tuple(words[1:] if negated else words)
        if not command:
            raise _NotSimulatedError("syntax error: '!' without a command")
        current.append((pending, negated, command))
        pending = None
        words.clear()

    for token in tokens:
        if isinstance(token, _Word):
            words.append(token)
            continue
        operator = token.text
        if operator in ("&&", "||"):
            if not words:
                raise _NotSimulatedError(f"syntax error: nothing before {operator!r}")
            finish_command()
            pending = operator
        elif operator in (";", "\n"):
            if words:
                finish_command()
            elif pending is not None:
                if operator == "\n":
                    continue  # a newline after && or || continues the list
                raise _NotSimulatedError(f"syntax error: nothing after {pending!r}")
            elif operator == ";" and not current:
                raise _NotSimulatedError("syntax error: nothing before ';'")
            if current:
                lists.append(current)
            current = []
        else:
            what = {"&": "background '&'", "|": "pipes", "(": "subshells", ")": "subshells"}.get(
                operator, f"redirection {operator!r}" if operator[0] in "<>" else repr(operator)
            )
            raise _NotSimulatedError(f"{what} not simulated")
    if words:
        finish_command()
    elif pending is not None:
        raise _NotSimulatedError(f"syntax error: nothing after {pending!r}")
    if current:
        lists.append(current)
    return lists


@dataclass(frozen=True)
class _Step:
    """One command's effect: time spent, exit status, and whether it ends the script (``exit``, ``exec``)."""

    after: timedelta
    code: int
    ends_script: bool = False


class _Interpreter:
    def __init__(self, *, errexit: bool, depth: int) -> None:
        self._errexit = errexit
        self._depth = depth

    def run(self, lists: list[list[_Command]]) -> Exits | RunsForever:
        elapsed = timedelta(0)
        status = 0
        for and_or in lists:
            last = len(and_or) - 1
            for index, (connector, negated, words) in enumerate(and_or):
                if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                    continue
                step = self._command(words, status)
                if isinstance(step, RunsForever):
                    return step
                elapsed += step.after
                if step.ends_script:
                    return Exits(after=elapsed, code=step.code)
                status = (1 if step.code == 0 else 0) if negated else step.code
                # POSIX errexit: not for a negated command, nor for one before the last of an && / || list.
                if self._errexit and status != 0 and not negated and index == last:
                    return Exits(after=elapsed, code=status)
        return Exits(after=elapsed, code=status)

    def _command(self, words: tuple[_Word, ...], status: int) -> _Step | RunsForever:
        while words and _ASSIGNMENT.fullmatch(words[0].text):  # NAME=... even when the value is an expansion
            words = words[1:]
        if not words:
            return _Step(timedelta(0), 0)
        head = words[0]
        if not head.literal:
            raise _NotSimulatedError("a command name that comes from an expansion")
        name = head.text
        if name in _RESERVED:
            raise _NotSimulatedError(f"{name!r} (compound commands) not simulated")
        if name == ":":
            return _Step(timedelta(0), 0)
        if name == "exit":
            return self._exit(words[1:], status)
        if name == "set":
            self._set(words[1:])
            return _Step(timedelta(0), 0)
        if name == "exec":
            if len(words) == 1:
                return _Step(timedelta(0), 0)
            outcome = self._program(words[1:])
            if isinstance(outcome, RunsForever):
                return outcome
            return _Step(outcome.after, outcome.code, ends_script=True)
        return self._program(words)

    def _program(self, words: tuple[_Word, ...]) -> _Step | RunsForever:
        name = words[0].text
        if command_marker(name) is not None:
            return _Step(timedelta(0), 127)  # "sh: /bad-command: not found"
        needs_literal_operands = name.rsplit("/", 1)[-1] not in ("echo", "printf")
        if needs_literal_operands and not all(word.literal for word in words):
            raise _NotSimulatedError(f"{name}: an operand that comes from an expansion")
        outcome = recognise([word.text for word in words], _depth=self._depth)
        if isinstance(outcome, Exits):
            return _Step(outcome.after, outcome.code)
        if isinstance(outcome, RunsForever):
            return outcome
        if isinstance(outcome, NotFound):
            raise _NotSimulatedError(f"the shell builtin {name!r} is not simulated")
        raise _NotSimulatedError(outcome.reason)

    @staticmethod
    def _exit(operands: tuple[_Word, ...], status: int) -> _Step:
        if not operands:
            return _Step(timedelta(0), status, ends_script=True)
        operand = operands[0]
        if len(operands) > 1 or not operand.literal or not _EXIT_STATUS.fullmatch(operand.text):
            raise _NotSimulatedError(f"exit {' '.join(word.text for word in operands)!r} not simulated")
        return _Step(timedelta(0), int(operand.text) % 256, ends_script=True)

    def _set(self, operands: tuple[_Word, ...]) -> None:
        index = 0
        while index < len(operands):
            operand = operands[index]
            text = operand.text
            if not operand.literal:
                raise _NotSimulatedError("set with an operand that comes from an expansion")
            if text in ("-o", "+o") and index + 1 < len(operands) and operands[index + 1].text in _SHELL_O_OPTIONS:
                if operands[index + 1].text == "errexit":
                    self._errexit = text == "-o"
                index += 2
                continue
            if len(text) > 1 and text[0] in "-+" and set(text[1:]) <= set("euxv"):
                if "e" in text:
                    self._errexit = text[0] == "-"
                index += 1
                continue
            raise _NotSimulatedError(f"set {text!r} not simulated")

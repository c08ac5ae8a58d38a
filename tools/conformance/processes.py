"""Child processes that can never outlive the harness: own process group, and killed by the kernel with it.

The same approach as the local cluster (``rollouts.devcluster``): every child starts in a new session (so its whole
process group can be signalled, grandchildren included) and asks the kernel for SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``), so even a harness killed with SIGKILL leaves no controller or e2e binary behind. Children
that start their own children (the e2e binary runs ``kubectl``) keep them in the group, which :func:`stop` signals.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["spawn", "stop"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGKILL it when the parent goes (no orphans)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    stdout: int | IO[bytes] | None,
    stderr: int | IO[bytes] | None = subprocess.STDOUT,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group, tied to this process's life."""
    return subprocess.Popen(  # noqa: S603 -- our own binaries, argument lists, no shell
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 -- only prctl, no locks
    )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> int | None:
    """SIGTERM the process's group, SIGKILL what is left after ``grace`` seconds; reap it; return its exit code."""
    pgid = process.pid  # the leader of its own session and group (start_new_session)
    if process.poll() is None or _group_alive(pgid):
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if process.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(0.05)
        _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    return process.returncode

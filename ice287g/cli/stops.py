"""Clean stops: the one place that decides what SIGINT and SIGTERM do to any command.

Both signals raise :class:`Interrupted` (a ``KeyboardInterrupt``) in the main thread, so every
``finally`` and ``with`` on the way out runs: locks are released, a file being written is
dropped before its rename (``store.files.atomic_write``), worker pools are terminated
(``jobs.pool``). The command then prints one line and exits 130 (SIGINT) or 143 (SIGTERM), as
shells do for a process killed by those signals. During a flow run Prefect swaps in its own
SIGTERM handler; once it has recorded the crash it re-sends the signal to this one.

If the way out takes longer than ``GRACE_SECONDS`` (say, a Prefect API call waiting on a
server that is already gone), or a second signal comes, the command's child processes are
sent SIGTERM and the process exits at once with the same status; the kernel releases its
file locks, and a write not yet renamed into place was never part of the store.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
GRACE_SECONDS = 10.0


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def message(signum: int) -> str:
    name = signal.Signals(signum).name
    return f"interrupted by {name}: stopped (locks released, nothing half-written kept)"


_first: int | None = None  # the signal that started the stop, once one has
_guard: threading.Timer | None = None  # ends the process if the way out takes too long


def _on_signal(signum: int, frame: object) -> None:
    global _first, _guard
    if _first is not None:  # a second signal: stop now
        _exit_now(_first)
    _first = signum
    _guard = threading.Timer(GRACE_SECONDS, _exit_now, (signum,))
    _guard.daemon = True
    _guard.start()
    raise Interrupted(signum)


def _exit_now(signum: int) -> None:
    """Stop without waiting for the way out: children first, then this process."""
    for pid in _children():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    sys.stderr.write(message(signum) + "\n")
    sys.stderr.flush()
    os._exit(EXIT_STATUS[signum])


def _children() -> list[int]:
    """Process ids whose parent is this process (Linux /proc; empty elsewhere)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(me):  # fields: state, ppid, ...
            found.append(int(entry.parent.name))
    return found


@contextmanager
def handled() -> Iterator[None]:
    """Install the handlers for the length of a command (main thread only), restore after."""
    global _first, _guard
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _first, _guard = None, None
    # A signal ignored by whoever started us (`cmd &` in a script ignores SIGINT) stays ignored,
    # as Python itself does for Ctrl-C.
    previous = {
        sig: signal.signal(sig, _on_signal)
        for sig in EXIT_STATUS
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if _guard is not None:  # the way out is done
            _guard.cancel()


def status_of(exc: BaseException) -> int | None:
    """The signal number an exception stands for (ours, a plain Ctrl-C, or Prefect's
    TerminationSignal), or None when it is not an interruption."""
    if isinstance(exc, Interrupted):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    signum = getattr(exc, "signal", None)
    return signum if signum in EXIT_STATUS else None

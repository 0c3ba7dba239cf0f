"""Progress of long steps on a terminal, the one helper for it: a bar on stderr, shown only
when stderr is a terminal (never in a pipe, a log file, cron mail or a test), drawn by click's
progress bar (click is already the command's library: no new dependency).

Long steps wrap their loop in :func:`track`; a line printed while a bar is shown goes through
:func:`echo`, which clears the bar first so the line does not land on top of it. A step
without a count of items (a query, a chart) is wrapped in :func:`timed`: a status line after
half a second, then the time taken when it was more than two seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

T = TypeVar("T")
CLEAR = "\r\x1b[2K"  # back to the line's start, erase it
MIN_ITEMS = 10  # fewer items than this: finished before a bar would help

_shown = 0  # bars currently drawn (nested steps draw only the outer one)


@contextmanager
def bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A bar of ``total`` steps for the length of the block; yields ``advance(n=1)``."""
    global _shown
    if _shown or total < MIN_ITEMS or not _terminal():
        yield lambda n=1: None
        return
    _shown += 1
    try:
        with click.progressbar(length=total, label=label, file=sys.stderr) as drawn:
            yield drawn.update
        _clear()
    finally:
        _shown -= 1


def track(items: Iterable[T], label: str, *, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, advancing a bar labelled ``label`` on a terminal."""
    if total is None:
        items = list(items)
        total = len(items)
    with bar(total, label) as advance:
        for item in items:
            yield item
            advance(1)


def echo(line: str, *, err: bool = False) -> None:
    """Print a line (stdout, or stderr with ``err``), clearing a bar that is shown first."""
    if _shown:
        _clear()
    click.echo(line, err=err)


@contextmanager
def timed(label: str, threshold: float = 2.0, delay: float = 0.5, stream=None) -> Iterator[None]:
    """``with timed("history"): df = build()``: on a terminal's stderr, ``label …`` after
    `delay` seconds, replaced at the end by ``label: 3.2 s`` when it took over `threshold`.
    The work inside must not print (print its result after the block)."""
    stream = stream if stream is not None else sys.stderr
    if _shown or not stream.isatty():
        yield
        return
    start = time.monotonic()
    shown = threading.Event()

    def show() -> None:
        stream.write(f"{label} …")
        stream.flush()
        shown.set()

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        elapsed = time.monotonic() - start
        if shown.is_set():
            stream.write(CLEAR)
        if elapsed > threshold:
            stream.write(f"{label}: {elapsed:.1f} s\n")
        stream.flush()


def _clear() -> None:
    click.echo(CLEAR, nl=False, err=True)


def _terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False

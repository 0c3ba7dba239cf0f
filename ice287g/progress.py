"""Progress of long steps on a terminal, the one helper for it: a bar on stderr, shown only
when stderr is a terminal (never in a pipe, a log file, cron mail or a test), drawn by click's
progress bar (click is already the command's library: no new dependency).

Long steps wrap their loop in :func:`track`; a line printed while a bar is shown goes through
:func:`echo`, which clears the bar first so the line does not land on top of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

T = TypeVar("T")
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


def _clear() -> None:
    click.echo("\r\x1b[2K", nl=False, err=True)


def _terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False

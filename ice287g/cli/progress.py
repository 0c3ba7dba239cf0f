"""Progress and timing for the commands that can take more than two seconds.

Only on a terminal, only on stderr (a pipe or a file sees nothing): after `delay` seconds a
status line says what is running; at the end it is replaced by the time taken, when that was
more than `threshold` seconds. The work inside must not print (print its result after).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

CLEAR = "\r\x1b[2K"


@contextlib.contextmanager
def timed(label: str, threshold: float = 2.0, delay: float = 0.5, stream=None):
    """``with timed("history"): df = build()`` — see the module docstring."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
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

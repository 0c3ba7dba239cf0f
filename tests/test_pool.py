"""jobs.pool: a pool left early (an interruption) leaves no worker and no pool thread behind."""

from __future__ import annotations

import multiprocessing
import threading
import time
from contextlib import closing

import pytest

from ice287g.jobs.pool import parallel_map


def _busy(seconds: float) -> float:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


def _pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if type(t).__name__ == "_ExecutorManagerThread"]


def test_results_come_in_input_order_from_the_workers():
    jobs = [0.02 * (n % 3) for n in range(8)]
    assert list(parallel_map(_busy, jobs, 2)) == jobs
    assert _pool_threads() == []


def test_an_interruption_ends_the_workers_and_the_pool_thread_before_it_returns():
    """Else the interpreter's exit races with the pool thread closing its pipes, and
    concurrent.futures prints "Exception ignored … Bad file descriptor" (seen in CI)."""
    for _ in range(3):
        with pytest.raises(KeyboardInterrupt), closing(parallel_map(_busy, [0.2] * 12, 2)) as run:
            for _result in run:
                raise KeyboardInterrupt  # the way the stop handler raises it
        assert _pool_threads() == []
        assert multiprocessing.active_children() == []

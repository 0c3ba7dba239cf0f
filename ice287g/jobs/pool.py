"""Run a CPU-bound function over many inputs, in worker processes when that pays."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    fn: Callable[[T], R],
    jobs: Iterable[T],
    workers: int,
    *,
    chunksize: int = 1,
    min_jobs: int = 2,
    crashed: Callable[[T, BaseException], R] | None = None,
) -> Iterator[R]:
    """``fn`` over ``jobs``, results in input order.

    In this process when ``workers <= 1`` or there are fewer than ``min_jobs`` jobs (a pool
    costs more than it saves), else in up to ``workers`` processes; ``fn`` must then be a
    top-level function so that the workers can unpickle it. The workers leave SIGINT to this
    process; when this process stops early (an interruption, an error, the caller giving up),
    they are terminated at once instead of finishing their current job. A caller that can
    stop between two results (while it writes one) closes the iterator on its way out
    (``contextlib.closing``), so that the workers end then, not when it is collected.

    A worker process that dies (killed, out of memory, a native crash) breaks the pool; with
    ``crashed`` the jobs not yet answered are then run again one per fresh process, and a job
    that kills its own process too gets ``crashed(job, error)`` as its result, so one input
    cannot take the others down with it.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) < min_jobs:
        yield from map(fn, jobs)
        return
    done = 0
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=_worker_signals)
    try:
        for result in pool.map(fn, jobs, chunksize=chunksize):
            done += 1
            yield result
    except BrokenProcessPool:
        _terminate(pool)
        if crashed is None:
            raise
        for job in jobs[done:]:
            alone = ProcessPoolExecutor(max_workers=1, initializer=_worker_signals)
            try:
                result = alone.submit(fn, job).result()
            except BrokenProcessPool as exc:
                result = crashed(job, exc)
            except BaseException:
                _terminate(alone)
                raise
            alone.shutdown()
            yield result
        return
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown()


def _worker_signals() -> None:
    """In a worker: Ctrl-C is the parent's business (it terminates the pool); SIGTERM kills."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: queued jobs cancelled, running workers terminated.

    The pool's manager thread is waited for too (it notices the dead workers and closes its
    pipes): a process exiting while that thread is still closing them races with
    ``concurrent.futures``' own exit hook, which then prints "Exception ignored … Bad file
    descriptor" to stderr.
    """
    processes = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
    manager = getattr(pool, "_executor_manager_thread", None)  # cleared by shutdown()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
    if manager is not None:
        manager.join(timeout=5)

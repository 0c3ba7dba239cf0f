"""Run a CPU-bound function over many inputs, in worker processes when that pays."""

from __future__ import annotations

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
    top-level function so that the workers can unpickle it.

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
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for result in pool.map(fn, jobs, chunksize=chunksize):
                done += 1
                yield result
    except BrokenProcessPool:
        if crashed is None:
            raise
        for job in jobs[done:]:
            try:
                with ProcessPoolExecutor(max_workers=1) as alone:
                    result = alone.submit(fn, job).result()
            except BrokenProcessPool as exc:
                result = crashed(job, exc)
            yield result

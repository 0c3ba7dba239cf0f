"""Run a CPU-bound function over many inputs, in worker processes when that pays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
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
) -> Iterator[R]:
    """``fn`` over ``jobs``, results in input order.

    In this process when ``workers <= 1`` or there are fewer than ``min_jobs`` jobs (a pool
    costs more than it saves), else in up to ``workers`` processes; ``fn`` must then be a
    top-level function so that the workers can unpickle it.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) < min_jobs:
        yield from map(fn, jobs)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        yield from pool.map(fn, jobs, chunksize=chunksize)

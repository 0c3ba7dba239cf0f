"""Throughput and memory benchmark for :mod:`parsers.moa` (for ``make bench`` to print).

Usage: ``python -m bench.moa_reader [--workers N] FILE.pdf...``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Iterable, Sequence

from ice287g.jobs.pool import parallel_map
from parsers.moa import MoaError, read_moa_path

__all__ = ["bench"]


def _pages_of(path: str) -> tuple[int, str | None]:
    """Read one MOA; return (pages, error). Top level so worker processes can unpickle it."""
    try:
        return read_moa_path(path).pages, None
    except MoaError as exc:
        return 0, str(exc)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _max_rss_mb(who: int) -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(who).ru_maxrss * scale / (1024 * 1024)


def bench(paths: Iterable[str | os.PathLike[str]], workers: int = 1) -> dict[str, float | int]:
    """Read every MOA in ``paths`` and report how fast and how big that was.

    ``workers=1`` reads in this process; ``workers>1`` spreads files over a process pool.
    Returns files, failed (unreadable files), workers, pages, seconds (wall clock),
    pages_per_second, cpu_seconds (user + system time of this process and its workers; wall
    time well above cpu_seconds / workers means the machine was busy with other work), and
    peak resident memory in MB: ``rss_self_mb`` for this process, ``rss_children_mb`` for the
    largest worker (getrusage counts workers once they have exited), ``peak_rss_mb`` the
    larger. RSS peaks are lifetime high-water marks, so run the benchmark in a fresh
    interpreter for figures that describe the reader alone.
    """
    names: Sequence[str] = [os.fspath(p) for p in paths]
    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    results = list(parallel_map(_pages_of, names, workers, min_jobs=1))
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    pages = sum(count for count, _ in results)
    rss_self = _max_rss_mb(resource.RUSAGE_SELF)
    rss_children = _max_rss_mb(resource.RUSAGE_CHILDREN)
    return {
        "files": len(names),
        "failed": sum(error is not None for _, error in results),
        "workers": workers,
        "pages": pages,
        "seconds": round(seconds, 3),
        "pages_per_second": round(pages / seconds, 2) if seconds > 0 else 0.0,
        "cpu_seconds": round(cpu, 3),
        "rss_self_mb": round(rss_self, 1),
        "rss_children_mb": round(rss_children, 1),
        "peak_rss_mb": round(max(rss_self, rss_children), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the benchmark of the given files as one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="MOA PDF files")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.paths, workers=args.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

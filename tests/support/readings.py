"""One real reading of given bytes per test run, for the tests that read the same files.

A reading here is a pure function of the bytes, apart from the name it is given (which the
result carries): ``parsers.moa.read_moa`` (OCR aside) and ``parsers.workbook.read_rows`` (the
rows of a workbook, before the list is decided from its name and link). The sample table, the
harvest and the ``moa`` commands read Franklin's, Grayson's and Crow Wing's MOA up to five
times per run; the corpus backfill and the replayed 2025 history read the same 352 workbooks
under other names. :func:`remembering` wraps a reading so that the first reading of given
bytes is kept in a folder of the run (shared by the pytest-xdist workers and their process
pools: a process that needs a reading another one is making waits for it) and later readings
of the same bytes get that result under their own name. Readings that fail, and readings with
options set (MOA's OCR depends on what is installed), are never kept: they run every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

Reader = Callable[..., object]


def remembering(read: Reader, folder: Path) -> Reader:
    """``read`` (``read_moa``, ``read_rows``), with each reading of the same bytes made once in
    ``folder``; its result is a dataclass with a ``name``."""

    def reading(data: bytes, name: str = "<bytes>", **options):
        if any(options.values()):
            return read(data, name, **options)
        key = hashlib.sha256(data).hexdigest()
        kept = folder / f"{key}.pickle"
        with FileLock(folder / f"{key}.lock"):
            if kept.exists():
                return dataclasses.replace(pickle.loads(kept.read_bytes()), name=name)
            result = read(data, name, **options)
            kept.write_bytes(pickle.dumps(result))
            return result

    return reading

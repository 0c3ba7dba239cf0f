"""One real reading of each MOA PDF per test run, for the tests that read the same samples.

``parsers.moa.read_moa`` is a pure function of the bytes (OCR aside): the sample table, the
harvest and the ``moa`` commands read Franklin's, Grayson's and Crow Wing's MOA up to five
times per run. :func:`remembering` wraps it so that the first reading of given bytes is kept in
a folder of the run (shared by the pytest-xdist workers: a worker that needs a reading another
one is making waits for it) and later readings of the same bytes get that record under their
own name. Readings that fail, and readings with OCR (they depend on what is installed), are
never kept: they run every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from parsers.moa import MoaDocument

Reader = Callable[..., MoaDocument]


def remembering(read: Reader, folder: Path) -> Reader:
    """``read`` (``read_moa``), with each reading of the same bytes made once in ``folder``."""

    def read_moa(data: bytes, name: str = "<bytes>", *, ocr: bool = False) -> MoaDocument:
        if ocr:
            return read(data, name, ocr=True)
        key = hashlib.sha256(data).hexdigest()
        kept = folder / f"{key}.pickle"
        with FileLock(folder / f"{key}.lock"):
            if kept.exists():
                return dataclasses.replace(pickle.loads(kept.read_bytes()), name=name)
            doc = read(data, name)
            kept.write_bytes(pickle.dumps(doc))
            return doc

    return read_moa

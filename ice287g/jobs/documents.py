"""Read MOA PDFs: stored ones into the documents table, local ones for ``moa read``.

Reading is CPU-bound (pdfminer), so it runs in worker processes when asked
(:func:`~ice287g.jobs.pool.parallel_map`); the documents table is written in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

from ice287g import progress
from ice287g.jobs.pool import parallel_map
from ice287g.store.catalog import Store
from ice287g.store.documents import (
    DOCUMENT_SCHEMA,
    READING_FIELDS,
    read_documents,
    readings_by_sha,
    write_documents,
)
from ice287g.store.ledger import stored_urls

DOCUMENT_BATCH = 25  # documents read between two writes of the table


def reading(data: bytes, name: str, ocr: bool = False) -> dict:
    """The documents-table fields (all but url and sha256) of one PDF; never raises."""
    from parsers.moa import MoaError, read_moa

    now = datetime.now(UTC).replace(microsecond=0)
    try:
        doc = read_moa(data, name, ocr=ocr)
    except MoaError as exc:
        return {**{k: None for k in READING_FIELDS}, "error": exc.problem, "extracted_at": now}
    return {
        "pages": doc.pages,
        "has_text": doc.has_text,
        "text_pages": doc.text_pages,
        "model": doc.model,
        "agency_text": doc.agency_text,
        "template_revision": doc.template_revision,
        "template_date": date.fromisoformat(doc.template_date) if doc.template_date else None,
        "text": doc.text,
        "ocr_pages": doc.ocr_pages,
        "error": None,
        "extracted_at": now,
    }


def _read_stored(job: tuple[str, str, bool]) -> tuple[str, dict]:
    """(sha, reading) of one stored PDF; top level so that worker processes can run it."""
    sha, path, ocr = job
    with open(path, "rb") as fh:
        return sha, reading(fh.read(), path, ocr)


def update_documents(
    store: Store,
    *,
    ocr: bool = False,
    workers: int = 1,
    rebuild: bool = False,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Read every stored PDF that has no documents row yet; return the new rows.

    A PDF linked under several URLs is read once. ``rebuild`` re-reads every stored PDF and
    replaces the table (e.g. after a parser improvement, or with ``ocr``). Rows are written
    in batches, so an interrupted run keeps what it read.
    """
    wanted = stored_urls(store)
    existing = DOCUMENT_SCHEMA.empty_table() if rebuild else read_documents(store)
    have = set(zip(existing["url"].to_pylist(), existing["sha256"].to_pylist()))
    todo = [(url, sha) for url, sha in wanted.items() if (url, sha) not in have]
    if not todo:
        if rebuild:
            write_documents(store, [], replace_all=True)
        return []
    known = readings_by_sha(existing, {sha for _, sha in todo})
    jobs = [
        (sha, str(store.raw_path(sha, "pdf")), ocr)
        for sha in dict.fromkeys(sha for _, sha in todo)
        if sha not in known
    ]
    urls_of: dict[str, list[str]] = {}
    for url, sha in todo:
        urls_of.setdefault(sha, []).append(url)

    new_rows: list[dict] = []
    pending: list[dict] = []

    def add(sha: str, fields: dict) -> None:
        for url in urls_of.get(sha, []):
            row = {"url": url, "sha256": sha, **fields}
            new_rows.append(row)
            pending.append(row)
            if on_row:
                on_row(row)
        if not rebuild and len(pending) >= DOCUMENT_BATCH:
            write_documents(store, pending)
            pending.clear()

    for sha, fields in known.items():
        add(sha, fields)
    with closing(parallel_map(_read_stored, jobs, workers)) as read:
        for sha, fields in progress.track(read, "reading PDFs", total=len(jobs)):
            add(sha, fields)
    if rebuild:
        write_documents(store, new_rows, replace_all=True)
    elif pending:
        write_documents(store, pending)
    return new_rows


def read_records(files: list[str], *, ocr: bool = False, workers: int = 1) -> Iterator[dict | str]:
    """For each file, in order: its ``moa read`` record, or the error line naming the file."""
    yield from parallel_map(_record_of, [(f, ocr) for f in files], workers)


def _record_of(job: tuple[str, bool]) -> dict | str:
    """Top level so that worker processes can run it."""
    from parsers.moa import MoaError, moa_record, read_moa_path

    path, ocr = job
    try:
        return moa_record(read_moa_path(path, ocr=ocr), path)
    except MoaError as exc:
        return str(exc)


def expand_pdf_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; folders expanded to the ``*.pdf`` files directly inside, sorted."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out += sorted(str(f) for f in p.iterdir() if f.suffix.lower() == ".pdf")
        else:
            out.append(str(p))
    return out

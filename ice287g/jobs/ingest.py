"""Workbook bytes -> stored version: parse, date, normalize, then write raw, snapshot, catalog.

The same path serves the backfill of archived files and the live refresh. Nothing is written
for a file that fails: its error names the file and the problem, and the store stays as it
was. Parsing runs in worker processes for large batches (it is CPU-bound and the writes are
cheap), while all writes happen in this process under the store's lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from ice287g.jobs.pool import parallel_map
from ice287g.normalize.apply import normalize
from ice287g.query.status import version_warnings
from ice287g.schema import SCHEMA_VERSION
from ice287g.store import Store, sha256_bytes
from ice287g.store.catalog import snapshot_bytes, tally
from ice287g.store.files import log_error
from parsers.filename import PublicationDate, UndatableError, publication_date
from parsers.workbook import WorkbookError, read_workbook

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
PARALLEL_MIN_FILES = 16
COMMIT_EVERY = 64


@dataclass
class FileResult:
    """What became of one input file: ``status`` new, stored (its bytes are already a
    version) or failed (``reason`` says why). Ledger rows call theirs ``outcome``."""

    name: str
    status: str  # "new" | "stored" (same bytes already a version) | "failed"
    sha256: str | None = None
    list: str | None = None
    date: str | None = None
    rows: int | None = None
    reason: str | None = None
    warnings: tuple[str, ...] = ()  # new layout, list conflict
    traceback: str | None = field(default=None, repr=False)  # an unexpected error's, for the log

    def line(self) -> str:
        if self.status == "failed":
            return f"failed  {self.name}: {self.reason}"
        what = "new    " if self.status == "new" else "stored "
        detail = f"{self.list} {self.date} rows={self.rows}" if self.list else ""
        notes = "".join(f" [{w}]" for w in self.warnings)
        return f"{what} {self.name} {self.sha256[:12]} {detail}".rstrip() + notes


@dataclass
class Prepared:
    """A parsed, dated, normalized workbook, ready to be written (picklable)."""

    data: bytes
    record: dict
    snapshot: bytes = field(repr=False)  # the encoded Parquet file
    tallies: pa.Table = field(repr=False)


def prepare(
    data: bytes,
    name: str,
    observed_at: datetime | None = None,
    sha: str | None = None,
    pub: PublicationDate | None = None,
    link_text: str | None = None,
    url: str | None = None,
) -> Prepared:
    """Everything short of writing. Raises WorkbookError or UndatableError for bad input.

    `pub` pins the publication date (a rebuild keeps the date established at first ingest).
    `link_text` and `url`: the page link the bytes came from (evidence of the list).
    """
    sha = sha or sha256_bytes(data)
    parsed = read_workbook(data, name, link_text, url)
    pub = pub or publication_date(name, parsed.saved_at, observed_at)
    table = normalize(parsed)
    record = {
        "list": parsed.list,
        "date": pub.date,
        "seq": 1,
        "sha256": sha,
        "rows": table.num_rows,
        "file_name": Path(name).name,
        "date_source": pub.source,
        "name_suffix": pub.suffix,
        "suffix_rank": pub.suffix_rank,
        "saved_at": parsed.saved_at.replace(microsecond=0) if parsed.saved_at else None,
        "sheet": parsed.sheet,
        "columns": parsed.headers,
        "flags": [*parsed.flags, *pub.flags],
        "bytes": len(data),
        "snapshot": Store.snapshot_relpath(parsed.list, pub.date, sha),
        "raw": Store.raw_relpath(sha),
        "ingested_at": datetime.now(UTC).replace(microsecond=0),
        "suspect": False,
        "suspect_reason": None,
        "schema_version": SCHEMA_VERSION,
        "layout": parsed.layout,
        "list_evidence": parsed.list_evidence,
    }
    snapshot = snapshot_bytes(record, table)
    record["snapshot_sha256"] = sha256_bytes(snapshot)  # not in the file's own copy
    return Prepared(data, record, snapshot, tally(table, sha))


def _prepare_path(args: tuple[str, frozenset[str]]) -> Prepared | FileResult:
    """Worker: read, hash, and prepare one file unless its bytes are already stored."""
    path, known = args
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FileResult(name, "failed", reason=f"cannot read file ({exc.strerror or exc})")
    sha = sha256_bytes(data)
    if sha in known:
        return FileResult(name, "stored", sha)
    return _prepare_or_fail(data, name, sha=sha)


def _prepare_or_fail(data: bytes, name: str, **kw) -> Prepared | FileResult:
    """`prepare`, with any failure turned into the file's `failed` result: the expected ones
    (bad input) with their message, anything else with its traceback for the error log."""
    sha = kw.get("sha")
    try:
        return prepare(data, name, **kw)
    except (WorkbookError, UndatableError) as exc:
        return FileResult(name, "failed", sha, reason=exc.problem)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a native panic is a BaseException too
        return _unexpected(name, sha, exc)


def _unexpected(name: str, sha: str | None, exc: BaseException) -> FileResult:
    import traceback

    text = "".join(traceback.format_exception(exc))
    summary = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
    return FileResult(name, "failed", sha, reason=f"unexpected error ({summary})", traceback=text)


def _crashed(job: tuple[str, frozenset[str]], exc: BaseException) -> FileResult:
    """The result of a file whose parser process died (pool.parallel_map's `crashed`)."""
    name = Path(job[0]).name
    return FileResult(
        name,
        "failed",
        reason="the parser process died on this file (out of memory or a native crash)",
        traceback=f"{job[0]}: worker process died ({exc!r})",
    )


def _logged(store: Store, outcome: FileResult) -> FileResult:
    """Write an unexpected error's traceback to the store's error log; the line says where."""
    if outcome.traceback:
        where = log_error(store.root, outcome.name, outcome.traceback)
        outcome.reason = f"{outcome.reason}; details in {where}"
        outcome.traceback = None
    return outcome


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the workbooks inside folders (recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in WORKBOOK_SUFFIXES
                and not f.name.startswith("~$")
            )
        else:
            out.append(p)
    return out


def ingest_paths(
    store: Store,
    paths: Iterable[str | Path],
    workers: int | None = None,
    on_result: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Ingest files and folders; every file gets a FileResult, failures do not stop the run."""
    files = [str(p) for p in expand_paths(paths)]
    outcomes: list[FileResult] = []
    with store.lock():
        known = frozenset(store.known_shas())
        workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        jobs = [(f, known) for f in files]
        pending: list[Prepared] = []
        results = parallel_map(
            _prepare_path,
            jobs,
            workers,
            chunksize=4,
            min_jobs=PARALLEL_MIN_FILES,
            crashed=_crashed,
        )
        with closing(results):  # a stop while committing ends the workers at once too
            for path, result in zip(files, results):
                outcome = _logged(store, _accept(store, result, known, pending, path))
                if len(pending) >= COMMIT_EVERY:
                    _commit(store, pending)
                outcomes.append(outcome)
                if on_result:
                    on_result(outcome)
        _commit(store, pending)
    return outcomes


def ingest_bytes(
    store: Store,
    data: bytes,
    name: str,
    observed_at: datetime | None = None,
    link_text: str | None = None,
    url: str | None = None,
) -> FileResult:
    """Ingest one workbook received as bytes (the live refresh path), downloaded from the
    page link with `link_text` at `url`."""
    sha = sha256_bytes(data)
    with store.lock():
        if sha in store.known_shas():
            return _logged(store, _restore_raw(store, FileResult(name, "stored", sha), data))
        prepared = _prepare_or_fail(
            data, name, observed_at=observed_at, sha=sha, link_text=link_text, url=url
        )
        pending: list[Prepared] = []
        outcome = _logged(store, _accept(store, prepared, frozenset(), pending))
        _commit(store, pending)
        return outcome


def _accept(
    store: Store,
    result: Prepared | FileResult,
    known: frozenset[str],
    pending: list[Prepared],
    path: str | None = None,
) -> FileResult:
    """Write a prepared file's raw bytes and snapshot (cataloged by the next `_commit`); a
    failure removes what this file wrote and becomes its `failed` result."""
    if isinstance(result, FileResult):
        if result.status == "stored" and path is not None:
            return _restore_raw(store, result, path)
        return result
    record = result.record
    name = record["file_name"]
    if record["sha256"] in known or any(p.record["sha256"] == record["sha256"] for p in pending):
        return FileResult(name, "stored", record["sha256"])
    written = [
        p for p in (store.root / record["raw"], store.root / record["snapshot"]) if not p.exists()
    ]
    try:
        store.put_raw(result.data, record["sha256"], sync=False)
        store.write_snapshot(record, result.snapshot, sync=False)
    except (KeyboardInterrupt, SystemExit):
        _remove(written)
        raise
    except BaseException as exc:  # noqa: BLE001 - disk full, permissions, ...
        _remove(written)
        return _unexpected(name, record["sha256"], exc)
    pending.append(result)
    return version_result(record)


def _remove(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _restore_raw(store: Store, result: FileResult, source: str | bytes) -> FileResult:
    """Bytes already a version whose raw file has gone missing: put the raw file back."""
    if store.raw_path(result.sha256).exists():
        return result
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        if sha256_bytes(data) != result.sha256:
            return result  # the file changed under us; `verify` still reports the gap
        store.put_raw(data, result.sha256)
    except OSError as exc:
        return _unexpected(result.name, result.sha256, exc)
    result.warnings = (*result.warnings, "raw file restored")
    return result


def version_result(record: dict) -> FileResult:
    """The `new` result of a version record, with its warnings."""
    return FileResult(
        record["file_name"],
        "new",
        record["sha256"],
        record["list"],
        record["date"].isoformat(),
        record["rows"],
        warnings=tuple(version_warnings(record)),
    )


def _commit(store: Store, pending: list[Prepared]) -> None:
    if pending:
        store.commit([p.record for p in pending], [p.tallies for p in pending])
        pending.clear()

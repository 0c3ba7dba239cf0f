"""Harvest the signed MOA and addendum PDFs that ICE's participating workbook links.

One run: take the MOA and addendum URLs of the newest participating version that have no
stored PDF yet, fetch at most ``limit`` of them one after the other (``delay`` seconds apart),
store each complete PDF content-addressed (``raw/<sha[:2]>/<sha>.pdf``), record every attempt
in the MOA ledger, then read the new PDFs into the documents table
(:mod:`ice287g.jobs.documents`). Which URLs lack a PDF is :func:`ice287g.query.moa.pending_urls`;
the requests themselves are :mod:`scrapers.moa`.

Only bodies that start with ``%PDF`` and end with the ``%%EOF`` marker are stored: an HTML
page served as a PDF, a CDN block page or a truncated download is recorded with a clear error
and tried again on a later run, as is a 404. The :class:`~scrapers.http.Fetcher` enforces the
host allowlist (www.ice.gov and the Internet Archive by default) on every redirect hop;
refused requests are recorded as ``refused``.

With a ``mirror``, the ledger keeps ICE's URL as the key and the URL actually fetched as
``final_url``. A circuit breaker (:class:`~scrapers.hosts.CircuitBreaker`) stops the run after
``BREAKER_THRESHOLD`` consecutive blocks or connection failures on a host, and leaves the
rest for the next run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from filelock import FileLock, Timeout
from tabulate import tabulate

from ice287g import progress
from ice287g.errors import UserError
from ice287g.jobs.documents import update_documents
from ice287g.query.moa import agreements, pending_urls
from ice287g.store import Store, StoreError, ledger
from ice287g.store.ledger import MOA_LEDGER
from parsers.sniff import pdf_problem
from scrapers.hosts import CircuitBreaker, host_trouble
from scrapers.http import Fetcher, FetchResult
from scrapers.moa import fetch_pdf, harvest_host, mirror_map, rewrite

DEFAULT_LIMIT = 200
DEFAULT_DELAY = 1.0  # seconds between two requests
NOT_FOUND_STATUSES = frozenset({404, 410})
BREAKER_THRESHOLD = 3  # consecutive blocks or connection failures on a host: stop for this run


class HarvestBusy(UserError, RuntimeError):
    """Another harvest holds the lock on this store."""


@dataclass
class Attempt:
    """One download attempt, as recorded in the MOA ledger."""

    url: str
    final_url: str
    outcome: str  # one of ice287g.store.ledger.MOA_OUTCOMES
    http_status: int | None = None
    sha256: str | None = None
    bytes: int = 0
    error: str | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    host_trouble: bool = False  # blocked, or the host could not be reached (circuit breaker)

    def line(self) -> str:
        """One line for the terminal: outcome, URL, and the error or the stored hash."""
        if self.sha256:
            note = f"sha256 {self.sha256[:12]} ({self.bytes} bytes)"
        else:
            note = self.error or ""
            note = note.removeprefix(f"{self.url}: ").removeprefix(f"{self.final_url}: ")
        return f"{self.outcome:<14} {self.url}  {note}".rstrip()


@dataclass
class HarvestReport:
    """What one harvest did: the attempts, the URLs left for later runs, the PDFs read."""

    started_at: datetime
    attempts: list[Attempt] = field(default_factory=list)
    remaining: int = 0  # URLs still to fetch after this run (over the cap)
    documents: list[dict] = field(default_factory=list)
    ocr_note: str | None = None
    stopped: str | None = None  # why the run stopped early (circuit breaker), if it did

    @property
    def counts(self) -> Counter[str]:
        return Counter(a.outcome for a in self.attempts)

    @property
    def failures(self) -> list[str]:
        """Attempts that went wrong for reasons a later run may not share (not 404s)."""
        return [
            a.error or f"{a.url}: {a.outcome}"
            for a in self.attempts
            if a.outcome in (ledger.BLOCKED, ledger.FAILED)
        ] + ([self.stopped_line()] if self.stopped else [])

    def stopped_line(self) -> str:
        return f"MOA harvest stopped: {self.stopped}; {self.remaining} URLs left for the next run"

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary_line(self) -> str:
        counts = self.counts
        parts = ", ".join(f"{counts[o]} {o}" for o in ledger.MOA_OUTCOMES)
        stopped = f" (stopped: {self.stopped})" if self.stopped else ""
        return (
            f"{len(self.attempts)} URLs tried: {parts}; {self.remaining} left for later "
            f"runs{stopped}; {len(self.documents)} documents read"
        )

    def markdown(self) -> str:
        """Run report (for the Prefect artifact)."""
        lines = [
            f"# MOA harvest {self.started_at:%Y-%m-%d %H:%M} UTC",
            "",
            tabulate(
                [(o, self.counts[o]) for o in ledger.MOA_OUTCOMES],
                ["outcome", "URLs"],
                tablefmt="github",
            ),
        ]
        lines += [
            "",
            f"{self.remaining} URLs left for later runs; {len(self.documents)} documents read.",
        ]
        if self.stopped:
            lines += ["", f"**{self.stopped_line()}**"]
        unreadable = [d for d in self.documents if d.get("error")]
        if unreadable:
            lines += ["", "## Stored but unreadable", ""]
            lines += [f"- {d['url']}: {d['error']}" for d in unreadable]
        problems = [a for a in self.attempts if a.outcome not in ledger.DONE_OUTCOMES]
        if problems:
            lines += ["", "## Not stored", ""]
            lines += [f"- {a.outcome}: {a.error or a.url}" for a in problems]
        if self.ocr_note:
            lines += ["", self.ocr_note]
        return "\n".join(lines) + "\n"


def harvest_lock(store: Store) -> FileLock:
    store.root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(store.root / ".moa.lock"), timeout=0)


@contextmanager
def session(store: Store) -> Iterator[None]:
    """Hold the harvest lock (one harvest or documents rebuild per store at a time)."""
    lock = harvest_lock(store)
    try:
        lock.acquire()
    except Timeout:
        raise HarvestBusy(
            f"another MOA harvest is running on {store.root} (lock {lock.lock_file})"
        ) from None
    try:
        yield
    finally:
        lock.release()


def harvest(
    store: Store,
    *,
    limit: int = DEFAULT_LIMIT,
    delay: float = DEFAULT_DELAY,
    source_host: str | None = None,
    mirror: str | None = None,
    url_map: dict[str, str] | None = None,
    fetcher: Fetcher | None = None,
    sleep: Callable[[float], None] = time.sleep,
    ocr: bool = False,
    workers: int = 1,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> HarvestReport:
    """Fetch up to ``limit`` missing PDFs, then read every stored PDF not yet in the table.

    Raises :class:`HarvestBusy` when another harvest runs on this store, and
    ``ice287g.query.QueryError`` when the store has no participating version.
    """
    rows = agreements(store)  # no participating version: say so before taking the lock
    with session(store):
        report = fetch_missing(
            store,
            rows=rows,
            limit=limit,
            delay=delay,
            source_host=source_host,
            mirror=mirror,
            url_map=url_map,
            fetcher=fetcher,
            sleep=sleep,
            on_attempt=on_attempt,
        )
        read_new(store, report, ocr=ocr, workers=workers)
    return report


def fetch_missing(
    store: Store,
    *,
    limit: int = DEFAULT_LIMIT,
    delay: float = DEFAULT_DELAY,
    source_host: str | None = None,
    mirror: str | None = None,
    url_map: dict[str, str] | None = None,
    fetcher: Fetcher | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_attempt: Callable[[Attempt], None] | None = None,
    rows=None,
) -> HarvestReport:
    """The download half of :func:`harvest`: one ledger row per attempt, PDFs stored.

    Call inside :func:`session` (as :func:`harvest` does). ``rows``: the agreements whose
    links to fetch (default: the newest participating version).
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0, not {delay}")
    url_map = url_map if url_map is not None else mirror_map(mirror)
    report = HarvestReport(datetime.now(UTC))
    breaker = CircuitBreaker(BREAKER_THRESHOLD)
    own = fetcher is None
    try:
        todo = pending_urls(store, rows)
        batch, report.remaining = todo[:limit], max(0, len(todo) - limit)
        if own and batch:
            fetcher = Fetcher(source_host=harvest_host(source_host, mirror))
        for url in progress.track(batch, "MOA harvest"):
            if not breaker.allows(rewrite(url, url_map)):
                report.remaining += 1  # its host is left alone for this run
                continue
            if report.attempts and delay:
                sleep(delay)
            attempt = fetch_and_store(store, fetcher, url, url_map)
            report.attempts.append(attempt)
            if on_attempt:
                on_attempt(attempt)
            tripped = breaker.record(attempt.final_url, attempt.host_trouble, attempt.error)
            report.stopped = report.stopped or tripped
    finally:
        if own and fetcher is not None:
            fetcher.close()
    return report


def read_new(
    store: Store, report: HarvestReport, *, ocr: bool = False, workers: int = 1
) -> list[dict]:
    """The reading half of :func:`harvest`: new stored PDFs into the documents table.

    Call inside :func:`session`.
    """
    from parsers.moa import ocr_available

    if ocr and not ocr_available():
        report.ocr_note = (
            "OCR not available: tesseract is not installed; pages without a text layer stay empty"
        )
    report.documents = update_documents(store, ocr=ocr, workers=workers)
    return report.documents


def fetch_and_store(
    store: Store, fetcher: Fetcher, url: str, url_map: dict[str, str] | None = None
) -> Attempt:
    """Fetch one PDF (through the mirror of ``url_map``, if any), store it if complete, and
    add the attempt to the MOA ledger under ``url``."""
    result = fetch_pdf(fetcher, url, url_map)
    attempt = judge(url, result)
    if result.outcome == "ok" and result.body is not None:
        problem = pdf_problem(result.body)
        if problem:
            attempt.outcome = ledger.FAILED
            attempt.sha256 = None
            attempt.error = f"{result.final_url}: {problem}; not stored"
    with store.lock():
        if attempt.outcome == ledger.STORED:
            attempt.outcome = _put(store, result, attempt)
        MOA_LEDGER.append(
            store,
            [
                {
                    "fetched_at": attempt.fetched_at,
                    "url": url,
                    "final_url": attempt.final_url,
                    "http_status": attempt.http_status,
                    "sha256": attempt.sha256,
                    "bytes": attempt.bytes,
                    "outcome": attempt.outcome,
                    "error": attempt.error,
                }
            ],
        )
    return attempt


def judge(url: str, result: FetchResult) -> Attempt:
    """The ledger outcome of a fetch (before the completeness check and storing)."""
    attempt = Attempt(
        url,
        result.final_url,
        ledger.FAILED,
        result.status,
        result.sha256,
        result.bytes,
        result.error,
        result.fetched_at,
        host_trouble(result),
    )
    if result.outcome == "ok":
        attempt.outcome = ledger.STORED
    elif result.outcome == "blocked":
        attempt.outcome = ledger.BLOCKED
    elif result.refused:
        attempt.outcome = ledger.REFUSED
    elif result.status in NOT_FOUND_STATUSES:
        attempt.outcome = ledger.NOT_FOUND
    elif result.outcome == "not_modified":  # never asked for: no validators are sent
        attempt.error = f"{url}: unexpected HTTP 304 to an unconditional request"
    return attempt


def _put(store: Store, result: FetchResult, attempt: Attempt) -> str:
    """Archive the bytes (with the store lock held); the outcome to record."""
    assert result.body is not None and result.sha256 is not None
    already = store.raw_path(result.sha256, "pdf").exists()
    try:
        store.put_raw(result.body, result.sha256, ext="pdf")
    except StoreError as exc:
        attempt.sha256 = None
        attempt.error = f"{attempt.url}: {exc}"
        return ledger.FAILED
    return ledger.ALREADY_STORED if already else ledger.STORED

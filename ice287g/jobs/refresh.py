"""One refresh: ICE's page -> workbook links -> conditional downloads -> versions -> report.

Plain functions; the Prefect flow in ``flows/refresh.py`` calls these, and so does
``ice287g refresh`` (plain cron needs no Prefect at all). Each workbook link is its own
isolated step: one blocked or failed download is recorded and reported, and the other list is
still fetched. Every observation, good or bad, becomes a row of the publications ledger.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from filelock import FileLock, Timeout

from ice287g.errors import UserError
from ice287g.jobs import derived
from ice287g.jobs.ingest import FileResult, ingest_bytes
from ice287g.jobs.report import summarize
from ice287g.store import Store, ledger
from scrapers.discover import DEFAULT_SOURCE


class RefreshBusy(UserError, RuntimeError):
    """Another refresh holds the lock on this store."""


@dataclass
class Observation:
    url: str
    file_name: str
    outcome: str  # one of ice287g.store.ledger.OUTCOMES
    list: str | None = None
    version_date: date | None = None
    sha256: str | None = None
    error: str | None = None
    bytes: int = 0  # workbook body bytes downloaded (0 for a 304 or a refused body)


@dataclass
class RefreshReport:
    source: str
    started_at: datetime
    observations: list[Observation] = field(default_factory=list)
    error: str | None = None  # the page itself could not be read
    warnings: list[str] = field(default_factory=list)  # e.g. workbook links over the cap
    harvest_skipped: str | None = None  # why the MOA harvest did not follow, when it did not
    bytes_downloaded: int = 0
    summary: str = ""

    @property
    def failures(self) -> list[str]:
        out = [self.error] if self.error else []
        return out + [
            o.error or f"{o.url}: {o.outcome}"
            for o in self.observations
            if o.outcome in (ledger.BLOCKED, ledger.FAILED)
        ]

    @property
    def new_versions(self) -> list[Observation]:
        return [o for o in self.observations if o.outcome == ledger.NEW_VERSION]

    @property
    def ok(self) -> bool:
        return not self.failures


def refresh_lock(store: Store) -> FileLock:
    store.root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(store.root / ".refresh.lock"), timeout=0)


def refresh(
    store: Store, source: str = DEFAULT_SOURCE, fetcher=None, *, summary: bool = True
) -> RefreshReport:
    """Run one refresh against `source` (ICE's page, a mirror, or a local test server).

    ``summary=False`` leaves ``report.summary`` empty (a caller that reads only the
    observations, e.g. a replay of a whole year, skips writing the markdown each time).
    """
    with session(store, source, fetcher) as (report, fetcher):
        links = discover_links(store, report, fetcher)
        for link in links:
            obs = fetch_isolated(store, fetcher, link)
            report.observations.append(obs)
            report.bytes_downloaded += obs.bytes
        conclude(store, report, summary)
    return report


def conclude(store: Store, report: RefreshReport, summary: bool = True) -> None:
    """After the downloads: bring the derived state up to date with the new versions (so
    the reads that follow only read), then write the summary."""
    if report.new_versions:
        derived.update(store)
    if summary:
        report.summary = summarize(store, report)


@contextmanager
def session(store: Store, source: str, fetcher=None):
    """Hold the refresh lock and a fetcher for the length of one refresh."""
    from scrapers.http import Fetcher

    report = RefreshReport(source, datetime.now(UTC))
    lock = refresh_lock(store)
    try:
        lock.acquire()
    except Timeout:
        raise RefreshBusy(
            f"another refresh is running on {store.root} (lock {lock.lock_file})"
        ) from None
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(source_host=host_of(source))
    try:
        yield report, fetcher
    finally:
        if own_fetcher:
            fetcher.close()
        lock.release()


def discover_links(store: Store, report: RefreshReport, fetcher) -> list:
    """The page's workbook links (at most ``MAX_LINKS_PER_LIST`` per list, the excess named in
    ``report.warnings``); on failure, a ledger row, ``report.error``, and no links."""
    from scrapers.discover import MAX_LINKS_PER_LIST, DiscoveryError, cap_links, discover_or_fail
    from scrapers.http import FetchError

    try:
        links = discover_or_fail(fetcher.fetch_page(report.source), report.source)
        kept, dropped = cap_links(links)
        if dropped:
            report.warnings.append(
                f"{report.source} links {len(links)} workbooks; took the first "
                f"{MAX_LINKS_PER_LIST} per list ({len(kept)}) and ignored {len(dropped)}, "
                f"e.g. {dropped[0].url}"
            )
        return kept
    except (FetchError, DiscoveryError) as exc:
        report.error = str(exc)  # names the page URL and the problem
        with store.lock():
            ledger.PUBLICATIONS.append(
                store,
                [
                    {
                        "fetched_at": datetime.now(UTC),
                        "source": "page",
                        "url": report.source,
                        "outcome": ledger.FAILED,
                        "error": report.error,
                    }
                ],
            )
        return []


def fetch_isolated(store: Store, fetcher, link) -> Observation:
    """:func:`fetch_one`, with an unexpected error (a store error, a bug) recorded as this
    link's ``failed`` outcome instead of stopping the refresh before the other list."""
    try:
        return fetch_one(store, fetcher, link)
    except Exception as exc:
        return Observation(
            link.url,
            link.file_name,
            ledger.FAILED,
            error=f"{link.url}: {type(exc).__name__}: {exc}",
        )


def fetch_one(
    store: Store, fetcher, link, source: str = "live", captured_at: datetime | None = None
) -> Observation:
    """Fetch one workbook link (conditionally) and ingest what comes back; one ledger row."""
    known = store.known_shas()
    etag, last_modified = ledger.validators(store, link.url, known)
    result = fetcher.fetch(link.url, etag=etag, last_modified=last_modified)
    obs = Observation(
        link.url,
        link.file_name,
        ledger.FAILED,
        error=result.error,
        bytes=result.bytes if result.outcome == "ok" else 0,
    )
    sha = result.sha256
    if result.outcome == "not_modified":
        sha = ledger.sha_for_validators(store, link.url, etag, last_modified)
        obs.outcome = ledger.NOT_MODIFIED
    elif result.outcome == "blocked":
        obs.outcome = ledger.BLOCKED
    elif result.outcome == "ok":
        outcome: FileResult = ingest_bytes(
            store,
            result.body,
            link.file_name,
            observed_at=captured_at or result.fetched_at,
            link_text=link.link_text,
            url=link.url,
        )
        if outcome.status == "failed":
            obs.error = f"{link.url}: {outcome.reason}"
        else:
            obs.outcome = ledger.NEW_VERSION if outcome.status == "new" else ledger.SAME_BYTES
    obs.sha256 = sha
    version = _version(store, sha)
    if version:
        obs.list, obs.version_date = version["list"], version["date"]
    with store.lock():
        ledger.PUBLICATIONS.append(
            store,
            [
                {
                    "fetched_at": result.fetched_at,
                    "source": source,
                    "url": link.url,
                    "final_url": result.final_url,
                    "file_name": link.file_name,
                    "list_hint": link.list_hint,
                    "http_status": result.status,
                    "etag": result.etag,
                    "last_modified": result.last_modified,
                    "sha256": sha,
                    "bytes": result.bytes,
                    "outcome": obs.outcome,
                    "list": obs.list,
                    "version_date": obs.version_date,
                    "error": obs.error,
                    "captured_at": captured_at,
                    "link_text": link.link_text,
                }
            ],
        )
    return obs


def harvest_after(
    store: Store,
    report: RefreshReport,
    moa: bool = True,
    limit: int | None = None,
    delay: float | None = None,
) -> dict | None:
    """The MOA harvest that follows a refresh, as ``harvest`` keyword arguments (``limit``,
    ``delay``, ``mirror``); None when there is none: ``--no-moa``, no version stored yet, or
    the page could not be read (then ``report.harvest_skipped`` says so: a source that cannot
    be reached is not asked for 200 PDFs).

    The one place that says how "refresh, then harvest MOAs" goes, for the plain command and
    for the Prefect flow alike.
    """
    from ice287g.jobs.harvest import DEFAULT_DELAY, DEFAULT_LIMIT

    if not moa or not store.catalog_path.exists():
        return None
    if report.error:
        report.harvest_skipped = (
            "MOA harvest skipped: the page could not be read, so its host is not asked for "
            "PDFs this run (they wait for the next run)"
        )
        return None
    return {
        "limit": DEFAULT_LIMIT if limit is None else limit,
        "delay": DEFAULT_DELAY if delay is None else delay,
        "mirror": mirror_of(report.source),
    }


@dataclass
class Published:
    """What the publish step after a refresh did: a line for the report (empty when no
    destination is configured) and the failure, if publishing failed."""

    line: str = ""
    failures: list[str] = field(default_factory=list)

    def result(self, report: RefreshReport) -> dict:
        """The refresh's ``ok``, ``failures`` and ``publish`` fields, this step included."""
        return {
            "ok": report.ok and not self.failures,
            "failures": report.failures + self.failures,
            "publish": self.line,
        }


def publish_after(store: Store, report: RefreshReport) -> Published:
    """Publish the site to ``$ICE287G_PUBLISH_TO`` after a refresh (nothing when it is not set).

    A failed refresh, or one that stored a suspect version, publishes nothing: the site keeps
    the last good publication. The one place that says how "refresh, then publish" goes, for
    the plain command and for the Prefect flow alike.
    """
    import os

    from ice287g.publish import (
        PUBLISH_BASE_URL,
        PUBLISH_ENDPOINT_URL,
        PUBLISH_TO,
        PublishError,
        publish,
    )

    dest = os.environ.get(PUBLISH_TO)
    if not dest:
        return Published()
    if not report.ok:
        return Published(f"not published to {dest}: the refresh failed")
    new = {o.sha256 for o in report.new_versions if o.sha256}
    if new:
        from ice287g.query.versions import catalog

        cat = catalog(store)
        bad = cat[cat["sha256"].isin(new) & cat["suspect"]]
        if len(bad):
            v = bad.iloc[0]
            return Published(
                f"not published to {dest}: the new {v['list']} version {v['date']} is suspect "
                f"({v['suspect_reason']})",
            )
    try:
        done = publish(
            dest,
            store,
            base_url=os.environ.get(PUBLISH_BASE_URL),
            endpoint_url=os.environ.get(PUBLISH_ENDPOINT_URL),
        )
    except PublishError as exc:
        return Published(f"publish failed: {exc}", [f"publish: {exc}"])
    return Published(done.line())


def mirror_of(source: str) -> str | None:
    """Where the MOA PDFs come from: ICE itself, or the origin of the mirror/test server whose
    page was read (so a refresh from a local server never reaches out to ice.gov)."""
    from urllib.parse import urlsplit

    if source == DEFAULT_SOURCE:
        return None
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}"


def _version(store: Store, sha: str | None) -> dict | None:
    if not sha:
        return None
    import pyarrow.compute as pc

    cat = store.catalog_table(["sha256", "list", "date"])
    rows = cat.filter(pc.equal(cat["sha256"], sha)).to_pylist()
    return rows[0] if rows else None


def host_of(url: str) -> str:
    """The lower-case host of a URL ("" when it has none)."""
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()

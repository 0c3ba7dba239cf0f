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

from ice287g import ledger
from ice287g.errors import UserError
from ice287g.ingest import Outcome, ingest_bytes
from ice287g.store import Store

DEFAULT_SOURCE = "https://www.ice.gov/identify-and-arrest/287g"
EXAMPLES_IN_REPORT = 5


class RefreshBusy(UserError, RuntimeError):
    """Another refresh holds the lock on this store."""


@dataclass
class Observation:
    url: str
    file_name: str
    outcome: str  # one of ledger.OUTCOMES
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
            obs = fetch_one(store, fetcher, link)
            report.observations.append(obs)
            report.bytes_downloaded += obs.bytes
        if summary:
            report.summary = summarize(store, report)
    return report


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
    fetcher = fetcher or Fetcher(source_host=_host(source))
    try:
        yield report, fetcher
    finally:
        if own_fetcher:
            fetcher.close()
        lock.release()


def discover_links(store: Store, report: RefreshReport, fetcher) -> list:
    """The page's workbook links; on failure, a ledger row, `report.error`, and no links."""
    from scrapers.discover import DiscoveryError, discover_or_fail
    from scrapers.http import FetchError

    try:
        return discover_or_fail(fetcher.fetch_page(report.source), report.source)
    except (FetchError, DiscoveryError) as exc:
        report.error = str(exc)  # names the page URL and the problem
        with store.lock():
            ledger.append(
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
        outcome: Outcome = ingest_bytes(
            store, result.body, link.file_name, observed_at=captured_at or result.fetched_at
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
        ledger.append(
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
                }
            ],
        )
    return obs


def summarize(store: Store, report: RefreshReport) -> str:
    """Markdown: counts by model for each list's newest version, and what the new versions
    changed (agreements added and removed since the previous version of their list)."""
    from ice287g.query import catalog, counts

    lines = [
        f"# 287(g) refresh {report.started_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"Source: {report.source}",
        "",
    ]
    lines += ["| file | outcome | list | version date |", "|---|---|---|---|"]
    lines += [
        f"| {o.file_name} | {o.outcome} | {o.list or ''} | {o.version_date or ''} |"
        for o in report.observations
    ]
    cat = catalog(store)
    if not cat.empty:
        newest = counts(by=["model"], as_of=max(cat["date"]), data_dir=store)
        lines += [
            "",
            "## Agreements by model (newest versions)",
            "",
            "| list | date | model | count |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r.list} | {r.date} | {r.model} | {r.count} |" for r in newest.itertuples()]
    for obs in report.new_versions:
        lines += ["", *changes_since_previous(store, obs.sha256)]
    if report.failures:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in report.failures]
    return "\n".join(lines) + "\n"


def changes_since_previous(store: Store, sha: str) -> list[str]:
    """Markdown lines: agreements added/removed by version `sha` against its list's previous."""
    from ice287g.changes import diff_versions
    from ice287g.query import catalog

    cat = catalog(store)
    row = cat[cat["sha256"] == sha]
    if row.empty:
        return []
    version = row.iloc[0]
    same = cat[(cat["list"] == version["list"]) & ~cat["suspect"]]
    earlier = same[
        (same["date"] < version["date"])
        | ((same["date"] == version["date"]) & (same["seq"] < version["seq"]))
    ]
    title = f"## {version['list']} {version['date']} #{version['seq']} ({sha[:12]})"
    if earlier.empty:
        return [title, "", f"First {version['list']} version: {version['rows']} rows."]
    previous = earlier.sort_values(["date", "seq"]).iloc[-1]
    changes = diff_versions(store, previous, version)[0]
    lines = [
        title,
        "",
        f"Against {previous['date']} #{previous['seq']} "
        f"({previous['sha256'][:12]}): {version['rows'] - previous['rows']:+d} rows.",
    ]
    for kind in ("added", "removed", "changed"):
        part = changes[changes["change"] == kind]
        if part.empty:
            continue
        lines.append(f"- {kind}: {len(part)}")
        for r in part.head(EXAMPLES_IN_REPORT).itertuples():
            detail = f" ({r.field}: {r.before} → {r.after})" if kind == "changed" else ""
            lines.append(f"  - {r.state} {r.agency} {r.model}{detail}")
    return lines


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

    cat = store.catalog_table()
    rows = cat.filter(pc.equal(cat["sha256"], sha)).to_pylist()
    return rows[0] if rows else None


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()


# --- Internet Archive backfill ----------------------------------------------------------------
WAYBACK_WORKBOOK_PREFIX = "www.ice.gov/doclib/about/offices/ero/287g/*"
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class _ArchivedLink:
    url: str
    file_name: str
    list_hint: str | None = None


def wayback(
    store: Store,
    from_date: date,
    to_date: date,
    cdx_base: str | None = None,
    fetcher=None,
    limit: int | None = None,
) -> list[Observation]:
    """Ingest Internet Archive captures of ICE's workbooks between two dates.

    Each capture's raw bytes (the ``id_`` URL) are fetched once: captures already fetched are
    skipped, so a re-run downloads nothing it has seen; blocked or failed ones are tried
    again. Versions are dated like any other (ICE's file name, else the saved time), with the
    capture time as the last resort.
    """
    from scrapers.http import Fetcher
    from scrapers.wayback import WAYBACK_CDX, list_captures

    cdx_base = cdx_base or WAYBACK_CDX
    own = fetcher is None
    fetcher = fetcher or Fetcher(
        source_host=_host(cdx_base) if _is_local(cdx_base) else "www.ice.gov"
    )
    try:
        captures = [
            c
            for c in list_captures(fetcher, cdx_base, WAYBACK_WORKBOOK_PREFIX, from_date, to_date)
            if c.original.lower().split("?")[0].endswith(WORKBOOK_EXTENSIONS)
        ]
        rows = ledger.read_ledger(store).to_pylist()
        seen = {r["url"] for r in rows if r["outcome"] not in (ledger.BLOCKED, ledger.FAILED)}
        todo = [c for c in captures if c.raw_url not in seen][: limit or None]
        out = []
        for capture in todo:
            name = capture.original.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            out.append(
                fetch_one(
                    store,
                    fetcher,
                    _ArchivedLink(capture.raw_url, name),
                    source="wayback",
                    captured_at=capture.captured_at,
                )
            )
        return out
    finally:
        if own:
            fetcher.close()


def _is_local(url: str) -> bool:
    return _host(url) in ("127.0.0.1", "localhost")

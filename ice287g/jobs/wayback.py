"""Backfill versions from Internet Archive captures of ICE's workbooks.

Each capture's raw bytes (the ``id_`` URL) are fetched once, like a live download
(:func:`ice287g.jobs.refresh.fetch_one`), and recorded in the publications ledger with
``source`` = ``wayback``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ice287g.jobs import derived
from ice287g.jobs.ingest import WORKBOOK_SUFFIXES
from ice287g.jobs.refresh import Observation, fetch_one, host_of
from ice287g.store import Store, ledger

WAYBACK_WORKBOOK_PREFIX = "www.ice.gov/doclib/about/offices/ero/287g/*"


@dataclass(frozen=True)
class _ArchivedLink:
    url: str
    file_name: str
    list_hint: str | None = None
    link_text: str | None = None  # an archive capture has no page link


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
        source_host=host_of(cdx_base) if _is_local(cdx_base) else "www.ice.gov"
    )
    try:
        captures = [
            c
            for c in list_captures(fetcher, cdx_base, WAYBACK_WORKBOOK_PREFIX, from_date, to_date)
            if c.original.lower().split("?")[0].endswith(WORKBOOK_SUFFIXES)
        ]
        rows = ledger.PUBLICATIONS.read(store, ["url", "outcome"]).to_pylist()
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
        if any(o.outcome == ledger.NEW_VERSION for o in out):
            derived.update(store)
        return out
    finally:
        if own:
            fetcher.close()


def _is_local(url: str) -> bool:
    return host_of(url) in ("127.0.0.1", "localhost")

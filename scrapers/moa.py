"""Where the MOA PDFs are fetched from: ICE, or a mirror standing in for it.

``mirror`` (or a general ``url_map``) rewrites ``https://www.ice.gov`` to another base URL
before fetching, for a mirror or a local test server; the MOA ledger keeps ICE's URL as the
key. Storing what comes back is :mod:`ice287g.jobs.harvest`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from parsers.sniff import PDF_MAGIC
from scrapers.hosts import DEFAULT_SOURCE_HOST
from scrapers.http import Fetcher, FetchResult

ICE_ORIGIN = "https://www.ice.gov"


def rewrite(url: str, url_map: dict[str, str] | None) -> str:
    """``url`` with the first matching prefix of ``url_map`` replaced (a mirror's base URL)."""
    for prefix, base in (url_map or {}).items():
        if url.startswith(prefix):
            return base.rstrip("/") + url[len(prefix) :]
    return url


def mirror_map(mirror: str | None) -> dict[str, str] | None:
    """The url_map of ``--mirror URL``: ICE's origin -> the mirror's base URL."""
    return {ICE_ORIGIN: mirror.rstrip("/")} if mirror else None


def harvest_host(source_host: str | None, mirror: str | None) -> str:
    """The host the fetcher may talk to: as given, else the mirror's, else www.ice.gov."""
    if source_host:
        return source_host
    if mirror:
        return (urlsplit(mirror).hostname or "").lower()
    return DEFAULT_SOURCE_HOST


def fetch_pdf(fetcher: Fetcher, url: str, url_map: dict[str, str] | None = None) -> FetchResult:
    """Fetch one MOA or addendum PDF (through the mirror, if any); ``ok`` only for a body that
    starts with ``%PDF``."""
    return fetcher.fetch(rewrite(url, url_map), expect=PDF_MAGIC)

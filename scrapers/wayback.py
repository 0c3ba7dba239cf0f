"""List Internet Archive captures of ICE's page and workbooks, for backfilling history.

ICE overwrites its workbooks, so the Wayback Machine is the only record of most past versions.
The CDX API lists captures; ``output=json`` returns a list of rows whose first row names the
fields (normally urlkey, timestamp, original, mimetype, statuscode, digest, length). Each capture's
raw bytes are served at ``<archive>/web/<timestamp>id_/<original>``; the caller fetches them and
dates the observation by the capture time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode, urlsplit

from scrapers.http import Fetcher, FetchError

WAYBACK_BASE = "https://web.archive.org"
WAYBACK_CDX = f"{WAYBACK_BASE}/cdx/search/cdx"
REVISIT_MIMETYPE = "warc/revisit"


@dataclass(frozen=True)
class Capture:
    """One CDX row. ``status`` is None for a revisit record (CDX writes ``-``)."""

    timestamp: str
    captured_at: datetime
    original: str
    mimetype: str
    status: int | None
    digest: str
    length: int | None
    raw_url: str

    @property
    def usable(self) -> bool:
        """True when the capture can hold the file: a 200, or a revisit of earlier bytes."""
        return self.status == 200 or (self.status is None and self.mimetype == REVISIT_MIMETYPE)


def parse_timestamp(timestamp: str) -> datetime:
    """A CDX timestamp (``YYYYMMDDhhmmss``, possibly shortened) as a UTC datetime."""
    if not timestamp.isdigit() or not 4 <= len(timestamp) <= 14:
        raise ValueError(f"not a CDX timestamp: {timestamp!r}")
    padded = timestamp + "0101000000"[len(timestamp) - 4 :]
    return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def raw_capture_url(timestamp: str, original: str, archive_base: str = WAYBACK_BASE) -> str:
    """The URL of a capture's original bytes: the ``id_`` flag turns off Wayback's rewriting."""
    return f"{archive_base.rstrip('/')}/web/{timestamp}id_/{original}"


def parse_cdx_json(text: str, archive_base: str = WAYBACK_BASE) -> list[Capture]:
    """Parse a CDX ``output=json`` answer; an empty answer means no captures.

    Fields are looked up by the header row's names, so a ``fl=`` reordering still parses.
    """
    rows = json.loads(text) if text.strip() else []
    if not rows:
        return []
    header = rows[0]
    missing = {"timestamp", "original"} - set(header)
    if missing:
        raise ValueError(f"CDX header {header!r} lacks {sorted(missing)}")
    captures = []
    for row in rows[1:]:
        record = dict(zip(header, row, strict=True))
        status = record.get("statuscode", "-")
        length = record.get("length", "-")
        captures.append(
            Capture(
                timestamp=record["timestamp"],
                captured_at=parse_timestamp(record["timestamp"]),
                original=record["original"],
                mimetype=record.get("mimetype", ""),
                status=int(status) if status.isdigit() else None,
                digest=record.get("digest", ""),
                length=int(length) if length.isdigit() else None,
                raw_url=raw_capture_url(record["timestamp"], record["original"], archive_base),
            )
        )
    return captures


def cdx_query_url(
    cdx_base: str, url_pattern: str, from_date: date | datetime, to_date: date | datetime
) -> str:
    """The CDX query for ``url_pattern`` (trailing ``*``: a prefix); both ends inclusive."""
    query = {
        "url": url_pattern,
        "output": "json",
        "from": _cdx_time(from_date),
        "to": _cdx_time(to_date),
    }
    return f"{cdx_base}?{urlencode(query)}"


def list_captures(
    fetcher: Fetcher,
    cdx_base: str,
    url_pattern: str,
    from_date: date | datetime,
    to_date: date | datetime,
) -> list[Capture]:
    """Usable captures of ``url_pattern`` between the dates, oldest first, without repeats.

    Raw capture URLs are built on the CDX server's own origin, so a test server standing in for
    the archive serves both the listing and the bytes. Raises
    :class:`~scrapers.http.FetchError` when the listing cannot be fetched or parsed.
    """
    query_url = cdx_query_url(cdx_base, url_pattern, from_date, to_date)
    text = fetcher.fetch_text(query_url, accept="application/json,text/plain;q=0.9,*/*;q=0.8")
    parts = urlsplit(cdx_base)
    try:
        captures = parse_cdx_json(text, f"{parts.scheme}://{parts.netloc}")
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise FetchError(f"{query_url}: not a CDX JSON listing: {exc}") from exc
    unique: dict[tuple[str, str], Capture] = {}
    for capture in captures:
        if capture.usable:
            unique.setdefault((capture.timestamp, capture.original), capture)
    return sorted(unique.values(), key=lambda c: (c.captured_at, c.original))


def _cdx_time(value: date | datetime) -> str:
    """CDX time bound: ``YYYYMMDD`` for a date, ``YYYYMMDDhhmmss`` (UTC) for a datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y%m%d%H%M%S")
    return value.strftime("%Y%m%d")

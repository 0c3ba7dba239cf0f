"""A real HTTP server on 127.0.0.1 that replays ICE's 287(g) publication history.

The timeline comes from the corpus (``../shared/ice-corpus``): every row of ``publications.csv``
is one publication of a corpus file under an ICE file name. Its moment is the date the name
carries (``participatingAgencies04032025pm.xlsx`` -> 2025-04-03) when that date is a real day
no earlier than the file's own date (MANIFEST ``date``) and at most 60 days later; otherwise
(undated names, a year typed 3025, ``08022025`` on a file saved in September) the file's date;
a 9-digit date reads as month, day, year (``090022025`` -> 2025-09-02). The time of day comes
from the suffix: am 09:00, none 12:00, mid 13:00, pm 18:00, plus an hour for a second upload
(``B``, ``2``, ``_b``); a name re-used for other bytes at the same moment goes up a minute later.

The page link a publication fills (participating or pending) follows its *name*, not its
content: this replays 2025-09-22, when the "participating" URL served the pending list. At any
moment the page links, per link, the latest publication so far; a file URL serves the latest
bytes published under that name so far (names were sometimes re-used for changed bytes), with
an ETag and Last-Modified, and answers conditional requests with 304.

Faults can be injected per path, and every request and body byte is counted per path.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import cached_property
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from .local_server import BLOCK_PAGE, HTML_TYPE, PAGE_PATH, XLSX_TYPE, LocalServer

DOCLIB_PATH = "/doclib/about/offices/ero/287g/"
CDX_PATH = "/cdx/search/cdx"
ICE_ORIGIN = "https://www.ice.gov"

Slot = Literal["participating", "pending"]

_NAME = re.compile(
    r"^(?P<stem>[a-z0-9]*?(?P<slot>participating|pending)agenc(?:y|ies))"
    r"(?P<date>\d{6,9})?(?P<part>am|mid|pm)?(?P<extra>[a-z0-9_]*)\.xlsx$",
    re.IGNORECASE,
)
_PART_HOUR = {"am": 9, "": 12, "mid": 13, "pm": 18}
_MAX_NAME_LAG = timedelta(days=60)
_CAPTURE = re.compile(r"^/web/(?P<ts>\d{14})id_/(?P<original>.+)$")


@dataclass(frozen=True)
class Publication:
    """One corpus file served under one ICE name from a reconstructed moment on."""

    name: str
    slot: Slot
    published: datetime
    file: str
    sha256: str
    content_list: str

    @property
    def path(self) -> str:
        return DOCLIB_PATH + self.name

    @property
    def etag(self) -> str:
        return f'"{self.sha256[:20]}"'


def name_date(name: str, file_date: date) -> date | None:
    """The publication date an ICE file name carries, if it is plausible for ``file_date``."""
    match = _NAME.match(name)
    digits = match and match["date"]
    if not digits:
        return None
    if len(digits) == 6:
        month, day, year = digits[:2], digits[2:4], "20" + digits[4:]
    else:
        month, day, year = digits[:2], digits[2:-4], digits[-4:]
    try:
        carried = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return carried if file_date <= carried <= file_date + _MAX_NAME_LAG else None


def published_at(name: str, file_date: date) -> datetime:
    """The reconstructed moment a name went up (see the module docstring)."""
    match = _NAME.match(name)
    part = (match["part"] or "").lower() if match else ""
    extra = 1 if match and match["extra"] else 0
    day = name_date(name, file_date) or file_date
    return datetime.combine(day, time(_PART_HOUR[part] + extra), tzinfo=UTC)


class ReplayCorpus:
    """The corpus as a timeline of publications, with the workbook bytes read on demand."""

    def __init__(self, corpus_dir: Path) -> None:
        self.dir = corpus_dir
        with open(corpus_dir / "MANIFEST.csv", newline="") as handle:
            manifest = {row["file"]: row for row in csv.DictReader(handle)}
        with open(corpus_dir / "publications.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        publications = []
        for row in rows:
            entry = manifest[row["file"]]
            match = _NAME.match(row["ice_file_name"])
            if match is None:
                raise ValueError(f"unexpected ICE file name {row['ice_file_name']!r}")
            publications.append(
                Publication(
                    name=row["ice_file_name"],
                    slot="participating" if match["slot"].lower() == "participating" else "pending",
                    published=published_at(row["ice_file_name"], date.fromisoformat(entry["date"])),
                    file=row["file"],
                    sha256=row["sha256"],
                    content_list=entry["list"],
                )
            )
        modified = {file: row["workbook_modified_utc"] for file, row in manifest.items()}
        publications.sort(key=lambda p: (p.published, modified[p.file], p.name))
        self.publications: list[Publication] = _one_moment_per_name(publications)
        self._bytes: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def body(self, file: str) -> bytes:
        """The bytes of a corpus file (cached)."""
        with self._lock:
            if file not in self._bytes:
                self._bytes[file] = (self.dir / "files" / file).read_bytes()
            return self._bytes[file]

    def days(self) -> list[date]:
        """Every day on which something was published, oldest first."""
        return sorted({p.published.date() for p in self.publications})

    def page_links(self, when: datetime) -> dict[Slot, Publication]:
        """The publication each page link pointed at, at moment ``when``."""
        links: dict[Slot, Publication] = {}
        for publication in self.publications:
            if publication.published <= when:
                links[publication.slot] = publication
        return links

    def served(self, name: str, when: datetime) -> Publication | None:
        """The latest publication under ``name`` at moment ``when`` (None before the first)."""
        current = None
        for publication in self.publications:
            if publication.name == name and publication.published <= when:
                current = publication
        return current

    @cached_property
    def captures(self) -> list[list[str]]:
        """CDX rows (header first): one capture per publication and per page change."""
        rows = [["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]]
        for moment in sorted({p.published for p in self.publications}):
            page = render_page(self.page_links(moment)).encode()
            rows.append(_cdx_row(moment, ICE_ORIGIN + PAGE_PATH, "text/html", page))
        for publication in self.publications:
            body = self.body(publication.file)
            original = ICE_ORIGIN + publication.path
            rows.append(_cdx_row(publication.published, original, XLSX_TYPE, body))
        return rows


def _one_moment_per_name(publications: list[Publication]) -> list[Publication]:
    """Give a name re-used for new bytes at the same moment a later minute, so both are served.

    ``participatingAgencies07032025pm.xlsx`` held two different files on the same afternoon.
    """
    latest: dict[str, datetime] = {}
    moved = []
    for publication in publications:
        previous = latest.get(publication.name)
        if previous is not None and publication.published <= previous:
            publication = replace(publication, published=previous + timedelta(minutes=1))
        latest[publication.name] = publication.published
        moved.append(publication)
    return sorted(moved, key=lambda p: p.published)


def render_page(links: dict[Slot, Publication]) -> str:
    """An HTML page shaped like ICE's 287(g) page, linking the given workbooks."""
    sections = []
    for slot, heading in (
        ("participating", "Participating Agencies"),
        ("pending", "Pending Agencies"),
    ):
        publication = links.get(slot)
        if publication is not None:
            sections.append(
                f"<h2>{heading}</h2>\n<p>The agencies are listed in this spreadsheet: "
                f'<a href="{html.escape(publication.path)}" type="{XLSX_TYPE}">'
                f"{heading} (XLSX)</a></p>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        "<title>Delegation of Immigration Authority Section 287(g) | ICE</title></head>\n"
        '<body><nav><a href="/">Home</a> <a href="/identify-and-arrest">Identify and Arrest</a>'
        "</nav>\n<main><h1>Delegation of Immigration Authority Section 287(g)</h1>\n"
        "<p>Replayed page for tests: state and local agencies with 287(g) agreements.</p>\n"
        + "\n".join(sections)
        + '\n<p><a href="/doclib/287gMOA/287gWSO_ExampleCountySO.pdf">Example agreement (PDF)'
        "</a></p>\n</main>\n"
        '<footer><a href="https://www.dhs.gov/">Department of Homeland Security</a></footer>'
        "\n</body></html>\n"
    )


def _cdx_row(moment: datetime, original: str, mimetype: str, body: bytes) -> list[str]:
    """A CDX row as the Wayback Machine writes it (digest: base32 SHA-1 of the payload)."""
    parts = urlsplit(original)
    host = (parts.hostname or "").removeprefix("www.")
    urlkey = ",".join(reversed(host.split("."))) + ")" + parts.path.lower()
    digest = base64.b32encode(hashlib.sha1(body).digest()).decode()
    timestamp = moment.strftime("%Y%m%d%H%M%S")
    return [urlkey, timestamp, original, mimetype, "200", digest, str(len(body))]


@dataclass
class Fault:
    """A misbehaviour for one path; ``remaining`` None means every request."""

    kind: Literal["status", "block", "slow", "truncate", "unsized", "redirect"]
    remaining: int | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    send_bytes: int = 0
    location: str = ""


@dataclass(frozen=True)
class Route:
    """Fixed content a test serves at a path (a hand-written page, a download alias...)."""

    body: bytes
    content_type: str
    status: int = 200


@dataclass(frozen=True)
class RequestRecord:
    """What the server saw of one request."""

    path: str
    query: str
    headers: dict[str, str]


class ReplayServer(LocalServer):
    """ICE's page, workbooks and a Wayback CDX endpoint, replayed on 127.0.0.1 (port 0).

    Set the moment with :meth:`set_day` / :meth:`set_time` (default: the end of the last
    published day). Inject faults per path; read :attr:`requests` and :attr:`body_bytes`
    (Counters keyed by path) to assert what was downloaded. Past ``max_requests`` requests the
    server answers 503 and sets :attr:`over_budget`, so a runaway retry loop stays bounded.
    """

    def __init__(self, corpus: ReplayCorpus, *, max_requests: int = 300) -> None:
        self.corpus = corpus
        self.max_requests = max_requests
        self.now = datetime.combine(corpus.days()[-1], time.max, tzinfo=UTC)
        self.requests: Counter[str] = Counter()
        self.body_bytes: Counter[str] = Counter()
        self.log: list[RequestRecord] = []
        self.over_budget = False
        self.extra_captures: list[list[str]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    @property
    def cdx_url(self) -> str:
        return self.base_url + CDX_PATH

    def workbook_url(self, name: str) -> str:
        """The local URL of an ICE workbook name."""
        return self.base_url + DOCLIB_PATH + name

    def set_day(self, day: date) -> None:
        """Replay the state at the end of ``day``."""
        self.now = datetime.combine(day, time.max, tzinfo=UTC)

    def set_time(self, when: datetime) -> None:
        """Replay the state at moment ``when`` (UTC), e.g. between an am and a pm upload."""
        self.now = when

    def page_links(self) -> dict[Slot, Publication]:
        """The publications the page links at the current moment."""
        return self.corpus.page_links(self.now)

    def add_route(self, path: str, body: bytes, content_type: str, status: int = 200) -> None:
        """Serve fixed content at ``path`` (checked before the replayed site)."""
        self._routes[path] = Route(body, content_type, status)

    def block(self, path: str, status: int = 403, times: int | None = None) -> None:
        """Answer with the CDN's HTML "Access Denied" page under ``status`` (403 or 200)."""
        self._add(path, Fault("block", times, status=status))

    def fail(self, path: str, status: int = 500, times: int | None = None) -> None:
        """Answer ``status`` with a short error body, ``times`` times (then normally)."""
        self._add(path, Fault("status", times, status=status))

    def rate_limit(self, path: str, retry_after: str, times: int | None = 1) -> None:
        """Answer 429 with a ``Retry-After`` header (seconds or an HTTP date)."""
        self._add(path, Fault("status", times, status=429, headers={"Retry-After": retry_after}))

    def slow(self, path: str, delay: float, times: int | None = None) -> None:
        """Wait ``delay`` seconds before answering (to trip the client's read timeout)."""
        self._add(path, Fault("slow", times, delay=delay))

    def truncate(self, path: str, send_bytes: int, times: int | None = None) -> None:
        """Promise the full Content-Length, send ``send_bytes`` bytes, then close."""
        self._add(path, Fault("truncate", times, send_bytes=send_bytes))

    def unsized(self, path: str, times: int | None = None) -> None:
        """Send the body without Content-Length, ended by closing the connection."""
        self._add(path, Fault("unsized", times))

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Redirect ``path`` to ``location`` (e.g. another host)."""
        self._add(path, Fault("redirect", None, status=status, location=location))

    def _add(self, path: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(path, []).append(fault)

    def _take_fault(self, path: str) -> Fault | None:
        """The first active fault for ``path``, consuming one of its uses."""
        with self._lock:
            for fault in self._faults.get(path, []):
                if fault.remaining is None:
                    return fault
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def _admit(self, record: RequestRecord) -> bool:
        """Count a request; False once the request budget is spent."""
        with self._lock:
            self.requests[record.path] += 1
            self.log.append(record)
            if sum(self.requests.values()) > self.max_requests:
                self.over_budget = True
            return not self.over_budget

    def _count_body(self, path: str, size: int) -> None:
        """Count body bytes handed to the socket for ``path``."""
        with self._lock:
            self.body_bytes[path] += size

    def _resource(self, path: str, query: str) -> tuple[Route, Publication | None] | None:
        """What the replayed site holds at ``path`` now: content and, for workbooks, its origin."""
        if path in self._routes:
            return self._routes[path], None
        if path == PAGE_PATH:
            return Route(render_page(self.page_links()).encode(), HTML_TYPE), None
        if path == CDX_PATH:
            return Route(self._cdx(parse_qs(query)), "application/json"), None
        if path.startswith(DOCLIB_PATH):
            publication = self.corpus.served(path.removeprefix(DOCLIB_PATH), self.now)
            if publication:
                return Route(self.corpus.body(publication.file), XLSX_TYPE), publication
        capture = _CAPTURE.match(path)
        if capture:
            return self._capture(capture["ts"], capture["original"])
        return None

    def _cdx(self, query: dict[str, list[str]]) -> bytes:
        """A CDX ``output=json`` answer for ``url`` (trailing ``*`` = prefix), ``from``, ``to``."""
        pattern = _strip_origin(query.get("url", [""])[0])
        low = query.get("from", [""])[0]
        high = query.get("to", [""])[0]
        header, *rows = self.corpus.captures
        selected = [
            row
            for row in rows + self.extra_captures
            if (
                _strip_origin(row[2]).startswith(pattern[:-1])
                if pattern.endswith("*")
                else _strip_origin(row[2]) == pattern
            )
            and row[1][: len(low)] >= low
            and row[1][: len(high)] <= high
        ]
        return json.dumps([header, *selected] if selected else []).encode()

    def _capture(self, timestamp: str, original: str) -> tuple[Route, Publication | None] | None:
        """The raw bytes of an archived capture, as the Wayback ``id_`` URL serves them."""
        when = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        if original == ICE_ORIGIN + PAGE_PATH:
            return Route(render_page(self.corpus.page_links(when)).encode(), HTML_TYPE), None
        publication = self.corpus.served(original.rsplit("/", 1)[-1], when)
        if publication is None or ICE_ORIGIN + publication.path != original:
            return None
        return Route(self.corpus.body(publication.file), XLSX_TYPE), publication


def _strip_origin(url: str) -> str:
    """A URL without scheme and ``www.``, as the CDX index compares them."""
    return re.sub(r"^(https?://)?(www\.)?", "", url)


def _not_modified(headers: dict[str, str], publication: Publication) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins; else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or publication.etag in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return publication.published <= since
    return False


def _handler_for(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``server``'s state."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ReplayICE/1.0"
        timeout = 5  # an idle keep-alive connection frees its thread after this
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet: tests read counters, not logs."""

        def do_GET(self) -> None:  # the name http.server dispatches to
            parts = urlsplit(self.path)
            headers = {key.lower(): value for key, value in self.headers.items()}
            if not server._admit(RequestRecord(parts.path, parts.query, headers)):
                self._send(parts.path, 503, b"request budget exhausted", "text/plain")
                return
            fault = server._take_fault(parts.path)
            if fault and fault.kind == "slow":
                if server._stop.wait(fault.delay):
                    return
                fault = None
            if fault and fault.kind == "block":
                self._send(parts.path, fault.status, BLOCK_PAGE, HTML_TYPE)
                return
            if fault and fault.kind == "status":
                body = f"error {fault.status}".encode()
                self._send(parts.path, fault.status, body, "text/plain", fault.headers)
                return
            if fault and fault.kind == "redirect":
                self._send(
                    parts.path, fault.status, b"", "text/plain", {"Location": fault.location}
                )
                return
            found = server._resource(parts.path, parts.query)
            if found is None:
                self._send(parts.path, 404, b"not found", "text/plain")
                return
            route, publication = found
            extra: dict[str, str] = {}
            if publication is not None:
                extra = {
                    "ETag": publication.etag,
                    "Last-Modified": format_datetime(publication.published, usegmt=True),
                }
                if _not_modified(headers, publication):
                    self._send(parts.path, 304, b"", None, extra)
                    return
            limit = fault.send_bytes if fault and fault.kind == "truncate" else None
            sized = not (fault and fault.kind == "unsized")
            self._send(
                parts.path, route.status, route.body, route.content_type, extra, limit, sized
            )

        def _send(
            self,
            path: str,
            status: int,
            body: bytes,
            content_type: str | None,
            headers: dict[str, str] | None = None,
            limit: int | None = None,
            sized: bool = True,
        ) -> None:
            """Write a response. With ``limit``, promise all of ``body`` but send only a part;
            unsized, omit Content-Length and end the body by closing the connection."""
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if status != 304 and sized:
                self.send_header("Content-Length", str(len(body)))
            if not sized:
                self.send_header("Connection", "close")
            self.end_headers()
            sent = body if limit is None else body[:limit]
            # counted before writing: the client may have read it all before write() returns
            server._count_body(path, len(sent))
            try:
                self.wfile.write(sent)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            if limit is not None or not sized:
                self.close_connection = True

    return Handler

"""Fetch ICE's page and workbooks politely, and never mistake a block page for data.

ICE's CDN sometimes answers with an HTML "Access Denied" page, under HTTP 403 or even 200, and
connections drop mid-body. Every workbook fetch therefore ends in a :class:`FetchResult` whose
``outcome`` says what happened (``ok``, ``not_modified``, ``blocked``, ``failed``); only ``ok``
carries bytes, and only bytes that start like a zip file (``PK``). HTTP-level problems never
raise. Every request, redirect hops included, passes an httpx request hook that refuses hosts
off the allowlist (the source's host and the Internet Archive, plain ``http://`` only for a
local test server) before anything is sent; retries with exponential backoff that honour
``Retry-After`` come from tenacity.

Every download is bounded: a total ``deadline`` covers all its attempts, waits and body bytes
(a body dripping one byte a second is cut off when the deadline passes, not only when a read
times out), and only transient trouble is retried (a connection error, 429, a 5xx that is not
a block page); a block page or any other 4xx is final at once. This is the one retry layer:
callers (jobs, flows) never retry on top of it.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
)

from parsers.sniff import PDF_MAGIC, ZIP_MAGIC, looks_like_html

Outcome = Literal["ok", "not_modified", "blocked", "failed"]

DEFAULT_SOURCE_HOST = "www.ice.gov"
ARCHIVE_HOST = "web.archive.org"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})

BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ACCEPT_WORKBOOK = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
    "application/vnd.ms-excel;q=0.9,*/*;q=0.8"
)
ACCEPT_PAGE = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_PDF = "application/pdf,*/*;q=0.8"
# What a body must start with, as named in errors and asked for in the Accept header.
_KINDS = {ZIP_MAGIC: ("workbook", ACCEPT_WORKBOOK), PDF_MAGIC: ("PDF", ACCEPT_PDF)}

# Transient answers, retried with backoff: "too many requests" (429 asks to come back later,
# the one 4xx that is not final) and server errors, unless the body is a block page.
RETRY_STATUSES = frozenset({429} | set(range(500, 600)))
DEFAULT_DEADLINE = 60.0  # seconds for one download, every attempt and wait included
_RETRY_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_DEADLINE_SLACK = 0.05  # a timeout this close to the deadline is the deadline's
_ERROR_BODY_CAP = 64 * 1024  # enough of a non-200 body to recognise a block page
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_BLOCK_TITLE = re.compile(r"access denied|request rejected|forbidden|blocked", re.IGNORECASE)
_BLOCK_HOST = re.compile(rb"errors\.edgesuite\.net", re.IGNORECASE)


@dataclass(frozen=True)
class FetchResult:
    """One observation of a URL: what was asked, what came back, and what it means.

    ``body`` and ``sha256`` are set only for ``ok``; ``bytes`` counts the body bytes received
    (also for a block page, to show what was refused). ``error`` names the URL and the problem
    for ``blocked`` and ``failed``.
    """

    url: str
    final_url: str
    status: int | None
    etag: str | None
    last_modified: str | None
    content_type: str | None
    body: bytes | None
    bytes: int
    sha256: str | None
    fetched_at: datetime
    outcome: Outcome
    error: str | None
    refused: bool = False  # the allowlist (or a bad URL) stopped it: nothing was sent


class FetchError(RuntimeError):
    """A page or listing could not be fetched (blocked, refused, HTTP error, timeout...)."""


class _Refused(Exception):
    """Raised by the request hook: a hop the allowlist does not allow (nothing was sent)."""

    def __init__(self, url: str, reason: str):
        super().__init__(reason)
        self.url = url
        self.reason = reason


@dataclass
class _Exchange:
    """The last response (or transport error) of a request after redirects and retries."""

    url: str
    final_url: str
    attempts: int = 1
    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    encoding: str | None = None
    error: str | None = None
    retryable: bool = False
    refused: bool = False  # not requested: off the allowlist, or not a valid URL


class Fetcher:
    """An ``httpx.Client`` with retries, conditional GET, a size cap, a host allowlist and a
    total deadline per download.

    ``sleep`` is injectable so tests can record backoff waits instead of sleeping.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        source_host: str = DEFAULT_SOURCE_HOST,
        max_bytes: int = 20 * 1024 * 1024,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        max_redirects: int = 5,
        deadline: float = DEFAULT_DEADLINE,
        user_agent: str = BROWSER_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.allowed_hosts = frozenset({source_host.lower(), ARCHIVE_HOST})
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self._ends_at = float("inf")  # monotonic time the current download must end by
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_redirects = max_redirects
        self._sleep = sleep
        self._client = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Language": "en-US,en;q=0.5"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=True,
            max_redirects=max_redirects,
            event_hooks={"request": [self._check_hop]},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        expect: bytes = ZIP_MAGIC,
    ) -> FetchResult:
        """Fetch a workbook (or, with ``expect=b"%PDF"``, a PDF); never raises for HTTP-level
        problems.

        Pass the ``etag`` / ``last_modified`` of the previous observation of this URL to make
        the request conditional: an unchanged file then costs one bodiless 304. ``expect`` is
        the magic prefix a body must start with to be ``ok``.
        """
        _, accept = _kinds(expect)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        exchange = self._exchange(url, headers)
        outcome, error = _judge_workbook(exchange, expect)
        ok = outcome == "ok"
        return FetchResult(
            url=url,
            final_url=exchange.final_url,
            status=exchange.status,
            etag=exchange.headers.get("etag") or (etag if outcome == "not_modified" else None),
            last_modified=exchange.headers.get("last-modified")
            or (last_modified if outcome == "not_modified" else None),
            content_type=exchange.headers.get("content-type"),
            body=exchange.body if ok else None,
            bytes=len(exchange.body),
            sha256=hashlib.sha256(exchange.body).hexdigest() if ok else None,
            fetched_at=datetime.now(UTC),
            outcome=outcome,
            error=error,
            refused=exchange.refused,
        )

    def fetch_page(self, url: str) -> str:
        """Fetch an HTML page as text; raise :class:`FetchError` when blocked or failed."""
        return _text_or_raise(self._exchange(url, {"Accept": ACCEPT_PAGE}))

    def fetch_text(self, url: str, *, accept: str = "*/*") -> str:
        """Fetch a text document (e.g. a CDX listing); raise :class:`FetchError` unless HTTP 200."""
        return _text_or_raise(self._exchange(url, {"Accept": accept}))

    def _exchange(self, url: str, headers: dict[str, str]) -> _Exchange:
        """Run the request with retries: 429, 5xx and transport errors back off and retry,
        all within one deadline (no attempt or wait starts that would end past it)."""
        self._ends_at = time.monotonic() + self.deadline
        retrying = Retrying(
            retry=retry_if_result(lambda exchange: exchange.retryable),
            stop=stop_after_attempt(self.retries + 1) | stop_before_delay(self.deadline),
            wait=self._wait,
            sleep=self._sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # the last exchange
        )
        exchange = retrying(self._follow, url, headers)
        exchange.attempts = retrying.statistics["attempt_number"]
        return exchange

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After when it gives one, else
        exponential backoff; never more than ``max_wait``."""
        exchange = state.outcome.result()
        wait = parse_retry_after(exchange.headers.get("retry-after"), datetime.now(UTC))
        if wait is None:
            wait = self.backoff * 2 ** (state.attempt_number - 1)
        return min(wait, self.max_wait)

    def _check_hop(self, request: httpx.Request) -> None:
        """httpx request hook, run for every hop: refuse one the allowlist does not allow."""
        refusal = self._refusal(str(request.url))
        if refusal:
            raise _Refused(str(request.url), refusal)

    def _follow(self, url: str, headers: dict[str, str]) -> _Exchange:
        """One attempt: GET ``url``, following redirects only to allowed hosts."""
        refusal = self._refusal(url)
        if refusal:
            return _Exchange(url, url, error=f"{url}: refused: {refusal}", refused=True)
        left = self._ends_at - time.monotonic()
        if left <= 0:
            return _Exchange(url, url, error=f"{url}: {self._past_deadline()}")
        timeout = httpx.Timeout(
            min(self.read_timeout, left), connect=min(self.connect_timeout, left)
        )
        try:
            with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
                return self._read(url, str(response.url) if response.history else url, response)
        except _Refused as exc:
            hop = "" if exc.url == url else f" (redirected from {url})"
            return _Exchange(
                url, exc.url, error=f"{exc.url}{hop}: refused: {exc.reason}", refused=True
            )
        except httpx.InvalidURL as exc:
            return _Exchange(url, url, error=f"{url}: refused: invalid URL ({exc})", refused=True)
        except httpx.TooManyRedirects as exc:
            return _Exchange(
                url,
                _request_url(exc, url),
                error=f"{url}: more than {self.max_redirects} redirects",
            )
        except httpx.TransportError as exc:
            current = _request_url(exc, url)
            if time.monotonic() >= self._ends_at - _DEADLINE_SLACK:  # the timeout was the deadline
                return _Exchange(url, current, error=f"{current}: {self._past_deadline()}")
            return _Exchange(
                url,
                current,
                error=f"{current}: {_describe(exc)}",
                retryable=isinstance(exc, _RETRY_TRANSPORT_ERRORS),
            )

    def _read(self, url: str, current: str, response: httpx.Response) -> _Exchange:
        """Stream the body under the size cap; a non-200 body is kept only in part."""
        exchange = _Exchange(
            url,
            current,
            status=response.status_code,
            headers=response.headers,
            encoding=response.charset_encoding,
            retryable=response.status_code in RETRY_STATUSES,
        )
        if response.status_code == 304:
            return exchange
        cap = self.max_bytes if response.status_code == 200 else _ERROR_BODY_CAP
        declared = response.headers.get("content-length", "")
        too_large = f"{current}: body larger than the {self.max_bytes}-byte cap"
        if response.status_code == 200 and declared.isdigit() and int(declared) > cap:
            exchange.error = f"{too_large} (Content-Length {declared}); not downloaded"
            return exchange
        chunks: list[bytes] = []
        size = 0
        late = False
        watchdog = _Watchdog(response, self._ends_at - time.monotonic())
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    break
                if time.monotonic() >= self._ends_at:
                    late = True
                    break
        except httpx.TransportError as exc:
            exchange.body = b"".join(chunks)
            if watchdog.fired:
                exchange.error = f"{current}: {self._past_deadline()} ({size} bytes received)"
                exchange.retryable = False
                return exchange
            promised = f" of the {declared} promised by Content-Length" if declared else ""
            exchange.error = (
                f"{current}: truncated body: received {response.num_bytes_downloaded} bytes"
                f"{promised} ({_describe(exc)})"
            )
            exchange.retryable = True
            return exchange
        finally:
            watchdog.cancel()
        body = b"".join(chunks)
        if size > cap and response.status_code == 200:
            exchange.error = f"{too_large}; download aborted"
        elif late or watchdog.fired:  # the deadline cut the body short
            exchange.error = f"{current}: {self._past_deadline()} ({size} bytes received)"
            exchange.retryable = False
        if exchange.retryable and _is_block_page(body):
            exchange.retryable = False  # a CDN refusal under 5xx: asking again will not help
        exchange.body = body[:cap]
        return exchange

    def _past_deadline(self) -> str:
        return f"gave up: the {self.deadline:g}-second deadline for one download passed"

    def _refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None when it is on the allowlist."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError as exc:
            return f"not a valid URL ({exc})"
        if parts.scheme == "http" and host not in LOCAL_HOSTS:
            return "plain http:// is allowed only for 127.0.0.1 and localhost"
        if parts.scheme not in ("http", "https"):
            return f"unsupported scheme {parts.scheme!r}"
        if host not in self.allowed_hosts:
            return f"host {host!r} is not on the allowlist {sorted(self.allowed_hosts)}"
        return None


def host_trouble(result: FetchResult) -> bool:
    """True when a result says its host refuses us or cannot be reached (a block page, no
    connection, a timeout or deadline, 429 or 5xx after the retries), as opposed to an answer
    about this one URL (stored, 404, not a PDF)."""
    if result.outcome == "blocked":
        return True
    if result.outcome != "failed" or result.refused:
        return False
    return result.status is None or result.status in RETRY_STATUSES


class CircuitBreaker:
    """Stop asking a host after ``threshold`` consecutive troubles (:func:`host_trouble`).

    For a run of many downloads from one host (the MOA harvest): a host that blocks us or
    cannot be reached is left alone for the rest of the run instead of being asked for every
    remaining URL. Any other answer from the host resets its count.
    """

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold
        self._streak: dict[str, int] = {}
        self.tripped: dict[str, str] = {}  # host -> why it is left alone

    def allows(self, url: str) -> bool:
        return _host(url) not in self.tripped

    def record(self, url: str, trouble: bool, error: str | None = None) -> str | None:
        """Count one answer from ``url``'s host; the reason when this answer trips the breaker."""
        host = _host(url)
        if not trouble:
            self._streak[host] = 0
            return None
        self._streak[host] = self._streak.get(host, 0) + 1
        if self._streak[host] < self.threshold or host in self.tripped:
            return None
        self.tripped[host] = (
            f"{self.threshold} consecutive failures on {host} (last: {error or 'no answer'})"
        )
        return self.tripped[host]


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class _Watchdog:
    """Cut a response's connection when the download's deadline passes, so that a body
    dripping a byte at a time (each read within the read timeout) cannot outlive it."""

    def __init__(self, response: httpx.Response, seconds: float) -> None:
        self.fired = False
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        self._timer = None
        if sock is not None:
            self._timer = threading.Timer(max(seconds, 0.0), self._cut, (sock,))
            self._timer.daemon = True
            self._timer.start()

    def _cut(self, sock: socket.socket) -> None:
        self.fired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read: it sees the end
        except OSError:
            pass

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _kinds(expect: bytes) -> tuple[str, str]:
    """(name of the expected kind of file, Accept header) for a magic prefix."""
    if not expect:
        raise ValueError("expect must be a non-empty magic prefix")
    return _KINDS.get(expect, (f"file starting with {expect!r}", "*/*"))


def _judge_workbook(exchange: _Exchange, expect: bytes = ZIP_MAGIC) -> tuple[Outcome, str | None]:
    """Classify a response; ``ok`` only for a 200 whose body starts with ``expect``
    (``PK`` for a workbook, ``%PDF`` for a PDF)."""
    kind, _ = _kinds(expect)
    url, status, body = exchange.url, exchange.status, exchange.body
    if exchange.error:
        return "failed", exchange.error + _tries(exchange)
    if status == 304:
        return "not_modified", None
    html = looks_like_html(body, exchange.headers.get("content-type"))
    if status in (401, 403) or (status == 200 and html) or (html and _is_block_page(body)):
        found = f"an HTML page titled {_title(body)!r}" if html else f"{len(body)} bytes"
        return "blocked", f"{url}: blocked: HTTP {status} with {found} instead of a {kind}"
    if status != 200:
        return "failed", f"{url}: HTTP {status}{_tries(exchange)}"
    if not body.startswith(expect):
        return "failed", f"{url}: not a {kind}: body starts with {body[:16]!r}"
    return "ok", None


def _text_or_raise(exchange: _Exchange) -> str:
    """Decode a 200 text response, or raise :class:`FetchError` naming the URL and problem.

    A CDN block page (HTTP 401/403, or an "Access Denied" page under 200) is reported as
    blocked, so the caller does not go on to parse it as the real page.
    """
    url, status, body = exchange.url, exchange.status, exchange.body
    if exchange.error:
        raise FetchError(exchange.error + _tries(exchange))
    if status in (401, 403) or _is_block_page(body):
        raise FetchError(f"{url}: blocked: HTTP {status} with a page titled {_title(body)!r}")
    if status != 200:
        raise FetchError(f"{url}: HTTP {status}{_tries(exchange)}")
    return body.decode(exchange.encoding or "utf-8", errors="replace")


def _is_block_page(body: bytes) -> bool:
    """True for a CDN refusal page served in place of the real page (Akamai style)."""
    return bool(_BLOCK_TITLE.search(_title(body)) or _BLOCK_HOST.search(body[:_ERROR_BODY_CAP]))


def _tries(exchange: _Exchange) -> str:
    """The retry note for error messages: empty after a single attempt."""
    return f" after {exchange.attempts} attempts" if exchange.attempts > 1 else ""


def _title(body: bytes) -> str:
    """The HTML title of a body ("" when none), whitespace collapsed."""
    match = _TITLE.search(body[:_ERROR_BODY_CAP])
    return " ".join(match.group(1).decode("utf-8", "replace").split()) if match else ""


def _request_url(exc: httpx.RequestError, default: str) -> str:
    """The URL of the hop a request error happened on."""
    try:
        return str(exc.request.url)
    except RuntimeError:  # httpx raises when the error carries no request
        return default


def _describe(exc: httpx.TransportError) -> str:
    """A short human description of a transport error."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "read timed out (the server sent nothing within the read timeout)"
    return f"{type(exc).__name__}: {exc}"

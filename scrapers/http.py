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

What an answer means (outcome, block pages) is decided in :mod:`scrapers.answers`; which hosts
may be asked, and when to stop asking one, in :mod:`scrapers.hosts`.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
)

from parsers.sniff import ZIP_MAGIC
from scrapers.answers import (
    ACCEPT_PAGE,
    ERROR_BODY_CAP,
    RETRY_STATUSES,
    Exchange,
    FetchError,
    FetchResult,
    is_block_page,
    judge,
    kinds,
    text_or_raise,
)
from scrapers.hosts import ARCHIVE_HOST, DEFAULT_SOURCE_HOST, refusal

# What a fetch gives back, importable from here with the Fetcher itself.
__all__ = ["DEFAULT_DEADLINE", "Fetcher", "FetchError", "FetchResult", "parse_retry_after"]

BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_DEADLINE = 60.0  # seconds for one download, every attempt and wait included
# The first retry's wait in seconds (then doubled per attempt), unless the server says
# Retry-After. $ICE287G_RETRY_BACKOFF overrides it: the test suite sets 0, so a command it runs
# against a source that cannot be reached retries without waiting.
DEFAULT_BACKOFF = 1.0
BACKOFF_ENV = "ICE287G_RETRY_BACKOFF"
_RETRY_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_DEADLINE_SLACK = 0.05  # a timeout this close to the deadline is the deadline's


class _Refused(Exception):
    """Raised by the request hook: a hop the allowlist does not allow (nothing was sent)."""

    def __init__(self, url: str, reason: str):
        super().__init__(reason)
        self.url = url
        self.reason = reason


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
        backoff: float | None = None,
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
        self.backoff = default_backoff() if backoff is None else backoff
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
        _, accept = kinds(expect)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        exchange = self._exchange(url, headers)
        outcome, error = judge(exchange, expect)
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
        return text_or_raise(self._exchange(url, {"Accept": ACCEPT_PAGE}))

    def fetch_text(self, url: str, *, accept: str = "*/*") -> str:
        """Fetch a text document (e.g. a CDX listing); raise :class:`FetchError` unless HTTP 200."""
        return text_or_raise(self._exchange(url, {"Accept": accept}))

    def _exchange(self, url: str, headers: dict[str, str]) -> Exchange:
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

    def _follow(self, url: str, headers: dict[str, str]) -> Exchange:
        """One attempt: GET ``url``, following redirects only to allowed hosts."""
        refusal = self._refusal(url)
        if refusal:
            return Exchange(url, url, error=f"{url}: refused: {refusal}", refused=True)
        left = self._ends_at - time.monotonic()
        if left <= 0:
            return Exchange(url, url, error=f"{url}: {self._past_deadline()}")
        timeout = httpx.Timeout(
            min(self.read_timeout, left), connect=min(self.connect_timeout, left)
        )
        try:
            with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
                return self._read(url, str(response.url) if response.history else url, response)
        except _Refused as exc:
            hop = "" if exc.url == url else f" (redirected from {url})"
            return Exchange(
                url, exc.url, error=f"{exc.url}{hop}: refused: {exc.reason}", refused=True
            )
        except httpx.InvalidURL as exc:
            return Exchange(url, url, error=f"{url}: refused: invalid URL ({exc})", refused=True)
        except httpx.TooManyRedirects as exc:
            return Exchange(
                url,
                _request_url(exc, url),
                error=f"{url}: more than {self.max_redirects} redirects",
            )
        except httpx.TransportError as exc:
            current = _request_url(exc, url)
            if time.monotonic() >= self._ends_at - _DEADLINE_SLACK:  # the timeout was the deadline
                return Exchange(url, current, error=f"{current}: {self._past_deadline()}")
            return Exchange(
                url,
                current,
                error=f"{current}: {_describe(exc)}",
                retryable=isinstance(exc, _RETRY_TRANSPORT_ERRORS),
            )

    def _read(self, url: str, current: str, response: httpx.Response) -> Exchange:
        """Stream the body under the size cap; a non-200 body is kept only in part."""
        exchange = Exchange(
            url,
            current,
            status=response.status_code,
            headers=response.headers,
            encoding=response.charset_encoding,
            retryable=response.status_code in RETRY_STATUSES,
        )
        if response.status_code == 304:
            return exchange
        cap = self.max_bytes if response.status_code == 200 else ERROR_BODY_CAP
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
        if exchange.retryable and is_block_page(body):
            exchange.retryable = False  # a CDN refusal under 5xx: asking again will not help
        exchange.body = body[:cap]
        return exchange

    def _past_deadline(self) -> str:
        return f"gave up: the {self.deadline:g}-second deadline for one download passed"

    def _refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None when it is on the allowlist."""
        return refusal(url, self.allowed_hosts)


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


def default_backoff() -> float:
    """The first retry's wait: ``$ICE287G_RETRY_BACKOFF`` seconds when set, else 1 s."""
    value = os.environ.get(BACKOFF_ENV, "").strip()
    if not value:
        return DEFAULT_BACKOFF
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"{BACKOFF_ENV}={value!r}: expected a number of seconds, 0 or more")
    return seconds


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

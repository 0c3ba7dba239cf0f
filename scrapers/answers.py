"""What an answer means: the outcome of a download, and the text of a page or listing.

A response (after redirects and retries, see :mod:`scrapers.http`) is an :class:`Exchange`;
:func:`judge` turns it into the ``outcome`` of a :class:`FetchResult` (``ok`` only for a 200
whose body starts like the expected kind of file), and :func:`text_or_raise` into the text of
a page or raises :class:`FetchError`. A CDN block page ("Access Denied", under 403 or even
200) is ``blocked``, never data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import httpx

from parsers.sniff import PDF_MAGIC, ZIP_MAGIC, looks_like_html

Outcome = Literal["ok", "not_modified", "blocked", "failed"]

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
ERROR_BODY_CAP = 64 * 1024  # enough of a non-200 body to recognise a block page
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


@dataclass
class Exchange:
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


def kinds(expect: bytes) -> tuple[str, str]:
    """(name of the expected kind of file, Accept header) for a magic prefix."""
    if not expect:
        raise ValueError("expect must be a non-empty magic prefix")
    return _KINDS.get(expect, (f"file starting with {expect!r}", "*/*"))


def judge(exchange: Exchange, expect: bytes = ZIP_MAGIC) -> tuple[Outcome, str | None]:
    """Classify a response; ``ok`` only for a 200 whose body starts with ``expect``
    (``PK`` for a workbook, ``%PDF`` for a PDF)."""
    kind, _ = kinds(expect)
    url, status, body = exchange.url, exchange.status, exchange.body
    if exchange.error:
        return "failed", exchange.error + _tries(exchange)
    if status == 304:
        return "not_modified", None
    html = looks_like_html(body, exchange.headers.get("content-type"))
    if status in (401, 403) or (status == 200 and html) or (html and is_block_page(body)):
        found = f"an HTML page titled {_title(body)!r}" if html else f"{len(body)} bytes"
        return "blocked", f"{url}: blocked: HTTP {status} with {found} instead of a {kind}"
    if status != 200:
        return "failed", f"{url}: HTTP {status}{_tries(exchange)}"
    if not body.startswith(expect):
        return "failed", f"{url}: not a {kind}: body starts with {body[:16]!r}"
    return "ok", None


def text_or_raise(exchange: Exchange) -> str:
    """Decode a 200 text response, or raise :class:`FetchError` naming the URL and problem.

    A CDN block page (HTTP 401/403, or an "Access Denied" page under 200) is reported as
    blocked, so the caller does not go on to parse it as the real page.
    """
    url, status, body = exchange.url, exchange.status, exchange.body
    if exchange.error:
        raise FetchError(exchange.error + _tries(exchange))
    if status in (401, 403) or is_block_page(body):
        raise FetchError(f"{url}: blocked: HTTP {status} with a page titled {_title(body)!r}")
    if status != 200:
        raise FetchError(f"{url}: HTTP {status}{_tries(exchange)}")
    return body.decode(exchange.encoding or "utf-8", errors="replace")


def is_block_page(body: bytes) -> bool:
    """True for a CDN refusal page served in place of the real page (Akamai style)."""
    return bool(_BLOCK_TITLE.search(_title(body)) or _BLOCK_HOST.search(body[:ERROR_BODY_CAP]))


def _tries(exchange: Exchange) -> str:
    """The retry note for error messages: empty after a single attempt."""
    return f" after {exchange.attempts} attempts" if exchange.attempts > 1 else ""


def _title(body: bytes) -> str:
    """The HTML title of a body ("" when none), whitespace collapsed."""
    match = _TITLE.search(body[:ERROR_BODY_CAP])
    return " ".join(match.group(1).decode("utf-8", "replace").split()) if match else ""

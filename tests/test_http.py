"""The fetcher against a real HTTP server on 127.0.0.1 replaying ICE's files and failures."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
from support.replay_server import DOCLIB_PATH, XLSX_TYPE, Publication, ReplayCorpus, ReplayServer
from support.site import REFERENCE

from scrapers.http import BACKOFF_ENV, Fetcher, FetchError, FetchResult, parse_retry_after

# The generated site serves these tests (support/site.py); the two at the end replay the real
# corpus and skip without ../shared.
PATH = DOCLIB_PATH + REFERENCE


@pytest.fixture
def url(replay_server: ReplayServer) -> str:
    """The reference workbook's URL, on a day it was on ICE's page."""
    replay_server.set_day(date(2025, 4, 4))
    return replay_server.workbook_url(REFERENCE)


@pytest.fixture
def reference(replay_server: ReplayServer) -> Publication:
    """What the server publishes under the reference name on that day."""
    published = replay_server.corpus.served(REFERENCE, datetime(2025, 4, 4, 23, tzinfo=UTC))
    assert published is not None
    return published


@pytest.fixture
def assert_ok(reference: Publication):
    """Check that a result is the reference workbook, byte for byte."""

    def check(result: FetchResult) -> None:
        assert result.outcome == "ok", result.error
        assert result.error is None and result.status == 200
        assert result.body is not None and result.body[:2] == b"PK"
        assert result.sha256 == reference.sha256 and result.bytes == len(result.body)

    return check


def test_plain_fetch_returns_the_exact_corpus_bytes(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, assert_ok
) -> None:
    result = fetcher.fetch(url)
    assert_ok(result)
    assert result.url == result.final_url == url
    assert result.content_type == XLSX_TYPE
    assert result.etag and result.last_modified == "Thu, 03 Apr 2025 18:00:00 GMT"
    assert result.fetched_at.tzinfo is UTC
    [request] = replay_server.log
    assert request.headers["user-agent"].startswith("Mozilla/5.0")
    assert "spreadsheetml" in request.headers["accept"]
    assert "if-none-match" not in request.headers


@pytest.mark.parametrize("status", [403, 200])
def test_html_block_page_is_blocked_and_never_returned(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, status: int, sleeps: list[float]
) -> None:
    replay_server.block(PATH, status=status)
    result = fetcher.fetch(url)
    assert result.outcome == "blocked" and result.status == status
    assert result.body is None and result.sha256 is None and result.bytes > 0
    assert result.error and url in result.error and "Access Denied" in result.error
    assert replay_server.requests[PATH] == 1 and sleeps == []


def test_server_errors_are_retried_with_exponential_backoff(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, sleeps: list[float], assert_ok
) -> None:
    replay_server.fail(PATH, status=500, times=2)
    assert_ok(fetcher.fetch(url))
    assert replay_server.requests[PATH] == 3
    assert sleeps == [1.0, 2.0]


def test_persistent_server_error_fails_after_the_retries(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, sleeps: list[float]
) -> None:
    replay_server.fail(PATH, status=503)
    result = fetcher.fetch(url)
    assert result.outcome == "failed" and result.status == 503 and result.body is None
    assert result.error == f"{url}: HTTP 503 after 4 attempts"
    assert sleeps == [1.0, 2.0, 4.0] and replay_server.requests[PATH] == 4


def test_not_found_is_not_retried(replay_server: ReplayServer, fetcher: Fetcher) -> None:
    result = fetcher.fetch(replay_server.workbook_url("participatingAgencies99999999pm.xlsx"))
    assert result.outcome == "failed" and result.status == 404
    assert sum(replay_server.requests.values()) == 1


def test_retry_after_seconds_is_honoured(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, sleeps: list[float], assert_ok
) -> None:
    replay_server.rate_limit(PATH, retry_after="7")
    assert_ok(fetcher.fetch(url))
    assert sleeps == [7.0] and replay_server.requests[PATH] == 2


def test_retry_after_http_date_is_honoured(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, sleeps: list[float], assert_ok
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    replay_server.rate_limit(PATH, retry_after=format_datetime(when, usegmt=True))
    assert_ok(fetcher.fetch(url))
    [wait] = sleeps
    assert 27.0 <= wait <= 30.0


def test_retry_after_is_capped(replay_server: ReplayServer, url: str, assert_ok) -> None:
    waits: list[float] = []
    with Fetcher(source_host=replay_server.host, max_wait=5.0, sleep=waits.append) as client:
        replay_server.rate_limit(PATH, retry_after="3600", times=2)
        assert_ok(client.fetch(url))
    assert waits == [5.0, 5.0]


def test_parse_retry_after() -> None:
    now = datetime(2025, 9, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 22 Sep 2025 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("Mon, 22 Sep 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_slow_response_times_out_as_failed(replay_server: ReplayServer, url: str) -> None:
    waits: list[float] = []
    replay_server.slow(PATH, delay=5.0)
    with Fetcher(
        source_host=replay_server.host, read_timeout=0.3, retries=1, sleep=waits.append
    ) as client:
        result = client.fetch(url)
    assert result.outcome == "failed" and result.status is None and result.body is None
    assert result.error and url in result.error and "timed out" in result.error
    assert waits == [1.0] and replay_server.requests[PATH] == 2


def test_truncated_body_fails(replay_server: ReplayServer, fetcher: Fetcher, url: str) -> None:
    replay_server.truncate(PATH, send_bytes=1000)
    result = fetcher.fetch(url)
    assert result.outcome == "failed" and result.body is None and result.sha256 is None
    assert result.error and url in result.error and "truncated body" in result.error
    assert "received 1000 bytes" in result.error and "after 4 attempts" in result.error


def test_truncated_body_once_then_complete(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, sleeps: list[float], assert_ok
) -> None:
    replay_server.truncate(PATH, send_bytes=1000, times=1)
    assert_ok(fetcher.fetch(url))
    assert sleeps == [1.0]


def test_redirect_off_the_allowlist_is_refused_without_a_request(
    replay_server: ReplayServer, fetcher: Fetcher, url: str
) -> None:
    # localhost reaches this very server, but only 127.0.0.1 is the configured source host
    target = url.replace("127.0.0.1", "localhost").replace(REFERENCE, "elsewhere.xlsx")
    replay_server.redirect(PATH, target)
    result = fetcher.fetch(url)
    assert result.outcome == "failed" and result.body is None
    assert result.final_url == target
    assert result.error and "refused" in result.error and "'localhost'" in result.error
    assert result.refused
    assert replay_server.requests[DOCLIB_PATH + "elsewhere.xlsx"] == 0
    replay_server.redirect("/away", "https://evil.example.com/participatingAgencies.xlsx")
    away = fetcher.fetch(replay_server.url("/away"))
    assert away.outcome == "failed" and away.error and "evil.example.com" in away.error


def test_redirect_within_the_allowlist_is_followed(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, assert_ok
) -> None:
    replay_server.redirect("/old-name.xlsx", PATH, status=301)
    result = fetcher.fetch(replay_server.url("/old-name.xlsx"))
    assert_ok(result)
    assert result.final_url == url


def test_redirect_loops_are_bounded(replay_server: ReplayServer, fetcher: Fetcher) -> None:
    replay_server.redirect("/loop", "/loop")
    result = fetcher.fetch(replay_server.url("/loop"))
    assert result.outcome == "failed" and result.error and "redirects" in result.error
    assert replay_server.requests["/loop"] == fetcher.max_redirects + 1


def test_hosts_and_schemes_outside_the_allowlist_are_never_contacted() -> None:
    with Fetcher() as client:
        plain = client.fetch("http://www.ice.gov/doclib/participatingAgencies.xlsx")
        other = client.fetch("https://example.com/participatingAgencies.xlsx")
        ftp = client.fetch("ftp://www.ice.gov/participatingAgencies.xlsx")
        broken = client.fetch("https://[www.ice.gov/participatingAgencies.xlsx")
    assert plain.error and "plain http://" in plain.error
    assert other.error and "not on the allowlist" in other.error
    assert ftp.error and "unsupported scheme" in ftp.error
    assert broken.error and "not a valid URL" in broken.error
    assert {plain.outcome, other.outcome, ftp.outcome, broken.outcome} == {"failed"}
    assert {plain.status, other.status, ftp.status, broken.status} == {None}
    assert all(r.refused for r in (plain, other, ftp, broken))


def test_conditional_get_downloads_no_body(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, assert_ok
) -> None:
    first = fetcher.fetch(url)
    assert_ok(first)
    served = replay_server.body_bytes[PATH]
    assert served == first.bytes

    by_etag = fetcher.fetch(url, etag=first.etag)
    by_date = fetcher.fetch(url, last_modified=first.last_modified)
    for result in (by_etag, by_date):
        assert result.outcome == "not_modified" and result.status == 304
        assert result.body is None and result.bytes == 0 and result.sha256 is None
        assert (result.etag, result.last_modified) == (first.etag, first.last_modified)
    assert replay_server.body_bytes[PATH] == served  # no workbook body went out again
    assert replay_server.log[1].headers["if-none-match"] == first.etag
    assert replay_server.log[2].headers["if-modified-since"] == first.last_modified


def test_a_changed_file_under_the_same_name_is_downloaded(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    name = "participatingAgencies.xlsx"  # re-used by ICE for new bytes
    replay_server.set_day(date(2025, 2, 21))
    old = fetcher.fetch(replay_server.workbook_url(name))
    replay_server.set_day(date(2025, 2, 26))
    new = fetcher.fetch(replay_server.workbook_url(name), etag=old.etag)
    first, second = [p for p in replay_server.corpus.publications if p.name == name]
    assert (old.outcome, new.outcome) == ("ok", "ok")
    assert old.sha256 == first.sha256 and first.published.date() == date(2025, 2, 21)
    assert new.sha256 == second.sha256 != old.sha256 and new.etag != old.etag


def test_declared_size_over_the_cap_is_not_downloaded(
    replay_server: ReplayServer, url: str, reference: Publication
) -> None:
    cap = len(replay_server.corpus.body(reference.file)) // 2
    with Fetcher(source_host=replay_server.host, max_bytes=cap) as client:
        result = client.fetch(url)
    assert result.outcome == "failed" and result.body is None and result.bytes == 0
    assert result.error and f"{cap}-byte cap" in result.error and "not downloaded" in result.error


def test_streamed_body_over_the_cap_is_aborted(
    replay_server: ReplayServer, url: str, reference: Publication
) -> None:
    replay_server.unsized(PATH)  # no Content-Length: only streaming can enforce the cap
    cap = len(replay_server.corpus.body(reference.file)) // 2
    with Fetcher(source_host=replay_server.host, max_bytes=cap) as client:
        result = client.fetch(url)
    assert result.outcome == "failed" and result.body is None and result.bytes <= cap
    assert result.error and "download aborted" in result.error
    assert replay_server.requests[PATH] == 1


def test_unsized_body_under_the_cap_is_read_to_the_end(
    replay_server: ReplayServer, fetcher: Fetcher, url: str, assert_ok
) -> None:
    replay_server.unsized(PATH)
    assert_ok(fetcher.fetch(url))


def test_a_200_that_is_neither_workbook_nor_html_fails(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    replay_server.add_route("/odd.xlsx", b"%PDF-1.7 not a workbook", "application/octet-stream")
    result = fetcher.fetch(replay_server.url("/odd.xlsx"))
    assert result.outcome == "failed" and result.body is None
    assert result.error and "not a workbook" in result.error


def test_connection_refused_is_retried_then_failed(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Fetcher(source_host="127.0.0.1", retries=2, sleep=sleeps.append) as client:
        result = client.fetch(f"http://127.0.0.1:{port}/x.xlsx")
    assert result.outcome == "failed" and result.status is None
    assert not result.refused  # sent, and the connection refused: not an allowlist refusal
    assert result.error and f"127.0.0.1:{port}" in result.error and "3 attempts" in result.error
    assert sleeps == [1.0, 2.0]


def test_the_backoff_comes_from_the_environment_when_set(monkeypatch, sleeps) -> None:
    """$ICE287G_RETRY_BACKOFF sets the first wait (the suite runs commands with 0); a value
    that is not a number of seconds is refused, naming the variable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(BACKOFF_ENV, "0.25")
    with Fetcher(source_host="127.0.0.1", retries=2, sleep=sleeps.append) as client:
        assert client.fetch(f"http://127.0.0.1:{port}/x.xlsx").outcome == "failed"
    assert sleeps == [0.25, 0.5]
    monkeypatch.setenv(BACKOFF_ENV, "")
    with Fetcher() as client:
        assert client.backoff == 1.0
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(BACKOFF_ENV, bad)
        with pytest.raises(ValueError, match=f"{BACKOFF_ENV}='{bad}': expected a number"):
            Fetcher()


def test_fetch_page_returns_the_page_and_retries(
    replay_server: ReplayServer, fetcher: Fetcher, sleeps: list[float]
) -> None:
    replay_server.fail("/identify-and-arrest/287g", status=502, times=1)
    text = fetcher.fetch_page(replay_server.page_url)
    assert "Participating Agencies" in text and sleeps == [1.0]
    assert "text/html" in replay_server.log[-1].headers["accept"]


@pytest.mark.parametrize("status", [403, 200])
def test_fetch_page_reports_a_block_page(
    replay_server: ReplayServer, fetcher: Fetcher, status: int
) -> None:
    replay_server.block("/identify-and-arrest/287g", status=status)
    with pytest.raises(FetchError, match=f"{replay_server.page_url}: blocked: HTTP {status}"):
        fetcher.fetch_page(replay_server.page_url)


def test_fetch_page_refuses_off_allowlist_redirects(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    replay_server.redirect("/identify-and-arrest/287g", "https://evil.example.com/287g")
    with pytest.raises(FetchError, match="refused: host 'evil.example.com'"):
        fetcher.fetch_page(replay_server.page_url)


# --- the real corpus -------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_publication_replays_byte_identical(replay_corpus: ReplayCorpus) -> None:
    """All 387 (name, bytes) publications, each fetched at its own moment."""
    with (
        ReplayServer(replay_corpus, max_requests=len(replay_corpus.publications)) as server,
        Fetcher(source_host=server.host, retries=0) as client,
    ):
        for publication in replay_corpus.publications:
            server.set_time(publication.published)
            result = client.fetch(server.workbook_url(publication.name))
            assert (result.outcome, result.sha256) == ("ok", publication.sha256), publication
        assert not server.over_budget


@pytest.mark.corpus
def test_the_swap_day_is_served_under_the_ice_names(corpus_server: ReplayServer) -> None:
    corpus_server.set_day(date(2025, 9, 22))
    links: dict[str, Publication] = dict(corpus_server.page_links())
    assert links["participating"].name == "participatingAgencies09222025pm.xlsx"
    assert links["participating"].content_list == "pending"
    assert links["pending"].content_list == "participating"

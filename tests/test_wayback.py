"""Wayback CDX parsing, and listing plus fetching captures from a local stand-in archive."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from support.replay_server import CDX_PATH, ICE_ORIGIN, PAGE_PATH, ReplayServer
from support.site import REFERENCE

from scrapers.discover import discover_or_fail
from scrapers.http import Fetcher, FetchError
from scrapers.wayback import (
    Capture,
    cdx_query_url,
    list_captures,
    parse_cdx_json,
    parse_timestamp,
    raw_capture_url,
)

WORKBOOK = "https://www.ice.gov/doclib/about/offices/ero/287g/participatingAgencies04032025pm.xlsx"
HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KEY = "gov,ice)/doclib/about/offices/ero/287g/participatingagencies04032025pm.xlsx"


def test_parse_cdx_json_rows() -> None:
    text = json.dumps(
        [
            HEADER,
            [KEY, "20250404101112", WORKBOOK, XLSX, "200", "ABC", "29728"],
            [KEY, "20250405000000", WORKBOOK, "warc/revisit", "-", "ABC", "-"],
        ]
    )
    first, revisit = parse_cdx_json(text)
    assert first == Capture(
        timestamp="20250404101112",
        captured_at=datetime(2025, 4, 4, 10, 11, 12, tzinfo=UTC),
        original=WORKBOOK,
        mimetype=XLSX,
        status=200,
        digest="ABC",
        length=29728,
        raw_url=f"https://web.archive.org/web/20250404101112id_/{WORKBOOK}",
    )
    assert (revisit.status, revisit.length, revisit.usable) == (None, None, True)


def test_parse_cdx_json_reads_fields_by_header_name() -> None:
    text = json.dumps([["original", "statuscode", "timestamp"], [WORKBOOK, "302", "20250404"]])
    [capture] = parse_cdx_json(text, "http://127.0.0.1:9")
    assert capture.captured_at == datetime(2025, 4, 4, tzinfo=UTC)
    assert (capture.status, capture.usable, capture.mimetype) == (302, False, "")
    assert capture.raw_url == f"http://127.0.0.1:9/web/20250404id_/{WORKBOOK}"


@pytest.mark.parametrize("text", ["", "  \n", "[]"])
def test_an_empty_answer_means_no_captures(text: str) -> None:
    assert parse_cdx_json(text) == []


def test_malformed_cdx_answers_raise() -> None:
    with pytest.raises(ValueError, match="lacks"):
        parse_cdx_json(json.dumps([["urlkey", "original"], ["k", WORKBOOK]]))
    with pytest.raises(ValueError):
        parse_cdx_json(json.dumps([HEADER, ["too", "short"]]))
    with pytest.raises(ValueError):
        parse_cdx_json("<html>Service Unavailable</html>")


def test_parse_timestamp() -> None:
    assert parse_timestamp("20250922183015") == datetime(2025, 9, 22, 18, 30, 15, tzinfo=UTC)
    assert parse_timestamp("202509") == datetime(2025, 9, 1, tzinfo=UTC)
    for bad in ("2025-09-22", "20251399000000", "123"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_raw_capture_url_uses_the_id_flag() -> None:
    assert raw_capture_url("20250922180000", WORKBOOK) == (
        f"https://web.archive.org/web/20250922180000id_/{WORKBOOK}"
    )


def test_cdx_query_url() -> None:
    eastern = timezone(timedelta(hours=-4))
    url = cdx_query_url(
        "https://web.archive.org/cdx/search/cdx",
        "www.ice.gov/doclib/about/offices/ero/287g/*",
        date(2025, 9, 1),
        datetime(2025, 9, 22, 20, 0, tzinfo=eastern),
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://web.archive.org/cdx/search/cdx?")
    assert query == {
        "url": ["www.ice.gov/doclib/about/offices/ero/287g/*"],
        "output": ["json"],
        "from": ["20250901"],
        "to": ["20250923000000"],
    }


def test_list_and_fetch_workbook_captures_on_the_swap_day(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    day = date(2025, 9, 22)
    captures = list_captures(
        fetcher, replay_server.cdx_url, "www.ice.gov/doclib/about/offices/ero/287g/*", day, day
    )
    assert [(c.captured_at.hour, c.original.rsplit("/", 1)[1]) for c in captures] == [
        (9, "participatingAgencies09222025am.xlsx"),
        (9, "pendingAgencies09222025am.xlsx"),
        (18, "participatingAgencies09222025pm.xlsx"),
        (18, "pendingAgencies09222025pm.xlsx"),
    ]
    expected = {(p.name, p.published): p for p in replay_server.corpus.publications}
    for capture in captures:
        assert capture.raw_url.startswith(replay_server.base_url + "/web/")
        result = fetcher.fetch(capture.raw_url)
        publication = expected[(capture.original.rsplit("/", 1)[1], capture.captured_at)]
        assert (result.outcome, result.sha256) == ("ok", publication.sha256)
        assert capture.length == result.bytes
    swapped = expected[("participatingAgencies09222025pm.xlsx", captures[2].captured_at)]
    assert swapped.content_list == "pending"


def test_page_captures_lead_to_the_workbooks_of_their_day(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    captures = list_captures(
        fetcher,
        replay_server.cdx_url,
        ICE_ORIGIN + PAGE_PATH,
        datetime(2025, 4, 3, 12, tzinfo=UTC),
        date(2025, 4, 4),
    )
    assert [c.timestamp for c in captures] == ["20250403180000", "20250404090000"]
    html = fetcher.fetch_page(captures[-1].raw_url)
    links = discover_or_fail(html, captures[-1].original)
    assert [link.url for link in links] == [
        WORKBOOK,
        "https://www.ice.gov/doclib/about/offices/ero/287g/pendingAgencies04042025am.xlsx",
    ]


def test_unusable_and_repeated_captures_are_dropped(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    replay_server.extra_captures.extend(
        [
            [KEY, "20250404120000", WORKBOOK, "text/html", "403", "X", "300"],
            [KEY, "20250404130000", WORKBOOK, "text/html", "302", "Y", "300"],
            [KEY, "20250405080000", WORKBOOK, "warc/revisit", "-", "Z", "-"],
            [KEY, "20250403180000", WORKBOOK, XLSX, "200", "D", "1"],  # repeats a capture
        ]
    )
    captures = list_captures(
        fetcher, replay_server.cdx_url, WORKBOOK, date(2025, 4, 1), date(2025, 4, 30)
    )
    published = replay_server.corpus.served(REFERENCE, datetime(2025, 4, 4, tzinfo=UTC))
    assert published is not None
    reference = replay_server.corpus.body(published.file)
    assert [(c.timestamp, c.status, c.length) for c in captures] == [
        ("20250403180000", 200, len(reference)),  # the first of the repeated rows is kept
        ("20250405080000", None, None),
    ]


def test_an_unavailable_or_garbled_cdx_raises(
    replay_server: ReplayServer, fetcher: Fetcher, sleeps: list[float]
) -> None:
    replay_server.fail(CDX_PATH, status=503)
    with pytest.raises(FetchError, match="HTTP 503 after 4 attempts"):
        list_captures(fetcher, replay_server.cdx_url, WORKBOOK, date(2025, 4, 1), date(2025, 4, 2))
    assert sleeps == [1.0, 2.0, 4.0]
    replay_server.add_route("/cdx-garbled", b"Service busy, try later", "text/plain")
    with pytest.raises(FetchError, match="not a CDX JSON listing"):
        list_captures(
            fetcher, replay_server.url("/cdx-garbled"), WORKBOOK, date(2025, 4, 1), date(2025, 4, 2)
        )

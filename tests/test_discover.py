"""Discovery of ICE's workbook links: hand-written page variants, every name ICE ever used,
and the replayed page fetched from a real local server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from support.replay_server import XLSX_TYPE, ReplayCorpus, ReplayServer
from support.site import REFERENCE, REFERENCE_PENDING

from scrapers.discover import DiscoveryError, WorkbookLink, discover, discover_or_fail
from scrapers.http import Fetcher

PAGE = "https://www.ice.gov/identify-and-arrest/287g"
DOCLIB = "https://www.ice.gov/doclib/about/offices/ero/287g/"


def page(*anchors: str) -> str:
    """A minimal page around the given anchors, with the kind of noise ICE's page carries."""
    return (
        "<html><head><title>287(g)</title></head><body>"
        '<nav><a href="/">Home</a> <a href="#main">Skip</a></nav><main>'
        + "".join(f"<p>{anchor}</p>" for anchor in anchors)
        + '<p><a href="/doclib/287gMOA/287gWSO_SomeCountySO.pdf">Participating agency MOA</a></p>'
        '<p><a href="mailto:someone@example.org">Contact</a> <a href="javascript:void(0)">x</a></p>'
        "</main></body></html>"
    )


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("participatingAgencies.xlsx", "participating"),
        ("pendingAgencies.xlsx", "pending"),
        ("participatingAgencies04032025pm.xlsx", "participating"),
        ("participatingAgencies09292025mid.xlsx", "participating"),
        ("pendingAgencies12042025pm2.xlsx", "pending"),
        ("participatingAgencies10292025pmB.xlsx", "participating"),
        ("participatingAgencies05122025amB.xlsx", "participating"),
        ("participatingAgencies07242025pm_b.xlsx", "participating"),
        ("pendingAgencies07112025am_b.xlsx", "pending"),
        ("participatingAgencies090022025am.xlsx", "participating"),
        ("pendingAgencies03113025am.xlsx", "pending"),
        ("pendingAgencies11122025.xlsx", "pending"),
        ("287gParticipatingAgencies091526pm.xlsx", "participating"),
        ("ParticipatingAgency091826am.xlsx", "participating"),
    ],
)
def test_finds_every_name_shape(name: str, hint: str) -> None:
    html = page(f'<a href="/doclib/about/offices/ero/287g/{name}">Download</a>')
    assert discover(html, PAGE) == [
        WorkbookLink(url=DOCLIB + name, file_name=name, list_hint=hint, link_text="Download")
    ]


def test_absolute_relative_and_dot_relative_hrefs_resolve_against_the_page() -> None:
    html = page(
        f'<a href="{DOCLIB}participatingAgencies04032025pm.xlsx">Participating Agencies</a>',
        '<a href="/doclib/about/offices/ero/287g/pendingAgencies04042025am.xlsx">Pending</a>',
        '<a href="files/participatingAgencies.XLSX">Old list</a>',
    )
    links = discover(html, PAGE)
    assert [link.url for link in links] == [
        DOCLIB + "participatingAgencies04032025pm.xlsx",
        DOCLIB + "pendingAgencies04042025am.xlsx",
        "https://www.ice.gov/identify-and-arrest/files/participatingAgencies.XLSX",
    ]
    assert [link.list_hint for link in links] == ["participating", "pending", "participating"]


def test_base_href_overrides_the_page_url() -> None:
    html = '<html><head><base href="https://www.ice.gov/doclib/x/"></head><body>'
    html += '<a href="pendingAgencies.xlsx">Pending Agencies</a></body></html>'
    assert discover(html, PAGE)[0].url == "https://www.ice.gov/doclib/x/pendingAgencies.xlsx"


def test_drupal_file_download_links_are_found_by_link_text() -> None:
    html = page(
        '<a href="/file-download/download/public/4242">Participating Agencies (XLSX, 30 KB)</a>',
        '<a href="/file-download/download/public/4243">Download</a>',
        '<a href="/file-download/download/public/4244.pdf">Pending agencies memo</a>',
        '<a href="/file-download/download/public/4245" title="Pending Agencies">XLSX</a>',
    )
    links = discover(html, PAGE)
    assert [(link.url, link.file_name, link.list_hint) for link in links] == [
        ("https://www.ice.gov/file-download/download/public/4242", "4242", "participating"),
        ("https://www.ice.gov/file-download/download/public/4245", "4245", "pending"),
    ]


def test_query_and_download_attribute_name_the_file() -> None:
    html = page(
        '<a href="/system/files?file=287g%2FpendingAgencies11102025mid.xlsx">Get it</a>',
        '<a href="/file-download/download/public/77" download="participatingAgencies (1).xlsx">'
        "Spreadsheet</a>",
    )
    links = discover(html, PAGE)
    assert [(link.file_name, link.list_hint) for link in links] == [
        ("pendingAgencies11102025mid.xlsx", "pending"),
        ("participatingAgencies (1).xlsx", "participating"),
    ]
    assert (
        links[0].url
        == "https://www.ice.gov/system/files?file=287g%2FpendingAgencies11102025mid.xlsx"
    )


def test_link_text_is_the_hint_when_the_name_carries_none() -> None:
    html = page(
        '<a href="/doclib/287g/list_2025.xlsx">Pending Agencies</a>',
        '<a href="/doclib/287g/agreements.xlsx">Participating and pending agencies</a>',
    )
    assert [link.list_hint for link in discover(html, PAGE)] == ["pending", None]


def test_a_download_link_naming_both_lists_is_kept_without_a_hint() -> None:
    html = page('<a href="/file-download/download/public/5">Participating and Pending Agencies</a>')
    [link] = discover(html, PAGE)
    assert (link.file_name, link.list_hint) == ("5", None)


def test_duplicates_collapse_and_keep_the_link_with_text() -> None:
    name = "participatingAgencies10242025mid.xlsx"
    html = page(
        f'<a href="/doclib/about/offices/ero/287g/{name}"><img src="xls.png" alt=""></a>',
        f'<a href="{DOCLIB}{name}#top">Participating Agencies</a>',
        f'<a href="{DOCLIB}{name}">again</a>',
    )
    assert discover(html, PAGE) == [
        WorkbookLink(DOCLIB + name, name, "participating", "Participating Agencies")
    ]


def test_a_page_without_workbooks_fails_loudly_naming_the_page() -> None:
    assert discover(page('<a href="/news">News</a>'), PAGE) == []
    with pytest.raises(DiscoveryError, match="no workbook link found on " + PAGE):
        discover_or_fail(page('<a href="/news">News</a>'), PAGE)
    with pytest.raises(DiscoveryError, match="block page"):
        discover_or_fail("<HTML><TITLE>Access Denied</TITLE></HTML>", PAGE)


@pytest.mark.corpus
def test_every_ice_file_name_in_the_corpus_is_discovered(replay_corpus: ReplayCorpus) -> None:
    names = {(p.name, p.slot) for p in replay_corpus.publications}
    for name, slot in names:
        html = page(f'<a href="/doclib/about/offices/ero/287g/{name}">Spreadsheet</a>')
        assert [(link.file_name, link.list_hint) for link in discover(html, PAGE)] == [(name, slot)]


def test_replayed_page_leads_to_the_reference_workbook(
    replay_server: ReplayServer,
    fetcher: Fetcher,
) -> None:
    replay_server.set_day(date(2025, 4, 4))
    links = discover_or_fail(fetcher.fetch_page(replay_server.page_url), replay_server.page_url)
    assert [(link.file_name, link.list_hint) for link in links] == [
        (REFERENCE, "participating"),
        (REFERENCE_PENDING, "pending"),
    ]
    linked = replay_server.page_links()
    results = [fetcher.fetch(link.url) for link in links]
    assert [r.outcome for r in results] == ["ok", "ok"]
    assert [r.sha256 for r in results] == [
        linked["participating"].sha256,
        linked["pending"].sha256,
    ]


def test_swap_day_the_participating_link_holds_the_pending_list(
    replay_server: ReplayServer,
    fetcher: Fetcher,
) -> None:
    by_sha = {p.sha256: p.content_list for p in replay_server.corpus.publications}

    def lists_behind_links() -> list[tuple[str | None, str]]:
        html = fetcher.fetch_page(replay_server.page_url)
        pairs = []
        for link in discover_or_fail(html, replay_server.page_url):
            result = fetcher.fetch(link.url)
            assert result.outcome == "ok" and result.sha256
            pairs.append((link.list_hint, by_sha[result.sha256]))
        return pairs

    replay_server.set_time(datetime(2025, 9, 22, 12, tzinfo=UTC))
    assert lists_behind_links() == [("participating", "participating"), ("pending", "pending")]
    replay_server.set_day(date(2025, 9, 22))
    assert lists_behind_links() == [("participating", "pending"), ("pending", "participating")]
    replay_server.set_day(date(2025, 9, 23))
    assert lists_behind_links() == [("participating", "participating"), ("pending", "pending")]


def test_before_the_first_publication_discovery_fails(
    replay_server: ReplayServer,
    fetcher: Fetcher,
) -> None:
    replay_server.set_day(date(2025, 2, 20))
    html = fetcher.fetch_page(replay_server.page_url)
    with pytest.raises(DiscoveryError, match=replay_server.page_url):
        discover_or_fail(html, replay_server.page_url)


def test_drupal_download_link_served_by_the_server(
    replay_server: ReplayServer,
    fetcher: Fetcher,
) -> None:
    publication = replay_server.corpus.publications[-1]
    body = replay_server.corpus.body(publication.file)
    replay_server.add_route("/file-download/download/public/9001", body, XLSX_TYPE)
    html = page('<a href="/file-download/download/public/9001">Pending Agencies</a>')
    replay_server.add_route("/custom-page", html.encode(), "text/html; charset=utf-8")
    page_url = replay_server.url("/custom-page")
    [link] = discover_or_fail(fetcher.fetch_page(page_url), page_url)
    assert link.url == replay_server.url("/file-download/download/public/9001")
    result = fetcher.fetch(link.url)
    assert result.outcome == "ok" and result.sha256 == publication.sha256

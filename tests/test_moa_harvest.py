"""MOA harvest against a real local HTTP server serving real sample PDFs.

A small synthetic store links https://www.ice.gov/doclib/287gMOA/<sample>.pdf URLs (a workbook
built with hyperlinks, then ingested); the replay server serves the samples from
../shared/moa-samples at those paths, plus the faults ICE's site produces: a 404, a redirect
off the allowlist, an HTML page and truncated bodies served as PDFs. The harvest reaches the
server through the mirror rewrite (https://www.ice.gov -> the server's base URL). The tests of
the harvest's bookkeeping (limits, order, pacing, rebuilds) serve generated PDFs instead, so
they run without ../shared.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support.files import copy_store
from support.http_fixtures import local_fetcher
from support.pdfs import moa_pdf
from support.replay_server import ReplayServer
from support.shared import samples_or_skip
from support.workbooks import PARTICIPATING_HEADER, build_workbook, participating_row

from ice287g.jobs.documents import update_documents
from ice287g.jobs.harvest import HarvestBusy, harvest, harvest_lock
from ice287g.jobs.ingest import ingest_bytes
from ice287g.normalize.names import AGENCY_MATCH_THRESHOLD, agency_similarity
from ice287g.store import Store
from ice287g.store.documents import DOCUMENT_SCHEMA, documents_path, read_documents
from ice287g.store.ledger import MOA_LEDGER
from parsers.sniff import PDF_MAGIC
from parsers.sniff import pdf_problem as incomplete
from scrapers.moa import harvest_host, mirror_map, rewrite

pytestmark = pytest.mark.usefixtures("moa_reads_once")  # each sample read once per run

ICE = "https://www.ice.gov"
DOCLIB = "/doclib/287gMOA/"

FRANKLIN = "FranklinCoAL_TFM_MOA_031825.pdf"  # TFM, text layer
GRAYSON = "GraysonCountyDCKY_JEM_MOA_030425.pdf"  # JEM, text layer
CROW_WING = "crowWingCoMN_TFM_MOA_03.19.25.pdf"  # TFM, text layer
BROOME = "BroomeCountyNY_WSO_MOA_031025.pdf"  # image only
RUSK = "RuskCoSOTX_WSO_MOA_030425.pdf"  # image only
VADOC = "VADOC_JEM_MOA_022825.pdf"  # image only

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Page Not Found | ICE</title></head>"
    b"<body><h1>Page Not Found</h1></body></html>"
)


def sample(name: str) -> bytes:
    return (samples_or_skip() / name).read_bytes()


AGENCY_OF = {
    BROOME: "Broome County Sheriff's Office",
    RUSK: "Rusk County Sheriff's Office",
    VADOC: "Virginia Department of Corrections",
}


def made(name: str) -> bytes:
    """A generated text MOA standing in for a sample, for tests of the harvest's bookkeeping
    (limits, order, pacing, rebuilds) that do not read what a real PDF says."""
    return moa_pdf(AGENCY_OF[name])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ice_url(name: str) -> str:
    return ICE + DOCLIB + name


def build_store(root: Path, agreements: list[tuple]) -> Store:
    """A store whose participating version lists ``agreements``:
    (state, agency, model as ICE types it, MOA file name, addendum file name or None)."""
    rows, links = [], {}
    for i, (state, agency, model, moa_name, addendum) in enumerate(agreements):
        rows.append(
            participating_row(
                state=state,
                agency=agency,
                county="",
                model=model,
                addendum="link" if addendum else None,
            )
        )
        links[(i, "MOA")] = ice_url(moa_name)
        if addendum:
            links[(i, "ADDENDUM")] = ice_url(addendum)
    data = build_workbook(PARTICIPATING_HEADER, rows, links=links, saved=datetime(2025, 4, 3, 18))
    store = Store(root)
    assert ingest_bytes(store, data, "participatingAgencies04032025pm.xlsx").status == "new"
    return store


# The main scenario: every outcome once. Hardin's row links a copy of Grayson's PDF under
# another URL (same bytes: "already stored"; and the PDF names another agency).
SCENARIO = [
    ("ALABAMA", "Franklin County Sheriff's Office", "Jail Enforcement Model", FRANKLIN, None),
    ("KENTUCKY", "Grayson County Detention Center", "Jail Enforcement Model", GRAYSON, None),
    (
        "KENTUCKY",
        "Hardin County Detention Center",
        "Jail Enforcement Model",
        "HardinCoKY_JEM_MOA.pdf",
        None,
    ),
    (
        "NEW YORK",
        "Broome County Sheriff's Office",
        "Warrant Service Officer",
        BROOME,
        "BroomeCoNY_Addendum.pdf",
    ),
    ("MINNESOTA", "Crow Wing County Sheriff's Office", "Task Force Model", CROW_WING, None),
    ("TEXAS", "Rusk County Sheriff's Office", "Warrant Service Officer", RUSK, None),
    ("FLORIDA", "Moved County Sheriff's Office", "Task Force Model", "Moved_TFM_MOA.pdf", None),
    ("FLORIDA", "Html County Sheriff's Office", "Task Force Model", "Html_TFM_MOA.pdf", None),
    ("FLORIDA", "Cut County Sheriff's Office", "Task Force Model", "Cut_TFM_MOA.pdf", None),
    ("FLORIDA", "Half County Sheriff's Office", "Task Force Model", "Half_TFM_MOA.pdf", None),
]
GOOD = {
    FRANKLIN: FRANKLIN,
    GRAYSON: GRAYSON,
    "HardinCoKY_JEM_MOA.pdf": GRAYSON,
    BROOME: BROOME,
    CROW_WING: CROW_WING,
    RUSK: RUSK,
}  # path name -> sample served
MISSING = "BroomeCoNY_Addendum.pdf"
BAD = ["Moved_TFM_MOA.pdf", "Html_TFM_MOA.pdf", "Cut_TFM_MOA.pdf", "Half_TFM_MOA.pdf"]


def serve_scenario(server) -> None:
    """Routes and faults of SCENARIO on the replay server (the addendum is a 404)."""
    for path_name, name in GOOD.items():
        server.add_route(DOCLIB + path_name, sample(name), "application/pdf")
    server.redirect(DOCLIB + "Moved_TFM_MOA.pdf", "https://evil.example.com/Moved_TFM_MOA.pdf")
    server.add_route(DOCLIB + "Html_TFM_MOA.pdf", HTML_PAGE, "application/pdf")
    server.add_route(DOCLIB + "Cut_TFM_MOA.pdf", sample(VADOC), "application/pdf")
    server.truncate(DOCLIB + "Cut_TFM_MOA.pdf", send_bytes=4000)
    half = sample(VADOC)[: len(sample(VADOC)) // 2]
    server.add_route(DOCLIB + "Half_TFM_MOA.pdf", half, "application/pdf")


def run(store, server, fetcher, **kwargs):
    kwargs.setdefault("delay", 0)
    return harvest(store, mirror=server.base_url, fetcher=fetcher, **kwargs)


def stored_pdfs(store: Store) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (store.root / "raw").rglob("*.pdf")}


def ledger_by_url(store: Store) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in MOA_LEDGER.read(store).to_pylist():
        out.setdefault(row["url"], []).append(row)
    return out


# --- the harvest ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harvested(moa_samples, site_corpus, tmp_path_factory):
    """SCENARIO harvested once, from a fresh server: (store, report, the server, now stopped).

    Read it; a test that harvests again works on a copy of the store.
    """
    store = build_store(tmp_path_factory.mktemp("scenario") / "data", SCENARIO)
    with ReplayServer(site_corpus) as server, local_fetcher(server, []) as fetcher:
        serve_scenario(server)
        report = run(store, server, fetcher)
    return store, report, server


def test_harvest_stores_good_pdfs_and_records_every_attempt(harvested):
    store, report, replay_server = harvested

    # Content-addressed, write-once, exactly the bytes served; nothing from the bad URLs.
    expected = {sha(sample(n)): sample(n) for n in set(GOOD.values())}
    assert stored_pdfs(store) == {f"{h}.pdf": data for h, data in expected.items()}
    for h in expected:
        assert store.raw_path(h, "pdf") == store.root / "raw" / h[:2] / f"{h}.pdf"

    ledger = ledger_by_url(store)
    assert sorted(ledger) == sorted({ice_url(n) for n in [*GOOD, MISSING, *BAD]})
    assert all(len(rows) == 1 for rows in ledger.values())
    outcome = {url.rsplit("/", 1)[1]: rows[0] for url, rows in ledger.items()}
    for path_name, name in GOOD.items():
        row = outcome[path_name]
        want = "already stored" if path_name == "HardinCoKY_JEM_MOA.pdf" else "stored"
        assert (row["outcome"], row["http_status"]) == (want, 200)
        assert row["sha256"] == sha(sample(name)) and row["bytes"] == len(sample(name))
        assert row["final_url"] == replay_server.base_url + DOCLIB + path_name
        assert row["error"] is None

    missing = outcome[MISSING]
    assert (missing["outcome"], missing["http_status"], missing["sha256"]) == (
        "not found",
        404,
        None,
    )
    moved = outcome["Moved_TFM_MOA.pdf"]
    assert moved["outcome"] == "refused" and moved["http_status"] is None
    assert "evil.example.com" in moved["error"] and "allowlist" in moved["error"]
    assert moved["final_url"] == "https://evil.example.com/Moved_TFM_MOA.pdf"
    html = outcome["Html_TFM_MOA.pdf"]
    assert html["outcome"] == "blocked" and html["sha256"] is None
    assert "HTML page titled 'Page Not Found | ICE' instead of a PDF" in html["error"]
    cut = outcome["Cut_TFM_MOA.pdf"]
    assert cut["outcome"] == "failed" and "truncated body" in cut["error"]
    half = outcome["Half_TFM_MOA.pdf"]
    assert half["outcome"] == "failed" and half["http_status"] == 200
    assert "truncated PDF: no %%EOF marker" in half["error"] and "not stored" in half["error"]
    assert half["sha256"] is None

    assert report.remaining == 0 and not report.ok
    assert len(report.failures) == 3  # blocked, truncated body, truncated PDF (not 404/refused)

    # Every stored URL is read into the documents table; the copy is read once, not twice.
    docs = {r["url"].rsplit("/", 1)[1]: r for r in read_documents(store).to_pylist()}
    assert sorted(docs) == sorted(GOOD)
    assert docs[FRANKLIN]["model"] == "TFM" and docs[FRANKLIN]["pages"] == 14
    assert docs[FRANKLIN]["template_revision"] == "Revised 03/07/2025"
    assert docs[GRAYSON]["agency_text"] == "Grayson County Detention Center"
    assert docs["HardinCoKY_JEM_MOA.pdf"]["sha256"] == docs[GRAYSON]["sha256"]
    assert docs["HardinCoKY_JEM_MOA.pdf"]["extracted_at"] == docs[GRAYSON]["extracted_at"]
    assert docs[BROOME]["has_text"] is False and docs[BROOME]["model"] == "unknown"
    assert "likely to escape before a warrant" in " ".join(docs[CROW_WING]["text"].split())
    assert all(d["error"] is None for d in docs.values())
    assert pq.read_schema(documents_path(store)).names == DOCUMENT_SCHEMA.names


def test_rerun_downloads_nothing_new_and_retries_what_failed(
    harvested, replay_server, fetcher, tmp_path
):
    store = Store(copy_store(harvested[0].root, tmp_path / "data"))  # after the first run
    serve_scenario(replay_server)  # a fresh server: every request below is the rerun's
    docs_before = read_documents(store)

    second = run(store, replay_server, fetcher)

    good_paths = [DOCLIB + n for n in GOOD]
    assert sum(replay_server.body_bytes[p] for p in good_paths) == 0
    assert all(replay_server.requests[p] == 0 for p in good_paths)
    # Only the URLs without a stored PDF are tried again, the 404 among them.
    assert sorted(a.url for a in second.attempts) == sorted(ice_url(n) for n in [MISSING, *BAD])
    assert replay_server.requests[DOCLIB + MISSING] == 1
    assert [r["outcome"] for r in ledger_by_url(store)[ice_url(MISSING)]] == [
        "not found",
        "not found",
    ]
    assert second.documents == []
    assert read_documents(store).equals(docs_before)

    # ICE fixes the link: the next run stores it and reads it.
    replay_server.add_route(DOCLIB + MISSING, sample(VADOC), "application/pdf")
    third = run(store, replay_server, fetcher)
    assert {a.url: a.outcome for a in third.attempts}[ice_url(MISSING)] == "stored"
    assert [d["url"] for d in third.documents] == [ice_url(MISSING)]
    assert f"{sha(sample(VADOC))}.pdf" in stored_pdfs(store)
    fourth = run(store, replay_server, fetcher)
    assert ice_url(MISSING) not in {a.url for a in fourth.attempts}


def test_limit_caps_each_run_and_delay_paces_requests(replay_server, fetcher, tmp_path):
    names = [BROOME, RUSK, VADOC]
    store = build_store(
        tmp_path / "data",
        [
            ("NEW YORK", "Broome County Sheriff's Office", "Warrant Service Officer", BROOME, None),
            ("TEXAS", "Rusk County Sheriff's Office", "Warrant Service Officer", RUSK, None),
            (
                "VIRGINIA",
                "Virginia Department of Corrections",
                "Jail Enforcement Model",
                VADOC,
                None,
            ),
        ],
    )
    for name in names:
        replay_server.add_route(DOCLIB + name, made(name), "application/pdf")
    waits: list[float] = []

    first = run(store, replay_server, fetcher, limit=2, delay=0.25, sleep=waits.append)

    assert [a.url for a in first.attempts] == [ice_url(BROOME), ice_url(RUSK)]
    assert first.remaining == 1
    assert waits == [0.25]  # one pause between the two requests, none before the first
    assert sum(replay_server.requests[DOCLIB + n] for n in names) == 2
    assert MOA_LEDGER.read(store).num_rows == 2

    second = run(store, replay_server, fetcher, limit=2, delay=0.25, sleep=waits.append)
    assert [a.url for a in second.attempts] == [ice_url(VADOC)]
    assert second.remaining == 0 and waits == [0.25]
    third = run(store, replay_server, fetcher, limit=0)
    assert third.attempts == [] and third.remaining == 0
    assert len(read_documents(store)) == 3


def test_failed_urls_wait_behind_fresh_ones_under_the_cap(replay_server, fetcher, tmp_path):
    store = build_store(
        tmp_path / "data",
        [
            ("NEW YORK", "Broome County Sheriff's Office", "Warrant Service Officer", BROOME, None),
            ("TEXAS", "Rusk County Sheriff's Office", "Warrant Service Officer", RUSK, None),
        ],
    )
    replay_server.add_route(DOCLIB + RUSK, made(RUSK), "application/pdf")
    first = run(store, replay_server, fetcher, limit=1)  # Broome: 404
    assert [(a.url, a.outcome) for a in first.attempts] == [(ice_url(BROOME), "not found")]
    second = run(store, replay_server, fetcher, limit=1)  # the never-tried URL goes first
    assert [(a.url, a.outcome) for a in second.attempts] == [(ice_url(RUSK), "stored")]


def test_documents_table_rebuilds_from_the_stored_pdfs(replay_server, fetcher, tmp_path):
    store = build_store(
        tmp_path / "data",
        [
            ("NEW YORK", "Broome County Sheriff's Office", "Warrant Service Officer", BROOME, None),
            (
                "TEXAS",
                "Rusk County Sheriff's Office",
                "Warrant Service Officer",
                RUSK,
                "RuskCopy.pdf",
            ),
        ],
    )
    for name in (BROOME, RUSK):
        replay_server.add_route(DOCLIB + name, made(name), "application/pdf")
    replay_server.add_route(DOCLIB + "RuskCopy.pdf", made(RUSK), "application/pdf")
    run(store, replay_server, fetcher)
    before = read_documents(store).drop_columns(["extracted_at"]).sort_by("url")
    assert before.num_rows == 3
    documents_path(store).unlink()

    rows = update_documents(store, rebuild=True)

    assert len(rows) == 3
    after = read_documents(store).drop_columns(["extracted_at"]).sort_by("url")
    assert after.equals(before)


def test_a_second_harvest_on_the_same_store_is_refused(tmp_path):
    store = build_store(tmp_path / "data", SCENARIO[:1])
    lock = harvest_lock(store)
    lock.acquire()
    try:
        with pytest.raises(HarvestBusy, match="another MOA harvest is running"):
            harvest(store, delay=0)
    finally:
        lock.release()


# --- the PDF case of the fetcher (scrapers/http.py `expect`) -------------------------------


def test_fetcher_accepts_a_pdf_only_when_asked_to(replay_server, fetcher):
    data = made(RUSK)
    replay_server.add_route("/doc.pdf", data, "application/pdf")
    replay_server.add_route("/book.xlsx", b"PK\x03\x04 a workbook", "application/octet-stream")

    result = fetcher.fetch(replay_server.url("/doc.pdf"), expect=PDF_MAGIC)
    assert result.outcome == "ok" and result.body == data and result.sha256 == sha(data)
    assert replay_server.log[-1].headers["accept"].startswith("application/pdf")

    as_workbook = fetcher.fetch(replay_server.url("/doc.pdf"))  # default: a workbook
    assert as_workbook.outcome == "failed" and "not a workbook" in as_workbook.error
    assert as_workbook.body is None

    not_pdf = fetcher.fetch(replay_server.url("/book.xlsx"), expect=PDF_MAGIC)
    assert not_pdf.outcome == "failed" and not_pdf.body is None
    assert "not a PDF: body starts with b'PK" in not_pdf.error


# --- small pure pieces ---------------------------------------------------------------------


def test_mirror_rewrites_only_ice_urls():
    url_map = mirror_map("http://127.0.0.1:8123/")
    assert rewrite(ice_url("a.pdf"), url_map) == "http://127.0.0.1:8123/doclib/287gMOA/a.pdf"
    assert rewrite("https://web.archive.org/x.pdf", url_map) == "https://web.archive.org/x.pdf"
    assert rewrite(ice_url("a.pdf"), None) == ice_url("a.pdf")
    assert harvest_host(None, "http://127.0.0.1:8123") == "127.0.0.1"
    assert harvest_host("mirror.example.org", "http://127.0.0.1:8123") == "mirror.example.org"
    assert harvest_host(None, None) == "www.ice.gov"


def test_incomplete_pdf_bodies_are_named():
    assert incomplete(b"%PDF-1.7\n...\n%%EOF\n") is None
    assert "truncated PDF" in incomplete(b"%PDF-1.7\n" + b"x" * 5000)
    assert "not a PDF" in incomplete(b"<html></html>")


@pytest.mark.parametrize(
    ("sheet", "pdf"),
    [
        # the readings of the real samples against the agency names ICE's sheet gives them
        ("Jacksonville Sheriff's Office", "Jacksonville Sheriffs Office"),
        ("Highlands County Sheriff's Office", "HCSO County Sheriffs Office"),
        ("Madison County Sheriff's Office", "Madison County Sherifrs Office"),
        ("Franklin County Sheriff's Office", "Franklin County Sheriff's Office, Alabama"),
        ("Pittsburgh Police Department", "Pittsburg Police Department"),
        ("Crow Wing County Sheriff's Office", "Crow Wing County Sheriff's Office, MN"),
        ("Jackson County Sheriff's Office", 'Jacksoo Coooty Sh";w, Office'),
        ("Nassau County Police Department", "NASSAUCOUNlYPOUCEDEPARTh!ENT"),
        ("Virginia Department of Corrections", "Virginia Department of Corrections"),
    ],
)
def test_agency_comparison_tolerates_ocr_noise(sheet, pdf):
    assert agency_similarity(sheet, pdf) >= AGENCY_MATCH_THRESHOLD


@pytest.mark.parametrize(
    ("sheet", "pdf"),
    [
        ("Orange County Sheriff's Office", "Lake County Sheriff's Office"),
        ("Hardin County Detention Center", "Grayson County Detention Center"),
        ("Jefferson County Sheriff's Office", "Jackson County Sheriff's Office"),
        ("Lake County Sheriff's Office", "Lakeland Police Department"),
    ],
)
def test_agency_comparison_tells_other_agencies_apart(sheet, pdf):
    assert agency_similarity(sheet, pdf) < AGENCY_MATCH_THRESHOLD

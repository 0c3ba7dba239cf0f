"""Fault injection, network side (issue 11): a local server that drips, floods, blocks and
hangs; a source that cannot be reached; SIGINT and SIGTERM sent to the real command.

Every case asserts the clean outcome, that it came quickly (small deadlines, no real long
sleeps), and what the store holds afterwards: the versions byte for byte as before (raw files,
snapshots, catalog, tallies), the ledgers holding exactly the observations made, and for an
interrupted command the whole store byte-identical. The real command in a subprocess (offline,
under Prefect, stopped by a signal) is in test_faults_stop.py, so that `make test`'s workers
can share the two files.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime
from pathlib import Path

import pytest
from support.files import tree_digest
from support.hostile_server import HostileServer, Route, blocked, page
from support.local_server import PAGE_PATH, XLSX_TYPE
from support.workbooks import PARTICIPATING_HEADER, build_workbook, participating_row

from ice287g.jobs.harvest import BREAKER_THRESHOLD, harvest, harvest_lock
from ice287g.jobs.ingest import ingest_bytes
from ice287g.jobs.refresh import refresh, refresh_lock
from ice287g.store import Store, ledger
from ice287g.store.ledger import MOA_LEDGER
from scrapers.discover import MAX_LINKS_PER_LIST
from scrapers.http import DEFAULT_DEADLINE, Fetcher

REPO = Path(__file__).resolve().parents[1]
DOCLIB = "/doclib/about/offices/ero/287g/"
MOA_DIR = "/doclib/287gMOA/"
PARTICIPATING = DOCLIB + "participatingAgencies04082025pm.xlsx"
PENDING = DOCLIB + "pendingAgencies04082025pm.xlsx"
LEDGERS = ("publications", "moa_ledger", ".refresh.lock", ".moa.lock")


def versions(root: Path) -> dict[str, str]:
    """Digest of everything but the observation ledgers: what makes the versions."""
    return {k: v for k, v in tree_digest(root).items() if not k.startswith(LEDGERS)}


def seeded_store(root: Path, moas: int = 20) -> Store:
    """A store holding one participating version whose rows link ``moas`` MOA PDFs on ICE,
    with its lock files already made (so that a run leaving them is no change)."""
    rows, links = [], {}
    for i in range(moas):
        rows.append(participating_row(agency=f"Agency {i:03d} Sheriff's Office", county=""))
        links[(i, "MOA")] = f"https://www.ice.gov{MOA_DIR}Agency{i:03d}_TFM_MOA.pdf"
    data = build_workbook(PARTICIPATING_HEADER, rows, links=links, saved=datetime(2025, 4, 3, 18))
    store = Store(root)
    assert ingest_bytes(store, data, "participatingAgencies04032025pm.xlsx").status == "new"
    for lock in (refresh_lock(store), harvest_lock(store)):
        lock.acquire()
        lock.release()
    return store


def workbook() -> bytes:
    return build_workbook(PARTICIPATING_HEADER, [participating_row()], saved=datetime(2025, 4, 8))


def site(server: HostileServer, participating: Route, pending: Route | None = None) -> None:
    """ICE's page linking the two workbooks, served as given."""
    server.routes[PAGE_PATH] = Route(
        page([(PARTICIPATING, "Participating Agencies"), (PENDING, "Pending Agencies")])
    )
    server.routes[PARTICIPATING] = participating
    server.routes[PENDING] = pending or participating


def fetcher(**kwargs) -> Fetcher:
    return Fetcher(source_host="127.0.0.1", sleep=lambda s: None, **kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: nothing listens there


def lock_is_free(lock) -> bool:
    try:
        lock.acquire(timeout=0)
    except Exception:
        return False
    lock.release()
    return True


@pytest.fixture
def server():
    with HostileServer() as s:
        yield s


# -- 4. bounded work: deadlines, the link cap, one retry layer, the circuit breaker ----------


@pytest.mark.parametrize("mode", ["drip", "hang"])
def test_a_dripping_or_silent_download_ends_at_its_deadline(server, tmp_path, mode):
    store = seeded_store(tmp_path / "data", moas=0)
    # 10 bytes a second: the workbook would take minutes, each byte well within the read timeout.
    site(server, Route(workbook(), content_type=XLSX_TYPE, mode=mode, interval=0.1))
    before = versions(store.root)
    t0 = time.monotonic()
    with fetcher(deadline=0.5, read_timeout=30) as f:
        report = refresh(store, server.page_url, fetcher=f)
    elapsed = time.monotonic() - t0
    assert elapsed < 5, elapsed
    assert [o.outcome for o in report.observations] == [ledger.FAILED, ledger.FAILED]
    assert all("0.5-second deadline" in o.error for o in report.observations), report.failures
    assert server.hits[PARTICIPATING] == 1  # the deadline is spent: no retry after it
    assert lock_is_free(refresh_lock(store))
    assert versions(store.root) == before
    rows = ledger.PUBLICATIONS.read(store).to_pylist()
    assert [r["outcome"] for r in rows] == [ledger.FAILED, ledger.FAILED]


def test_the_default_deadline_is_the_one_the_readme_gives():
    """The test above sets a short deadline (its subject is that a deadline is kept); the
    product's default is the README's."""
    readme = (REPO / "README.md").read_text()
    assert f"total deadline of {DEFAULT_DEADLINE:g} s (`DEFAULT_DEADLINE`" in readme
    assert f"gave up: the {DEFAULT_DEADLINE:g}-second deadline for one download passed" in readme
    with fetcher() as f:
        assert f.deadline == DEFAULT_DEADLINE == 60


def test_a_page_with_10000_workbook_links_costs_a_few_requests(server, tmp_path):
    store = seeded_store(tmp_path / "data", moas=0)
    hrefs = [(f"{DOCLIB}participatingAgencies{i:05d}.xlsx", "Participating") for i in range(5000)]
    hrefs += [(f"{DOCLIB}pendingAgencies{i:05d}.xlsx", "Pending") for i in range(5000)]
    server.routes[PAGE_PATH] = Route(page(hrefs))
    before = versions(store.root)
    t0 = time.monotonic()
    with fetcher() as f:
        report = refresh(store, server.page_url, fetcher=f)
    assert time.monotonic() - t0 < 30
    assert server.hits_under(DOCLIB) == 2 * MAX_LINKS_PER_LIST  # 404s, each asked once
    assert len(ledger.PUBLICATIONS.read(store)) == 2 * MAX_LINKS_PER_LIST
    assert len(report.warnings) == 1 and "links 10000 workbooks" in report.warnings[0]
    assert f"ignored {10000 - 2 * MAX_LINKS_PER_LIST}" in report.warnings[0]
    assert "**Warning:**" in report.summary and "links 10000 workbooks" in report.summary
    assert versions(store.root) == before


@pytest.mark.parametrize(
    ("route", "requests", "outcome", "words"),
    [
        (blocked(403), 1, ledger.BLOCKED, "Access Denied"),
        (blocked(503), 1, ledger.BLOCKED, "Access Denied"),  # a block page, whatever its status
        (Route(b"gone", 404, "text/plain"), 1, ledger.FAILED, "HTTP 404"),
        (Route(b"try later", 503, "text/plain"), 4, ledger.FAILED, "HTTP 503 after 4 attempts"),
    ],
    ids=["403-block-page", "503-block-page", "404", "503"],
)
def test_only_transient_errors_are_retried(server, tmp_path, route, requests, outcome, words):
    store = seeded_store(tmp_path / "data", moas=0)
    site(server, route)
    before = versions(store.root)
    waits: list[float] = []
    with Fetcher(source_host="127.0.0.1", sleep=waits.append, retries=3) as f:
        report = refresh(store, server.page_url, fetcher=f)
    assert server.hits[PARTICIPATING] == server.hits[PENDING] == requests
    assert len(waits) == 2 * (requests - 1)
    assert [o.outcome for o in report.observations] == [outcome, outcome]
    assert all(words in o.error for o in report.observations), report.failures
    assert versions(store.root) == before


@pytest.mark.parametrize("trouble", ["blocked", "unreachable", "unavailable"])
def test_the_harvest_stops_at_a_host_that_refuses_or_is_gone(server, tmp_path, trouble):
    store = seeded_store(tmp_path / "data", moas=20)
    if trouble == "blocked":
        server.default = blocked(403)
        mirror = server.base_url
    elif trouble == "unavailable":
        server.default = Route(b"down", 503, "text/plain")
        mirror = server.base_url
    else:
        mirror = f"http://127.0.0.1:{closed_port()}"
    before = versions(store.root)
    t0 = time.monotonic()
    with fetcher(retries=1) as f:
        report = harvest(store, mirror=mirror, delay=0, fetcher=f)
    assert time.monotonic() - t0 < 10
    assert len(report.attempts) == BREAKER_THRESHOLD
    assert report.remaining == 20 - BREAKER_THRESHOLD
    assert report.stopped and f"{BREAKER_THRESHOLD} consecutive failures on 127.0.0.1" in (
        report.stopped
    )
    assert "17 URLs left for the next run" in report.stopped_line()
    assert "(stopped: 3 consecutive failures" in report.summary_line()
    assert len(MOA_LEDGER.read(store)) == BREAKER_THRESHOLD
    if trouble != "unreachable":
        assert server.hits_under(MOA_DIR) == BREAKER_THRESHOLD * (
            2 if trouble == "unavailable" else 1
        )
    assert versions(store.root) == before


def test_dead_links_do_not_trip_the_breaker(server, tmp_path):
    store = seeded_store(tmp_path / "data", moas=20)
    with fetcher() as f:
        report = harvest(store, mirror=server.base_url, delay=0, fetcher=f)
    assert report.stopped is None and report.remaining == 0
    assert report.counts == {ledger.NOT_FOUND: 20}


# -- 6. the offline night ---------------------------------------------------------------------


def test_an_unresolvable_source_fails_fast_and_skips_the_harvest(tmp_path):
    from ice287g.jobs.refresh import harvest_after

    store = seeded_store(tmp_path / "data", moas=20)
    before = versions(store.root)
    source = "https://www.ice287g-test.invalid/identify-and-arrest/287g"  # never resolves
    t0 = time.monotonic()
    with Fetcher(source_host="www.ice287g-test.invalid", sleep=lambda s: None) as f:
        report = refresh(store, source, fetcher=f)
    assert time.monotonic() - t0 < 10
    assert report.observations == [] and report.error and "ice287g-test.invalid" in report.error
    assert harvest_after(store, report) is None
    assert "MOA harvest skipped" in report.harvest_skipped
    assert versions(store.root) == before
    assert len(MOA_LEDGER.read(store)) == 0

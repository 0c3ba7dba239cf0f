"""Fault injection, network side (issue 11): a local server that drips, floods, blocks and
hangs; a source that cannot be reached; SIGINT and SIGTERM sent to the real command.

Every case asserts the clean outcome, that it came quickly (small deadlines, no real long
sleeps), and what the store holds afterwards: the versions byte for byte as before (raw files,
snapshots, catalog, tallies), the ledgers holding exactly the observations made, and for an
interrupted command the whole store byte-identical. The tests marked ``prefect`` run the real
command with Prefect in a subprocess (slow: Prefect's temporary server starts each time).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from support.files import tree_digest
from support.hostile_server import HostileServer, Route, blocked, page
from support.local_server import PAGE_PATH, XLSX_TYPE
from support.shared import samples_or_skip
from support.workbooks import PARTICIPATING_HEADER, build_workbook, participating_row

from ice287g.jobs.harvest import BREAKER_THRESHOLD, harvest, harvest_lock
from ice287g.jobs.ingest import ingest_bytes
from ice287g.jobs.refresh import refresh, refresh_lock
from ice287g.store import Store, ledger
from ice287g.store.ledger import MOA_LEDGER
from scrapers.discover import MAX_LINKS_PER_LIST
from scrapers.http import Fetcher

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
    with fetcher(deadline=1.0, read_timeout=30) as f:
        report = refresh(store, server.page_url, fetcher=f)
    elapsed = time.monotonic() - t0
    assert elapsed < 5, elapsed
    assert [o.outcome for o in report.observations] == [ledger.FAILED, ledger.FAILED]
    assert all("1-second deadline" in o.error for o in report.observations), report.failures
    assert server.hits[PARTICIPATING] == 1  # the deadline is spent: no retry after it
    assert lock_is_free(refresh_lock(store))
    assert versions(store.root) == before
    rows = ledger.PUBLICATIONS.read(store).to_pylist()
    assert [r["outcome"] for r in rows] == [ledger.FAILED, ledger.FAILED]


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


def cli(args: list[str], tmp_path: Path, **popen) -> subprocess.Popen:
    """The real `ice287g` command in a subprocess, with its own Prefect home
    (``tmp_path/prefect``: the ``prefect_home`` fixture puts a migrated database there)."""
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "ice287g", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        preexec_fn=default_signals,
        **popen,
    )


def default_signals() -> None:
    """In the child: SIGINT and SIGTERM as a shell or a service manager leaves them (a test
    runner may have set them to be ignored, which a child would inherit)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def test_offline_refresh_command_says_why_in_one_line_and_exits_1(tmp_path):
    store = seeded_store(tmp_path / "data", moas=20)
    before = tree_digest(store.root)
    source = f"http://127.0.0.1:{closed_port()}{PAGE_PATH}"
    t0 = time.monotonic()
    proc = cli(
        ["--data-dir", str(store.root), "refresh", "--no-prefect", "--source", source], tmp_path
    )
    out, err = proc.communicate(timeout=120)
    assert time.monotonic() - t0 < 60
    assert proc.returncode == 1, err
    assert "Traceback" not in out + err
    failed = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and source in failed[0] and "ConnectError" in failed[0]
    assert "MOA harvest skipped: the page could not be read" in err
    after = tree_digest(store.root)
    assert {k: v for k, v in after.items() if not k.startswith("publications")} == {
        k: v for k, v in before.items() if not k.startswith("publications")
    }
    assert [r["outcome"] for r in ledger.PUBLICATIONS.read(store).to_pylist()] == [ledger.FAILED]


@pytest.mark.prefect
def test_offline_refresh_under_prefect_fails_within_two_minutes_without_traceback(
    tmp_path, prefect_home
):
    store = seeded_store(tmp_path / "data", moas=20)
    before = versions(store.root)
    source = f"http://127.0.0.1:{closed_port()}{PAGE_PATH}"
    t0 = time.monotonic()
    proc = cli(["--data-dir", str(store.root), "refresh", "--source", source], tmp_path)
    out, err = proc.communicate(timeout=180)
    assert time.monotonic() - t0 < 120
    assert proc.returncode == 1, err
    assert "Traceback" not in out + err, err
    assert [line for line in err.splitlines() if line.startswith("failed:")] == [
        line for line in err.splitlines() if source in line and "ConnectError" in line
    ]
    assert "MOA harvest skipped" in err
    assert versions(store.root) == before and len(MOA_LEDGER.read(store)) == 0


@pytest.mark.prefect
def test_blocked_refresh_under_prefect_finishes_quickly(server, tmp_path, prefect_home):
    """Both workbooks and every PDF blocked (403 HTML): each workbook asked once, the harvest
    stopped by its breaker (it took 316 s before)."""
    store = seeded_store(tmp_path / "data", moas=20)
    site(server, blocked(403))
    server.default = blocked(403)
    before = versions(store.root)
    t0 = time.monotonic()
    proc = cli(["--data-dir", str(store.root), "refresh", "--source", server.page_url], tmp_path)
    out, err = proc.communicate(timeout=180)
    assert time.monotonic() - t0 < 120
    assert proc.returncode == 1 and "Traceback" not in out + err, err
    assert server.hits[PARTICIPATING] == server.hits[PENDING] == 1
    assert server.hits_under(MOA_DIR) == BREAKER_THRESHOLD
    assert "MOA harvest stopped: 3 consecutive failures on 127.0.0.1" in err
    assert len([line for line in err.splitlines() if line.startswith("failed:")]) == 2
    assert versions(store.root) == before


# -- 5. clean stops ---------------------------------------------------------------------------

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def interrupt(proc: subprocess.Popen, server: HostileServer, sig: int, wait_for: float):
    """Send ``sig`` once the command is waiting on the server; (stdout, stderr, seconds to
    stop)."""
    assert server.arrived.wait(wait_for), "the command never reached the server"
    time.sleep(0.3)  # well inside the blocking read
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 30 s after {signal.Signals(sig).name}: {err[-2000:]}")
    return out, err, time.monotonic() - t0


def assert_clean_stop(proc, out, err, seconds, sig, store, before):
    name = signal.Signals(sig).name
    assert proc.returncode == EXIT[sig], err
    assert seconds < 12, seconds
    assert f"interrupted by {name}" in err and "Traceback" not in out + err, err
    assert len([line for line in err.splitlines() if "interrupted" in line]) == 1
    assert lock_is_free(refresh_lock(store)) and lock_is_free(harvest_lock(store))
    assert tree_digest(store.root) == before  # byte-identical: nothing half-written


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_refresh_waiting_on_a_hanging_server(server, tmp_path, sig):
    store = seeded_store(tmp_path / "data", moas=20)
    server.routes[PAGE_PATH] = Route(mode="hang")
    before = tree_digest(store.root)
    args = ["--data-dir", str(store.root), "refresh", "--no-prefect", "--source", server.page_url]
    proc = cli(args, tmp_path)
    out, err, seconds = interrupt(proc, server, sig, wait_for=60)
    assert_clean_stop(proc, out, err, seconds, sig, store, before)


@pytest.mark.prefect
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_prefect_refresh_in_its_moa_harvest(server, tmp_path, prefect_home, sig):
    """The case of the issue: `refresh` under Prefect, in the MOA harvest (a subflow), with a
    PDF download hanging."""
    store = seeded_store(tmp_path / "data", moas=20)
    site(server, Route(b"gone", 404, "text/plain"))  # the page is read: the harvest follows
    server.default = Route(mode="hang")
    proc = cli(["--data-dir", str(store.root), "refresh", "--source", server.page_url], tmp_path)
    # The ledger rows of the two 404s are written before the harvest starts.
    deadline = time.monotonic() + 150
    while server.hits_under(MOA_DIR) == 0 and proc.poll() is None:
        assert time.monotonic() < deadline, "the harvest never started"
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1]
    before = tree_digest(store.root)
    out, err, seconds = interrupt(proc, server, sig, wait_for=1)
    assert_clean_stop(proc, out, err, seconds, sig, store, before)


def test_a_signal_stops_moa_read_and_its_worker_processes(tmp_path):
    samples = samples_or_skip()
    folder = tmp_path / "many-pdfs"
    folder.mkdir()
    for copy in range(8):
        for pdf in sorted(samples.glob("*.pdf")):
            (folder / f"{copy}-{pdf.name}").symlink_to(pdf)
    proc = cli(["moa", "read", str(folder), "--workers", "2", "--format", "csv"], tmp_path)
    time.sleep(4)  # imports done, the workers busy reading
    assert proc.poll() is None, "finished before the signal: give it more PDFs"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and time.monotonic() - t0 < 10, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err, err
    time.sleep(0.5)
    left = [
        p
        for p in Path("/proc").glob("[0-9]*/cmdline")
        if str(folder).encode() in _read(p) and p.parent.name != str(os.getpid())
    ]
    assert left == [], "worker processes outlived the command"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


GRACE_SCRIPT = """
import subprocess, sys, time
from ice287g.cli import stops
stops.GRACE_SECONDS = 0.5
child = subprocess.Popen(["sleep", "60"])
with stops.handled():
    try:  # the pid is printed inside: a signal that lands right after it still meets the way out
        print(child.pid, flush=True)
        time.sleep(60)
    finally:
        time.sleep(60)  # a way out that hangs (say, an API call to a server already gone)
"""


def test_a_way_out_that_hangs_is_cut_after_the_grace_period(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", GRACE_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )
    child = int(proc.stdout.readline())
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and time.monotonic() - t0 < 5
    assert err.decode().count("interrupted by SIGTERM") == 1
    time.sleep(0.3)
    assert not Path(f"/proc/{child}").exists() or "Z" in _state(child), "the child outlived it"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"

"""Fault injection, the real command in a subprocess (issue 11): a source that cannot be
reached, everything blocked, SIGINT and SIGTERM, each with and without Prefect.

Every case asserts the clean outcome, that it came quickly, and what the store holds
afterwards (for an interrupted command: the whole store byte-identical). The cases that run
the command under Prefect against a Prefect API live in test_flows.py, beside the other
tests of the real engine, so that one file starts that API and stops it when done (each
start is about 10 s of CPU); the one here (SIGINT in the MOA harvest) lets the command start
and stop its own temporary server, as a night without an API URL does (from the run's
database, as a first start leaves it: ``prefect_home`` in conftest.py). The store, site and
server helpers are those of test_faults_net.py (the same faults, in-process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.files import tree_digest
from support.hostile_server import HostileServer, Route
from support.local_server import PAGE_PATH
from support.prefect_db import PREFILLED, UNREAD_SERVICES
from support.shared import samples_or_skip
from test_faults_net import (
    MOA_DIR,
    REPO,
    closed_port,
    lock_is_free,
    seeded_store,
    site,
)

from ice287g.cli import stops
from ice287g.jobs.harvest import harvest_lock
from ice287g.jobs.refresh import refresh_lock
from ice287g.store import ledger
from scrapers.http import BACKOFF_ENV


@pytest.fixture
def server():
    with HostileServer() as s:
        yield s


def cli(args: list[str], tmp_path: Path, api_url: str | None = None, **popen) -> subprocess.Popen:
    """The real `ice287g` command in a subprocess, with its own Prefect home
    (``tmp_path/prefect``: the ``prefect_home`` fixture puts the run's database there, as a
    first start leaves it); with ``api_url`` it uses that Prefect API instead of starting a
    temporary server. Its retries
    do not wait (``$ICE287G_RETRY_BACKOFF``): what is timed here is the giving up, not the
    production backoff (tested in test_http.py)."""
    env = {
        **os.environ,
        **PREFILLED,
        **UNREAD_SERVICES,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PYTHONWARNINGS": "ignore",
        BACKOFF_ENV: "0",
    }
    env.pop("PREFECT_API_URL", None)
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
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
def test_sigint_stops_a_prefect_refresh_in_its_moa_harvest(server, tmp_path, prefect_home):
    """The case of the issue: `refresh` under Prefect, in the MOA harvest (a subflow), with a
    PDF download hanging; SIGINT with the command's own temporary server (started and
    stopped by the command). SIGTERM against a Prefect API: test_flows.py."""
    stop_a_prefect_harvest(server, tmp_path, signal.SIGINT, api_url=None)


def stop_a_prefect_harvest(server, tmp_path, sig: int, api_url: str | None) -> None:
    """`refresh` under Prefect (its own temporary server without ``api_url``) stopped by
    ``sig`` while a PDF download of its MOA harvest hangs: a clean stop."""
    store = seeded_store(tmp_path / "data", moas=20)
    site(server, Route(b"gone", 404, "text/plain"))  # the page is read: the harvest follows
    server.default = Route(mode="hang")
    args = ["--data-dir", str(store.root), "refresh", "--source", server.page_url]
    proc = cli(args, tmp_path, api_url)
    # The ledger rows of the two 404s are written before the harvest starts.
    deadline = time.monotonic() + 150
    while server.hits_under(MOA_DIR) == 0 and proc.poll() is None:
        assert time.monotonic() < deadline, "the harvest never started"
        time.sleep(0.05)
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
    deadline = time.monotonic() + 60
    while len(_running_on(folder)) < 3:  # imports done, both workers started (forked copies)
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.05)
    assert _within(10, lambda: _workers_busy(folder, proc.pid)), "the workers never read"
    assert proc.poll() is None, "finished before the signal: give it more PDFs"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and time.monotonic() - t0 < 10, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err, err
    assert _within(0.5, lambda: _running_on(folder) == []), "worker processes outlived it"


def _within(seconds: float, condition) -> bool:
    """Whether ``condition()`` holds within ``seconds`` (asked every 20 ms, and once at the
    end): a bounded wait that ends as soon as it holds."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= end:
            return condition()
        time.sleep(0.02)
    return True


def _running_on(folder: Path) -> list[Path]:
    """The processes (not this one) whose command line names ``folder``."""
    return [
        p
        for p in Path("/proc").glob("[0-9]*/cmdline")
        if str(folder).encode() in _read(p) and p.parent.name != str(os.getpid())
    ]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


GRACE_SCRIPT = """
import subprocess, sys, time
from ice287g.cli import stops
stops.GRACE_SECONDS = 0.2
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
    gone = _within(0.3, lambda: not Path(f"/proc/{child}").exists() or "Z" in _state(child))
    assert gone, "the child outlived it"


def _state(pid: int) -> str:
    return (_stat(pid) or ["Z"])[0]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...; utime and
    stime at 11 and 12), or [] when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _workers_busy(folder: Path, parent: int) -> bool:
    """Whether both worker processes (``parent``'s children naming ``folder``) have used at
    least two clock ticks of CPU since they were forked: they are reading PDFs."""
    busy = 0
    for cmdline in _running_on(folder):
        fields = _stat(int(cmdline.parent.name))
        if fields and fields[1] == str(parent) and int(fields[11]) + int(fields[12]) >= 2:
            busy += 1
    return busy >= 2


def test_the_default_grace_is_the_one_the_readme_gives():
    """The test above sets a short grace (its subject is that the grace is kept); the
    product's default is the README's."""
    readme = (REPO / "README.md").read_text()
    assert f"if the way out takes more than {stops.GRACE_SECONDS:g} s" in readme
    assert stops.GRACE_SECONDS == 10

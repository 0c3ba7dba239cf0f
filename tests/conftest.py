"""Shared session fixtures: the real corpus and ONE store backfilled from it, the replayed
sites (support/http_fixtures.py), ONE Prefect engine for the few real-engine tests, the
hypothesis profiles, and the order in which `make test` hands files to its workers.

Everything here that is built once is shared, so it is read-only: the corpus store is checked
unchanged at the end, and a test that writes works on a copy (support.files.copy_store).
"""

from __future__ import annotations

import csv
import gc
import os
import pickle
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from support import prefect_db
from support.files import copy_store, tree_digest
from support.shared import corpus_or_skip, samples_or_skip

pytest_plugins = ["support.http_fixtures"]

# Property tests: 50 examples per property by default; HYPOTHESIS_PROFILE=thorough for 300.
_PROPERTIES = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("default", max_examples=50, **_PROPERTIES)
settings.register_profile("thorough", max_examples=300, **_PROPERTIES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# `make test` hands whole files to its workers in collection order (`--no-loadscope-reorder`;
# pytest-xdist would otherwise order them by their number of tests): one to each worker, then
# the next file to whichever worker is down to its last two tests. The dearest files go first
# so that short ones fill in at the end and the workers finish at about the same time; the
# file that backfills the corpus store (test_changes.py) goes early, before the others that
# read it, so that they rarely wait for it. Ranked by each file's share of the summed test
# wall time in four full runs (2026-11-30, 3 and 4 workers); files under 1% keep their order.
LONGEST_FIRST = (
    "test_flows.py",
    "test_refresh.py",
    "test_changes.py",
    "test_moa_read.py",
    "test_faults_stop.py",
    "test_publish_page.py",
    "test_identity_properties.py",
    "test_publish_incremental.py",
    "test_plot_export.py",
    "test_faults_store.py",
    "test_moa_cli.py",
    "test_history.py",
    "test_publish.py",
    "test_agency_rows.py",
    "test_faults_net.py",
    "test_publish_flat.py",
    "test_http.py",
    "test_store.py",
    "test_drift.py",
    "test_corpus.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order


# Python's cyclic garbage collector, as the test processes run it: what is loaded by the end of
# collection (the modules, the test items) is frozen out of its passes, and it runs after
# 50,000 allocations instead of 700. A worker holds long-lived data (the corpus store's
# tables, the replays, the identity caches), which the default collector walked again on
# every full pass: 7.9 s of the run's CPU in a full run (gc.callbacks, 4 workers, 9,300
# passes), 2.4 s so (1,400 passes). Only when garbage is collected changes, never what the
# code under test does.
GC_THRESHOLDS = (50_000, 20, 10)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch):
    """Tables fit ``COLUMNS`` when it is set; a test sees no width unless it sets one, so its
    output never depends on the terminal (or the environment) that started pytest."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_or_skip()


@pytest.fixture(scope="session")
def moa_samples() -> Path:
    """The folder of the 16 real MOA PDFs (skips without ../shared)."""
    return samples_or_skip()


@pytest.fixture(scope="session")
def moa_reads_once(tmp_path_factory):
    """From here on, ``parsers.moa.read_moa`` reads given bytes once per run, whichever worker
    and test reads them first (support/readings.py). Yields the real ``read_moa``."""
    from support.readings import remembering

    import parsers.moa

    folder = _run_dir(tmp_path_factory) / "moa-reads"
    folder.mkdir(exist_ok=True)
    real = parsers.moa.read_moa
    parsers.moa.read_moa = remembering(real, folder)
    yield real
    parsers.moa.read_moa = real


@pytest.fixture(scope="session")
def workbook_reads_once(tmp_path_factory):
    """A context manager: within it, ``parsers.workbook.read_rows`` reads given bytes once per
    run, in this process and in the process pools it starts (support/readings.py).

    For the two fixtures that ingest all 352 real workbooks: the corpus backfill and the
    replayed 2025 history (test_refresh.py) read the same bytes under other names, and only
    the first to read a workbook parses it. What follows the reading (the list decided from
    the name and link, dating, normalizing, storing) runs in each, and the readings
    themselves are checked against the corpus's independent counts (test_corpus.py).
    Only inside the block: tests elsewhere that break the parse on purpose read for real.
    """
    from support.readings import remembering

    import parsers.workbook

    folder = _run_dir(tmp_path_factory) / "workbook-reads"
    folder.mkdir(exist_ok=True)

    @contextmanager
    def once():
        with pytest.MonkeyPatch.context() as patch:
            real = parsers.workbook.read_rows
            patch.setattr(parsers.workbook, "read_rows", remembering(real, folder))
            yield

    return once


@pytest.fixture(scope="session")
def expected_counts(corpus) -> dict[str, dict]:
    with open(corpus / "expected_counts.csv", newline="") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def manifest(corpus) -> dict[str, dict]:
    with open(corpus / "MANIFEST.csv", newline="") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


@dataclass(frozen=True)
class Backfill:
    """The real corpus backfilled into ``root``: one ingest outcome per corpus file."""

    root: Path
    outcomes: list


@pytest.fixture(scope="session")
def corpus_backfill(corpus, tmp_path_factory, workbook_reads_once) -> Backfill:
    """All 352 real workbooks backfilled once per run, through the real ingest.

    Each workbook's rows are read once per run, by this backfill or by the replayed 2025
    history, whichever comes first (:func:`workbook_reads_once` says why the tests stay as
    strong); naming, dating, normalizing and storing every version runs here in full.

    Under ``make test`` the run's workers share it: the first to need it builds it, the others
    wait for it. Read it; never write to it (tests that write take a :func:`copy_store` of
    ``root``): the end of the session checks that not one file of it changed.
    """
    from filelock import FileLock

    from ice287g.jobs import derived
    from ice287g.jobs.ingest import ingest_paths
    from ice287g.store import Store

    folder = _run_dir(tmp_path_factory) / "corpus-store"
    folder.mkdir(exist_ok=True)
    root, done = folder / "data", folder / "outcomes.pickle"
    with FileLock(folder.with_suffix(".lock")):
        if not done.exists():
            with workbook_reads_once():
                outcomes = ingest_paths(Store(root), [corpus / "files"])
            # As `ice287g backfill` leaves it: the identity cached (derived/), so that the
            # workers' copies (corpus_scratch) read it instead of each resolving it again.
            assert derived.update(Store(root)) is not None
            done.write_bytes(pickle.dumps(outcomes))
    backfill = Backfill(root, pickle.loads(done.read_bytes()))
    before = tree_digest(root)
    yield backfill
    assert tree_digest(root) == before, "a test wrote into the shared corpus store"


def _run_dir(tmp_path_factory) -> Path:
    """This run's temporary folder, shared by its pytest-xdist workers (each has a subfolder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def corpus_store(corpus_backfill) -> Path:
    """The data dir of the backfilled corpus (read-only, shared by the whole session)."""
    assert all(o.status == "new" for o in corpus_backfill.outcomes)
    return corpus_backfill.root


@pytest.fixture(scope="session")
def corpus_scratch(corpus_store, tmp_path_factory) -> Path:
    """One writable copy of the corpus store, for the tests whose only writes are caches
    derived from it (the history tables); a test that changes versions copies its own."""
    return copy_store(corpus_store, tmp_path_factory.mktemp("corpus-scratch") / "data")


@pytest.fixture(scope="session")
def prefect_database(tmp_path_factory) -> Path:
    """A Prefect database as a server's first start leaves it (migrated, block types
    registered), made once per run and shared by the run's workers (support/prefect_db.py).

    That first start is most of a temporary Prefect server's start-up (about 5 s of CPU, more
    than 20 s of wall time on a loaded machine, ../shared/PREFECT.md); every test that starts
    Prefect begins from a copy of this one instead. Usually :func:`prefect_engine`'s start has
    made it; otherwise it is made here.
    """
    from filelock import FileLock

    database = _prefect_database_path(tmp_path_factory)
    with FileLock(database.parent.with_suffix(".lock")):
        if not database.exists():
            prefect_db.first_start(database)
    return database


def _prefect_database_path(tmp_path_factory) -> Path:
    folder = _run_dir(tmp_path_factory) / "prefect-database"
    folder.mkdir(exist_ok=True)
    return folder / "prefect.db"


@pytest.fixture
def prefect_home(prefect_database, tmp_path) -> Path:
    """``tmp_path/prefect``: a Prefect home for a test's own Prefect process (a command in a
    subprocess), holding a copy of the run's database (start that process with
    ``support.prefect_db.PREFILLED``)."""
    home = tmp_path / "prefect"
    home.mkdir()
    shutil.copyfile(prefect_database, home / "prefect.db")
    return home


@pytest.fixture(scope="module")
def prefect_engine(tmp_path_factory):
    """One temporary Prefect API for the real-engine tests of a file (only tests/test_flows.py
    has them), stopped when the file is done: its services would otherwise keep using CPU
    until the end of the run. The environment and Prefect's settings are restored afterwards.

    Its start-up is the dear part (../shared/PREFECT.md), so it happens once. It is the
    server a command starts without an API (``flows.server``: Prefect's temporary server,
    which this process never imports, unlike prefect_test_harness), in a fresh Prefect home
    handed the run's database (:func:`prefect_database`) when another worker has made it
    already; otherwise the server starts on an empty one, and what its first start leaves
    there becomes the run's database (one start instead of two).
    """
    from filelock import FileLock

    saved = dict(os.environ)
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(prefect_db.UNREAD_SERVICES)  # the server inherits them
    from flows.server import start_temporary_server, stop_server, wait_until_healthy
    from flows.settings import configure

    configure()
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    database = _prefect_database_path(tmp_path_factory)
    server = None
    try:
        with FileLock(database.parent.with_suffix(".lock")):
            made = database.exists()
            if made:
                shutil.copyfile(database, home / "prefect.db")
                os.environ.update(prefect_db.PREFILLED)
            server, url = start_temporary_server()
            wait_until_healthy(server, url)
            if not made:
                prefect_db.snapshot(home / "prefect.db", database)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield home
            # What Prefect's workers hold goes out before the server stops.
            APILogWorker.drain_all()
            EventsWorker.drain_all()
    finally:
        if server is not None:
            stop_server(server)
        os.environ.clear()
        os.environ.update(saved)

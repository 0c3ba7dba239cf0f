"""Pytest fixtures for HTTP tests: the ICE replay server and a fetcher bound to it.

A plain module, not a conftest: a test file opts in with ``pytest_plugins = ["conftest_http"]``
(or by importing the fixtures it uses).
The corpus is read from ``../shared/ice-corpus`` beside the repository; the fixtures skip the
test with the reason when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from replay_server import ReplayCorpus, ReplayServer

from scrapers.http import Fetcher

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS_DIR = SHARED_DIR / "ice-corpus"


def corpus_dir_or_skip() -> Path:
    """The real corpus directory, or skip the calling test saying where it was looked for."""
    if not (CORPUS_DIR / "publications.csv").is_file():
        pytest.skip(f"real ICE corpus not found at {CORPUS_DIR} (expected ../shared beside repo)")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def replay_corpus() -> ReplayCorpus:
    """The corpus timeline, loaded once per session (workbook bytes are read on demand)."""
    return ReplayCorpus(corpus_dir_or_skip())


@pytest.fixture
def replay_server(replay_corpus: ReplayCorpus) -> Iterator[ReplayServer]:
    """A fresh server per test (own faults, counters and day); stopped at teardown.

    Fails the test at teardown if the request budget was exceeded (a runaway retry loop).
    """
    with ReplayServer(replay_corpus) as server:
        yield server
    assert not server.over_budget, f"more than {server.max_requests} requests to the server"


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a fetcher asked for; the fetcher records them instead of sleeping."""
    return []


@pytest.fixture
def fetcher(replay_server: ReplayServer, sleeps: list[float]) -> Iterator[Fetcher]:
    """A fetcher whose source host is the replay server, with short timeouts and no real sleep."""
    with Fetcher(
        source_host=replay_server.host,
        connect_timeout=2.0,
        read_timeout=2.0,
        sleep=sleeps.append,
    ) as client:
        yield client

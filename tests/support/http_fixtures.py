"""Pytest fixtures for HTTP tests: replayed ICE sites on 127.0.0.1 and a fetcher bound to one.

Registered for every test by ``tests/conftest.py`` (``pytest_plugins``). Two timelines:

- ``site_corpus``: the generated site (:mod:`support.site`), always present. The fetch,
  retry, redirect, size-cap, discovery, refresh and Wayback logic is tested against it.
- ``replay_corpus``: the real 2025 corpus in ../shared; the tests that use it skip, saying
  where it was looked for, when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scrapers.http import Fetcher

from .replay_server import ReplayCorpus, ReplayServer
from .shared import corpus_or_skip
from .site import write_site

# Long enough for any answer of a local server on a loaded machine; the tests that trip a
# timeout on purpose use their own, much shorter one.
TIMEOUT = 2.0


@pytest.fixture(scope="session")
def site_corpus(tmp_path_factory) -> ReplayCorpus:
    """The generated site's timeline, written once per session."""
    return ReplayCorpus(write_site(tmp_path_factory.mktemp("site")))


@pytest.fixture(scope="session")
def replay_corpus() -> ReplayCorpus:
    """The real corpus timeline, loaded once per session (workbook bytes are read on demand)."""
    return ReplayCorpus(corpus_or_skip())


def _serve(corpus: ReplayCorpus) -> Iterator[ReplayServer]:
    with ReplayServer(corpus) as server:
        yield server
    assert not server.over_budget, f"more than {server.max_requests} requests to the server"


@pytest.fixture
def replay_server(site_corpus: ReplayCorpus) -> Iterator[ReplayServer]:
    """A fresh server of the generated site per test (own faults, counters and day).

    Fails the test at teardown if the request budget was exceeded (a runaway retry loop).
    """
    yield from _serve(site_corpus)


@pytest.fixture
def corpus_server(replay_corpus: ReplayCorpus) -> Iterator[ReplayServer]:
    """A fresh server replaying the real corpus, for tests about the real 2025 history."""
    yield from _serve(replay_corpus)


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a fetcher asked for; the fetcher records them instead of sleeping."""
    return []


def local_fetcher(server: ReplayServer, sleeps: list[float], **options) -> Fetcher:
    """A fetcher whose source host is ``server``, recording its waits instead of sleeping."""
    options.setdefault("connect_timeout", TIMEOUT)
    options.setdefault("read_timeout", TIMEOUT)
    return Fetcher(source_host=server.host, sleep=sleeps.append, **options)


@pytest.fixture
def fetcher(replay_server: ReplayServer, sleeps: list[float]) -> Iterator[Fetcher]:
    """A fetcher bound to the generated site's server, with no real sleep."""
    with local_fetcher(replay_server, sleeps) as client:
        yield client


@pytest.fixture
def corpus_fetcher(corpus_server: ReplayServer, sleeps: list[float]) -> Iterator[Fetcher]:
    """A fetcher bound to the real corpus's server, with no real sleep."""
    with local_fetcher(corpus_server, sleeps) as client:
        yield client

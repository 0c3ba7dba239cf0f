"""The live refresh and the Wayback backfill, against a real local server replaying ICE's site.

The server (tests/support/replay_server.py) serves, at each moment of a timeline, a page
linking the files ICE had up then, under their ICE names, with ETag and Last-Modified,
honouring conditional requests. The refresh logic runs against the generated site
(tests/support/site.py); the whole real 2025 history and its reference figures are replayed
from ../shared (skipped without it). These tests call the plain functions; the Prefect flow
itself runs in tests/test_flows.py.
"""

from __future__ import annotations

import csv
from datetime import date, datetime

import pytest
from support.files import tree_digest
from support.http_fixtures import TIMEOUT, local_fetcher
from support.replay_server import ReplayServer
from support.site import REFERENCE_COUNTS, REFERENCE_PENDING_ROWS

from ice287g import query
from ice287g.jobs import derived
from ice287g.jobs.refresh import RefreshBusy, refresh, refresh_lock
from ice287g.jobs.wayback import wayback
from ice287g.store import Store, ledger
from scrapers.http import Fetcher


def versions_only(root) -> dict[str, str]:
    """Digest of what makes versions (raw, snapshots, catalog), not the observation ledger
    nor the derived state kept current after new versions (``derived/``)."""
    return {
        k: v
        for k, v in tree_digest(root).items()
        if not k.startswith(("publications", ".refresh", "derived/"))
    }


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "data")


@pytest.fixture(scope="module")
def replayed(replay_corpus, tmp_path_factory, workbook_reads_once):
    """The whole 2025 history refreshed moment by moment into one store.

    The observations, versions and catalog are what the tests read, so no markdown summary
    is written, and the derived state (the identity cache, brought up to date after each
    refresh with new versions) is only asked for, not built: building it 230 times was four
    fifths of this replay's CPU. That a refresh leaves it current is checked on the
    generated site (test_a_refresh_with_new_versions_leaves_the_derived_state_current) and
    version by version in test_identity_properties.py.

    The rows of each workbook are read once per run (conftest's ``workbook_reads_once``):
    the corpus backfill reads the same 352 workbooks, so whichever of the two comes second
    gets the first's reading of the same bytes, a pure function of them. Everything that
    depends on how the bytes were published (the list decided from the page link and file
    name, the date, the observations) is decided here, by the real refresh, as before.
    """
    store = Store(tmp_path_factory.mktemp("replay") / "data")
    moments = sorted({p.published for p in replay_corpus.publications})
    reports, asked = [], []
    with (
        pytest.MonkeyPatch.context() as patch,
        workbook_reads_once(),
        ReplayServer(replay_corpus, max_requests=5000) as server,
        Fetcher(source_host=server.host, sleep=lambda s: None) as fetcher,
    ):
        patch.setattr(derived, "update", lambda s: asked.append(s.root))
        for moment in moments:
            server.set_time(moment)
            reports.append(
                (moment, refresh(store, server.page_url, fetcher=fetcher, summary=False))
            )
    assert asked == [store.root for _, r in reports if r.new_versions]
    return store, reports


@pytest.mark.corpus
def test_history_replay_gives_one_version_per_distinct_workbook(replayed, replay_corpus):
    store, reports = replayed
    assert all(r.ok for _, r in reports), [r.failures for _, r in reports if not r.ok]
    distinct = {p.sha256 for p in replay_corpus.publications}
    cat = query.snapshots(data_dir=store)
    assert len(cat) == len(distinct) == 352
    assert set(cat["sha256"]) == distinct
    with open(replay_corpus.dir / "MANIFEST.csv", newline="") as fh:
        manifest = {r["sha256"]: r for r in csv.DictReader(fh)}
    # The list is decided by content, and the dates agree with the archive's own dating.
    assert {r.sha256: r.list for r in cat.itertuples()} == {
        s: m["list"] for s, m in manifest.items()
    }
    assert {r.sha256: str(r.date) for r in cat.itertuples()} == {
        s: m["date"] for s, m in manifest.items()
    }


@pytest.mark.corpus
def test_re_served_bytes_are_observations_not_versions(replayed):
    store, _ = replayed
    rows = ledger.PUBLICATIONS.read(store).to_pandas()
    new = rows[rows["outcome"] == ledger.NEW_VERSION]
    same = rows[rows["outcome"] == ledger.SAME_BYTES]
    assert len(new) == 352 and new["sha256"].is_unique
    assert len(same) > 0
    # Every re-served observation points at bytes that are already a version.
    assert set(same["sha256"]) <= set(new["sha256"])
    assert (same["file_name"].values != None).all()  # noqa: E711


@pytest.mark.corpus
def test_a_changed_file_under_the_same_name_is_a_new_version(replayed):
    store, _ = replayed
    rows = ledger.PUBLICATIONS.read(store).to_pandas()
    name = "participatingAgencies07032025pm.xlsx"  # held two different files that afternoon
    shas = set(
        rows[(rows["file_name"] == name) & (rows["outcome"] == ledger.NEW_VERSION)]["sha256"]
    )
    assert len(shas) == 2


@pytest.mark.corpus
def test_the_2025_09_22_swap_is_classified_by_content(replayed):
    store, _ = replayed
    rows = ledger.PUBLICATIONS.read(store).to_pandas()
    swap = rows[rows["file_name"] == "participatingAgencies09222025pm.xlsx"]
    assert set(swap["list_hint"]) == {"participating"}
    assert set(swap["list"]) == {"pending"}  # the participating URL held the pending list


def test_a_second_refresh_on_an_unchanged_day_downloads_no_workbook_body(
    replay_server, fetcher, store
):
    replay_server.set_day(date(2025, 4, 4))
    first = refresh(store, replay_server.page_url, fetcher=fetcher)
    assert first.ok and len(first.new_versions) == 2
    served_before = dict(replay_server.body_bytes)
    second = refresh(store, replay_server.page_url, fetcher=fetcher)
    assert second.ok and second.bytes_downloaded == 0
    assert {o.outcome for o in second.observations} == {ledger.NOT_MODIFIED}
    workbook_paths = [p for p in replay_server.body_bytes if p.endswith(".xlsx")]
    assert workbook_paths and all(
        replay_server.body_bytes[p] == served_before.get(p) for p in workbook_paths
    )


def test_a_refresh_with_new_versions_leaves_the_derived_state_current(
    replay_server, fetcher, store, monkeypatch
):
    """The reads after a refresh only read: the identity cache it leaves is current, so
    loading it resolves nothing again."""
    import ice287g.query.identity as identity

    replay_server.set_day(date(2025, 4, 3))
    assert len(refresh(store, replay_server.page_url, fetcher=fetcher).new_versions) == 2
    replay_server.set_day(date(2025, 4, 8))  # both lists change
    assert len(refresh(store, replay_server.page_url, fetcher=fetcher).new_versions) == 2
    assert identity.cache_path(store, include_suspect=False).is_file()
    resolved = []
    monkeypatch.setattr(identity, "resolve", lambda *a: resolved.append(a))
    monkeypatch.setattr(identity, "read_rows", lambda *a: resolved.append(a))
    agreements = identity.load(store).agreements()
    assert resolved == [] and len(agreements) >= sum(REFERENCE_COUNTS.values())


def test_the_reference_day_through_the_live_path(replay_server, fetcher, store):
    replay_server.set_day(date(2025, 4, 4))
    refresh(store, replay_server.page_url, fetcher=fetcher)
    got = query.counts(by=["model"], as_of="2025-04-04", data_dir=store)
    part = got[got["list"] == "participating"]
    assert dict(zip(part["model"], part["count"])) == REFERENCE_COUNTS
    assert got[got["list"] == "pending"]["count"].sum() == REFERENCE_PENDING_ROWS


@pytest.mark.corpus
def test_april_4_2025_through_the_live_path(corpus_server, corpus_fetcher, store):
    corpus_server.set_day(date(2025, 4, 4))
    refresh(store, corpus_server.page_url, fetcher=corpus_fetcher)
    got = query.counts(by=["model"], as_of="2025-04-04", data_dir=store)
    part = got[got["list"] == "participating"]
    assert dict(zip(part["model"], part["count"])) == {"JEM": 86, "TFM": 178, "WSO": 180}
    assert got[got["list"] == "pending"]["count"].sum() == 66


@pytest.mark.parametrize("fault", ["block403", "block200", "error500", "timeout", "truncated"])
def test_failures_leave_the_versions_unchanged_and_are_reported(
    replay_server, store, fault, sleeps
):
    # the timeout case waits a quarter second per attempt, far below the server's delay
    timeout = 0.25 if fault == "timeout" else TIMEOUT
    with local_fetcher(replay_server, sleeps, read_timeout=timeout) as fetcher:
        replay_server.set_day(date(2025, 4, 3))
        assert refresh(store, replay_server.page_url, fetcher=fetcher).ok
        before = versions_only(store.root)
        replay_server.set_day(date(2025, 4, 8))  # both files change: a full body is requested
        path = replay_server.page_links()["participating"].path
        {
            "block403": lambda: replay_server.block(path, status=403),
            "block200": lambda: replay_server.block(path, status=200),
            "error500": lambda: replay_server.fail(path, status=500),
            "timeout": lambda: replay_server.slow(path, delay=5.0),
            "truncated": lambda: replay_server.truncate(path, send_bytes=1000),
        }[fault]()
        report = refresh(store, replay_server.page_url, fetcher=fetcher)
        assert not report.ok
        bad = [o for o in report.observations if o.url.endswith(path)]
        assert len(bad) == 1 and bad[0].outcome in (ledger.BLOCKED, ledger.FAILED)
        assert path.rsplit("/", 1)[-1] in " ".join(report.failures)
        # The other list was still fetched: a new pending version on April 8.
        assert any(
            o.outcome == ledger.NEW_VERSION and o.list == "pending" for o in report.observations
        )
        after = versions_only(store.root)
        changed = {k for k in after if before.get(k) != after[k]}
        assert all("pending" in k or k.startswith(("catalog", "tallies", "raw/")) for k in changed)
        assert len(query.snapshots(list="participating", data_dir=store)) == 1
        rows = ledger.PUBLICATIONS.read(store).to_pandas()
        assert (
            rows.iloc[-2:]["outcome"]
            .isin([ledger.BLOCKED, ledger.FAILED, ledger.NEW_VERSION])
            .all()
        )


def test_a_page_without_workbook_links_is_a_failure_not_an_empty_success(
    replay_server, fetcher, store
):
    replay_server.add_route("/empty", b"<html><body>No files today</body></html>", "text/html")
    report = refresh(store, replay_server.url("/empty"), fetcher=fetcher)
    assert not report.ok and "no workbook link" in report.failures[0]
    assert query.snapshots(data_dir=store).empty


def test_two_refreshes_cannot_interleave(replay_server, fetcher, store):
    with refresh_lock(store):
        with pytest.raises(RefreshBusy, match="another refresh is running"):
            refresh(store, replay_server.page_url, fetcher=fetcher)


def test_wayback_backfill_from_cdx_captures(replay_server, store):
    with Fetcher(source_host=replay_server.host, sleep=lambda s: None) as fetcher:
        first = wayback(
            store,
            date(2025, 4, 1),
            date(2025, 4, 8),
            cdx_base=replay_server.cdx_url,
            fetcher=fetcher,
        )
        assert first and all(o.outcome in (ledger.NEW_VERSION, ledger.SAME_BYTES) for o in first)
        got = query.counts(as_of="2025-04-04", data_dir=store)
        assert dict(zip(got["list"], got["count"])) == {
            "participating": sum(REFERENCE_COUNTS.values()),
            "pending": REFERENCE_PENDING_ROWS,
        }
        rows = ledger.PUBLICATIONS.read(store).to_pandas()
        assert (rows["source"] == "wayback").all() and rows["captured_at"].notna().all()
        served = sum(replay_server.body_bytes.values())
        again = wayback(
            store,
            date(2025, 4, 1),
            date(2025, 4, 8),
            cdx_base=replay_server.cdx_url,
            fetcher=fetcher,
        )
        assert again == []
        listing_only = sum(replay_server.body_bytes.values()) - served
        assert listing_only < 50_000  # the CDX listing, no workbook body


def test_refresh_cli_without_prefect_and_publications(replay_server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ice287g.cli import main
    from ice287g.publish import PUBLISH_TO

    site = tmp_path / "site"
    monkeypatch.setenv(PUBLISH_TO, str(site))  # the nightly publish step runs after it

    replay_server.set_time(
        datetime(
            2025, 4, 4, 23, 0, tzinfo=replay_server.page_links()["participating"].published.tzinfo
        )
    )
    data = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "--data-dir",
            str(data),
            "refresh",
            "--no-prefect",
            "--no-moa",
            "--source",
            replay_server.page_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "## Agreements by model" in result.output
        and "| participating | 2025-04-03 |" in " ".join(result.output.split())
    )
    assert f"published {site}:" in result.output
    assert (site / "index.html").is_file() and (site / "data" / "datapackage.json").is_file()
    pubs = runner.invoke(main, ["--data-dir", str(data), "publications", "--format", "csv"])
    lines = pubs.output.strip().splitlines()
    assert lines[0].startswith("fetched_at,source,url")
    assert len(lines) == 3 and all("new version" in line for line in lines[1:])

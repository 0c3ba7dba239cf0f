"""Agreement history: a small built store whose every answer is known, then the real corpus."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime

import pandas as pd
import pytest
from click.testing import CliRunner
from support.files import copy_store, tree_digest
from support.imports import heavy_imports
from support.workbooks import (
    PARTICIPATING_HEADER,
    PENDING_HEADER,
    build_workbook,
    participating_row,
)

from ice287g.cli import main
from ice287g.jobs.ingest import ingest_paths
from ice287g.query import QueryError, counts
from ice287g.query.counties import counties
from ice287g.query.diff import diff
from ice287g.query.history import (
    AGREEMENT_COLUMNS,
    EVENT_COLUMNS,
    AmbiguousQuery,
    agreements,
    history,
)
from ice287g.query.identity import cache_path, load
from ice287g.store import Store

URL = "https://www.ice.gov/doclib/287gMOA/{}.pdf"
HARRIS = ["TEXAS", "Harris County Sheriff's Office", "County", "Harris County", "Task Force Model"]


def part(
    agency, state="FLORIDA", model="Warrant Service Officer", signed=date(2025, 3, 1), moa="link"
):
    return participating_row(
        state=state,
        agency=agency,
        typ="County",
        county=None,
        model=model,
        signed=pd.Timestamp(signed).to_pydatetime(),
        moa=moa,
    )


def write(folder, name, header, rows, links=None):
    """A workbook named as ICE names them (…MMDDYYYYam.xlsx), saved on that day."""
    folder.mkdir(exist_ok=True)
    stamp = re.search(r"(\d{2})(\d{2})(\d{4})(am|pm)", name)
    month, day, year = (int(g) for g in stamp.groups()[:3])
    saved = datetime(year, month, day, 9 if stamp.group(4) == "am" else 18)
    (folder / name).write_bytes(build_workbook(header, rows, links=links or {}, saved=saved))


def build_small(base):
    """Pending 04-01, 04-05, 04-09 (empty); participating 04-03, 04-10, 04-17."""
    src = base / "in"
    write(
        src,
        "pendingAgencies04012025am.xlsx",
        PENDING_HEADER,
        [
            [
                "FLORIDA",
                "Lake County Sheriff's Office",
                "County",
                "Lake County",
                "Task Force Model",
            ],
            [
                "FLORIDA",
                "Bay County Sheriff's Office",
                "County",
                "Bay County",
                "Warrant Service Officer",
            ],
        ],
    )
    write(
        src,
        "pendingAgencies04052025am.xlsx",
        PENDING_HEADER,
        [["FLORIDA", "Lake County Sheriff's Office", "County", "Lake County", "Task Force Model"]],
    )
    write(src, "pendingAgencies04092025am.xlsx", PENDING_HEADER, [])
    write(
        src,
        "participatingAgencies04032025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            part("Harris County Sheriff's Office", "TEXAS", "Task Force Model"),
            part("Alpha Police Department", moa="link pending"),
            part("Albermarle District Jail", "NORTH CAROLINA"),
        ],
        links={(0, "MOA"): URL.format("harris"), (2, "MOA"): URL.format("jail")},
    )
    write(
        src,
        "participatingAgencies04102025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            part("Harris County Sheriff's Office", "TEXAS", "Task Force Model", date(2025, 3, 2)),
            part("Albemarle District Jail", "NORTH CAROLINA"),
            part("Lake County Sheriff's Office", model="Task Force Model", moa="link pending"),
        ],
        links={(0, "MOA"): URL.format("harris"), (1, "MOA"): URL.format("jail")},
    )
    write(
        src,
        "participatingAgencies04172025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            part("Harris County Sheriff's Office", "TEXAS", "Task Force Model", date(2025, 3, 2)),
            part("Albemarle District Jail", "NORTH CAROLINA"),
            part("Lake County Sheriff's Office", model="Task Force Model", moa="link pending"),
            part("Alpha Police Department"),
        ],
        links={
            (0, "MOA"): URL.format("harris"),
            (1, "MOA"): URL.format("jail"),
            (3, "MOA"): URL.format("alpha"),
        },
    )
    store = Store(base / "data")
    assert all(o.status == "new" for o in ingest_paths(store, [src]))
    return store


@pytest.fixture(scope="module")
def small_built(tmp_path_factory):
    """The small store, built once per module and never written: each test works on a copy
    (``small``), checked at the end."""
    store = build_small(tmp_path_factory.mktemp("small"))
    before = tree_digest(store.root)
    yield store
    assert tree_digest(store.root) == before, "a test wrote into the module's small store"


@pytest.fixture
def small(small_built, tmp_path):
    return Store(copy_store(small_built.root, tmp_path / "data"))


def by_id(df):
    return {r["agreement_id"]: r for r in df.to_dict(orient="records")}


def test_agreement_history_of_a_known_store(small):
    table = agreements(data_dir=small)
    assert list(table.columns) == AGREEMENT_COLUMNS
    rows = by_id(table)
    # The jail keeps the id of its first spelling (Albermarle), its newest name, both keys.
    assert set(rows) == {
        "TX:harriscountysheriffsoffice:TFM",
        "FL:alphapolicedepartment:WSO",
        "NC:albermarledistrictjail:WSO",
        "FL:lakecountysheriffsoffice:TFM",
    }
    harris = rows["TX:harriscountysheriffsoffice:TFM"]
    assert (
        harris["first_listed"],
        harris["last_listed"],
        harris["versions_listed"],
        harris["returns"],
        harris["status"],
        harris["moa_posted"],
        harris["signed"],
        harris["evidence"],
    ) == (
        date(2025, 4, 3),
        date(2025, 4, 17),
        3,
        0,
        "active",
        date(2025, 4, 3),
        date(2025, 3, 2),
        "exact",
    )
    assert pd.isna(harris["pending_first_listed"]) and pd.isna(harris["days_waited"])
    alpha = rows["FL:alphapolicedepartment:WSO"]
    assert (alpha["versions_listed"], alpha["returns"], alpha["moa_posted"]) == (
        2,
        1,
        date(2025, 4, 17),
    )
    jail = rows["NC:albermarledistrictjail:WSO"]
    assert (jail["agency"], jail["keys"], jail["versions_listed"], jail["first_listed"]) == (
        "Albemarle District Jail",
        "NC:albermarledistrictjail:WSO; NC:albemarledistrictjail:WSO",
        3,
        date(2025, 4, 3),
    )
    assert jail["names"] == "Albermarle District Jail; Albemarle District Jail"
    assert jail["evidence"] != "exact"  # joined by a tier, named
    lake = rows["FL:lakecountysheriffsoffice:TFM"]
    assert (
        lake["pending_first_listed"],
        lake["first_listed"],
        lake["days_waited"],
        lake["pending_match"],
        lake["moa_posted"],
    ) == (date(2025, 4, 1), date(2025, 4, 10), 9, "agreement", None)
    assert list(agreements(status="removed", data_dir=small).agreement_id) == []
    assert list(agreements(state="North Carolina", data_dir=small).agreement_id) == [
        "NC:albermarledistrictjail:WSO"
    ]
    with pytest.raises(QueryError):
        agreements(state="Atlantis", data_dir=small)


def test_timeline_of_one_agency(small):
    events = history("alpha police", data_dir=small)
    assert list(events.columns) == EVENT_COLUMNS
    assert list(zip(events.date.map(str), events.event, events.field.fillna(""))) == [
        ("2025-04-03", "listed", ""),
        ("2025-04-10", "removed", ""),
        ("2025-04-17", "returned", ""),
        ("2025-04-17", "moa_posted", "moa_url"),
    ]
    jail = history("Albemarel District Jail", data_dir=small)  # typo in the question too
    renamed = jail[jail.event == "renamed"].iloc[0]
    assert (str(renamed.date), renamed.before, renamed.after) == (
        "2025-04-10",
        "Albermarle District Jail",
        "Albemarle District Jail",
    )
    assert set(jail.agreement_id) == {"NC:albermarledistrictjail:WSO"}
    # Every spelling finds the agency.
    assert history("Albermarle District Jail", data_dir=small).equals(jail)
    # An agency only ever pending has a timeline but no agreement.
    bay = history("bay county", data_dir=small)
    assert list(zip(bay.list, bay.event)) == [("pending", "listed"), ("pending", "removed")]
    assert bay.attrs["agreements"].empty
    with pytest.raises(AmbiguousQuery) as err:
        history("county sheriff", data_dir=small)
    assert set(err.value.candidates.agency_id) == {
        "TX:harriscountysheriffsoffice",
        "FL:lakecountysheriffsoffice",
        "FL:baycountysheriffsoffice",
    }
    with pytest.raises(QueryError, match="no agency matches"):
        history("nowhere at all", data_dir=small)


def test_empty_pending_list_is_skipped_unless_asked(small):
    events = history("lake county", data_dir=small)
    assert not (events.list == "pending").pipe(lambda m: events[m].event == "removed").any()
    raw = history("lake county", data_dir=small, include_suspect=True)
    removed = raw[(raw.list == "pending") & (raw.event == "removed")]
    assert list(removed.date.map(str)) == ["2025-04-09"]


def test_history_is_cached_and_rebuilt_only_when_the_catalog_changes(small, tmp_path):
    derived = cache_path(small, include_suspect=False)
    load(small)
    first = derived.stat().st_mtime_ns
    os.utime(derived, ns=(first - 10**9, first - 10**9))  # any rewrite would move it
    load(small)
    assert derived.stat().st_mtime_ns == first - 10**9
    src = tmp_path / "more"
    write(
        src,
        "participatingAgencies04242025pm.xlsx",
        PARTICIPATING_HEADER,
        [part("Harris County Sheriff's Office", "TEXAS", "Task Force Model", date(2025, 3, 2))],
        links={(0, "MOA"): URL.format("harris")},
    )
    ingest_paths(small, [src])
    table = load(small).agreements()
    assert derived.stat().st_mtime_ns != first - 10**9
    assert set(table[table.status == "active"].agreement_id) == {
        "TX:harriscountysheriffsoffice:TFM"
    }


def _tables(ident) -> dict:
    return {t: getattr(ident, t)() for t in ("agreements", "events", "aliases", "merges")}


def test_a_newer_version_extends_the_cached_identity_reading_only_its_rows(
    small, tmp_path, monkeypatch
):
    """Issue 14: a version newer than every stored one of its list extends the cache (its
    rows are read, nothing is resolved again) and gives what a rebuild gives; a version
    older than its list's newest, or a cache from other code, is resolved again."""
    import ice287g.query.identity as source

    load(small)  # the cache of the first six versions
    write(
        tmp_path / "later",
        "participatingAgencies04242025pm.xlsx",
        PARTICIPATING_HEADER,
        [part("Harris County Sheriff's Office", "TEXAS", "Task Force Model", date(2025, 3, 2))],
        links={(0, "MOA"): URL.format("harris")},
    )
    write(
        tmp_path / "earlier",
        "pendingAgencies04032025am.xlsx",
        PENDING_HEADER,
        [["FLORIDA", "Bay County Sheriff's Office", "County", "Bay County", "Task Force Model"]],
    )
    ingest_paths(small, [tmp_path / "later"])
    newest = small.catalog_table().to_pandas().sort_values(["date", "seq"]).iloc[-1]
    read, resolved = [], []
    real_read, real_resolve = source.read_rows, source.resolve
    monkeypatch.setattr(
        source, "read_rows", lambda v, d=None: read.append(set(v["sha256"])) or real_read(v, d)
    )
    monkeypatch.setattr(source, "resolve", lambda *a: resolved.append(1) or real_resolve(*a))
    kept = load(small)
    assert read == [{newest["sha256"]}] and resolved == []
    rebuilt = _tables(load(small, refresh=True))
    for name, table in _tables(kept).items():
        pd.testing.assert_frame_equal(table, rebuilt[name], check_dtype=False, obj=name)
    # Older than the newest pending version: positions shift, so resolve again.
    ingest_paths(small, [tmp_path / "earlier"])
    read.clear(), resolved.clear()
    load(small)
    sound = (~small.catalog_table().to_pandas()["suspect"]).sum()
    assert resolved == [1] and [len(shas) for shas in read] == [sound]
    # A cache written by other code (here: damaged) is never trusted.
    path = cache_path(small, include_suspect=False)
    path.write_bytes(b"x" + path.read_bytes()[1:])
    read.clear(), resolved.clear()
    load(small)
    assert resolved == [1]


def test_a_mass_drop_that_recovers_is_skipped_everywhere(tmp_path):
    src = tmp_path / "in"
    names = [f"Agency {c} Police Department" for c in "ABCDEFGHIJ"]
    for day, listed in (("0403", names), ("0410", names[:5]), ("0417", names)):
        write(
            src,
            f"participatingAgencies{day}2025pm.xlsx",
            PARTICIPATING_HEADER,
            [part(n) for n in listed],
        )
    store = Store(tmp_path / "data")
    ingest_paths(store, [src])
    d = diff("2025-04-03", "2025-04-10", data_dir=store)
    assert d.empty and "skipped suspect version 2025-04-10 #1" in d.attrs["note"]
    raw = diff("2025-04-03", "2025-04-10", data_dir=store, include_suspect=True)
    assert list(raw.change) == ["removed"] * 5
    assert (agreements(data_dir=store)["returns"] == 0).all()
    with_suspect = agreements(data_dir=store, include_suspect=True)
    assert sorted(with_suspect["returns"]) == [0] * 5 + [1] * 5
    assert list(counts("participating", data_dir=store)["count"]) == [10, 10]


def test_history_commands(small):
    runner = CliRunner()
    base = ["--data-dir", str(small.root)]
    res = runner.invoke(main, [*base, "history", "harris"])
    assert res.exit_code == 0
    assert res.stdout.startswith(
        "# Harris County Sheriff's Office (TX:harriscountysheriffsoffice): 1 agreement"
    )
    assert "TFM active, listed 2025-04-03 to 2025-04-17 (3 versions)" in res.stdout
    assert "suspect versions skipped" in res.stdout
    res = runner.invoke(main, [*base, "history", "county sheriff"])
    assert res.exit_code == 1
    assert "3 agencies match 'county sheriff'" in res.stderr
    assert "FL:baycountysheriffsoffice" in res.stderr and res.stdout == ""
    res = runner.invoke(
        main, [*base, "history", "lake county", "--state", "FL", "--format", "json"]
    )
    recs = json.loads(res.stdout)
    # Pending from the first pending list, participating from 04-10; it leaves the pending
    # list only in the empty (suspect, skipped) 04-09 version.
    assert [(r["list"], r["event"]) for r in recs] == [
        ("pending", "listed"),
        ("participating", "listed"),
    ]
    assert all(list(r) == EVENT_COLUMNS for r in recs)
    res = runner.invoke(main, [*base, "agreements", "--status", "active", "--format", "csv"])
    assert ",9,agreement," in res.stdout  # days waited as an integer, not 9.0
    frame = pd.read_csv(pd.io.common.StringIO(res.stdout))
    assert list(frame.columns) == AGREEMENT_COLUMNS and len(frame) == 4
    assert res.stderr.startswith("# 4 agreements (4 active, 0 removed, 0 superseded)")


CHANGE_COMMANDS = [["diff", "2025-04-03", "2025-04-17"], ["history", "harris"], ["agreements"]]


@pytest.fixture(scope="module")
def change_command_imports(small_built, tmp_path_factory):
    """The change commands run in one fresh interpreter over the small store."""
    root = copy_store(small_built.root, tmp_path_factory.mktemp("light") / "data")
    found = heavy_imports(root, CHANGE_COMMANDS, heavy=("prefect", "matplotlib"))
    return dict(zip(map(tuple, CHANGE_COMMANDS), found))


@pytest.mark.parametrize("command", CHANGE_COMMANDS)
def test_change_commands_stay_light(change_command_imports, command):
    result = change_command_imports[tuple(command)]
    assert result.exit_code == 0
    assert result.imported == [], f"{command} imported {result.imported}"


# --- the real corpus -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(corpus_scratch):
    """The corpus store's writable copy: history writes its cache beside the versions."""
    return corpus_scratch


@pytest.fixture(scope="module")
def table(store):
    return agreements(data_dir=store)


@pytest.mark.corpus
def test_active_agreements_are_exactly_the_newest_version(store, table):
    from ice287g.query import latest

    ident = load(store)
    newest = latest(data_dir=store, include_suspect=False)["agreement_id"]
    active = set(table[table.status == "active"].agreement_id)
    assert active == set(map(ident.agreement_of, newest))
    assert not table.agreement_id.duplicated().any()


@pytest.mark.corpus
def test_every_id_ever_listed_is_accounted_for(store, table):
    from ice287g.query import snapshots

    cat = snapshots("participating", store, include_suspect=False)
    ever = set()
    for rel in cat.snapshot:
        ever |= set(Store(store).read_snapshot(rel, ["agreement_id"]).column(0).to_pylist())
    known = {k for ks in table["keys"] for k in ks.split("; ")}
    # Every key ever listed belongs to one agreement; the other keys are pending spellings.
    assert ever - {None} <= known
    pending = set(load(store).aliases().query("lists == 'pending'")["key"])
    assert known - ever <= pending
    assert (table.versions_listed <= len(cat)).all()
    assert (table.first_listed <= table.last_listed).all()


@pytest.mark.corpus
def test_agencies_checked_by_eye_in_the_workbooks(store, table):
    """Each fact below was read in the corpus files with pandas.read_excel (not our parser)."""
    from ice287g.query import snapshots

    rows = by_id(table)
    n_versions = len(snapshots("participating", store, include_suspect=False))
    # Albemarle District Jail: in every participating file; "Albermarle" through the
    # 2025-03-18 file, "Albemarle" from 2025-03-27.
    jail = rows["NC:albermarledistrictjail:WSO"]
    assert (jail["versions_listed"], jail["returns"], jail["keys"], jail["first_listed"]) == (
        n_versions,
        0,
        "NC:albermarledistrictjail:WSO; NC:albemarledistrictjail:WSO",
        date(2025, 2, 21),
    )
    # Fort Walton Beach PD: absent from both 2025-08-01 files, back on 2025-08-04.
    fwb = rows["FL:fortwaltonbeachpolicedepartment:TFM"]
    assert (fwb["returns"], fwb["status"]) == (1, "active")
    fwb_events = history("Fort Walton Beach Police Department", state="FL", data_dir=store)
    gone = fwb_events[fwb_events.event.isin(["removed", "returned"])]
    assert list(zip(gone.date.map(str), gone.event)) == [
        ("2025-08-01", "removed"),
        ("2025-08-04", "returned"),
    ]
    # Harris County Sheriff's Office (GA): pending from the 2025-05-12 file, participating
    # from 2025-05-23 (signed 2025-05-22).
    harris = rows["GA:harriscountysheriffsoffice:WSO"]
    assert (
        harris["pending_first_listed"],
        harris["first_listed"],
        harris["days_waited"],
        harris["signed"],
    ) == (date(2025, 5, 12), date(2025, 5, 23), 11, date(2025, 5, 22))
    # Taylor County Sheriff's Office (FL): JEM pending on 2025-10-07, participating on
    # 2025-10-17; its TFM agreement (since 2025-02-26) was re-listed as pending on
    # 2025-10-07 too, which is not a wait.
    assert (
        rows["FL:taylorcountysheriffsoffice:JEM"]["days_waited"],
        rows["FL:taylorcountysheriffsoffice:JEM"]["pending_match"],
    ) == (10, "agreement")
    assert pd.isna(rows["FL:taylorcountysheriffsoffice:TFM"]["pending_first_listed"])
    assert (table.days_waited.dropna() >= 0).all()


@pytest.mark.corpus
def test_history_skips_the_empty_pending_lists(store):
    from ice287g.query import snapshots

    cat = snapshots(data_dir=store)
    suspect = set(cat[cat.suspect].sha256)
    events = load(store).events()
    assert not set(events.sha256) & suspect
    raw = load(store, include_suspect=True).events()
    assert set(raw.sha256) & suspect
    assert cache_path(Store(store), include_suspect=True).exists()


@pytest.mark.corpus
def test_unresolved_counties_match_the_row_flags(store):
    """The review list equals the rows flagged county_fips_unresolved, found independently."""
    from ice287g.query import snapshots

    flagged = set()
    for rel in snapshots(data_dir=store).snapshot:
        t = Store(store).read_snapshot(rel, ["state", "county_raw", "flags"]).to_pylist()
        flagged |= {
            (r["state"], r["county_raw"]) for r in t if "county_fips_unresolved" in r["flags"]
        }
    got = counties(unresolved=True, data_dir=store)
    assert set(zip(got.state, got.county_raw)) == flagged
    assert got.county_fips.isna().all()
    # A row filed under the wrong state (Scranton, PA listed under SC) cannot resolve.
    scranton = got[got.county == "Lackawanna County"].iloc[0]
    assert (scranton.state, scranton.agencies) == ("SC", "Scranton Police Department")
    everything = counties(data_dir=store)
    # A typo from the correction table resolves: Flagere County, FL -> Flagler (12035).
    flagler = everything[everything.county_raw == "Flagere County"].iloc[0]
    assert (flagler.county, flagler.county_fips) == ("Flagler County", "12035")
    assert len(everything) > len(got) and everything.county_fips.notna().sum() > 500


def test_the_researcher_api_answers_history_and_agreements(small):
    # `from ice287g import history, agreements` gives the functions, whatever was imported before.
    import ice287g.query.history  # noqa: F401
    from ice287g import agreements, history

    assert history("harris", data_dir=small).attrs["agency_id"] == ("TX:harriscountysheriffsoffice")
    assert len(agreements(data_dir=small)) == 4

"""ICE's format drift: the list from all the evidence, layouts never seen, names dated a year
early, and stale lists, on workbooks generated here (the 2026 files are not in ../shared)."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.replay_server import XLSX_TYPE, ReplayCorpus, ReplayServer
from support.rows import raw_rows
from support.workbooks import (
    PARTICIPATING_HEADER,
    PENDING_HEADER,
    build_workbook,
    participating_row,
)

from ice287g import query
from ice287g.cli import main
from ice287g.jobs.ingest import ingest_bytes
from ice287g.jobs.rebuild import rebuild
from ice287g.jobs.refresh import refresh
from ice287g.query.status import STALE_AFTER_DAYS, stale_notes, status, version_warnings
from ice287g.store import Store, ledger
from parsers.lists import DECISIVE, LAYOUTS, LIST_SIGNALS, decide, describe
from parsers.workbook import read_workbook
from scrapers.http import Fetcher

README = Path(__file__).resolve().parents[1] / "README.md"
MOA = "https://www.ice.gov/doclib/287gMOA/287gTFM_HarrisCoTX_2025-03-01.pdf"
PENDING_2026_HEADER = [*PENDING_HEADER, "MOA"]  # STATE ... SUPPORT TYPE, MOA ("link pending")
# One value per column any layout has; a fixture row takes the columns of its layout.
CELL = {
    "STATE": "TEXAS",
    "LAW ENFORCEMENT AGENCY": "Harris County Sheriff's Office",
    "TYPE": "County",
    "COUNTY": "Harris County",
    "SUPPORT TYPE": "Task Force Model",
    "SIGNED": datetime(2025, 3, 1),
    "ADDENDUM": None,
}


def pending_2026(agencies=("Polk County Sheriff's Office", "Lake County Sheriff's Office"), **kw):
    """The pending workbook as ICE served it from January 2026: an MOA column, 'link pending'."""
    rows = [
        ["FLORIDA", a, "County", a.split(" Sheriff")[0], "Jail Enforcement Model", "link pending"]
        for a in agencies
    ]
    return build_workbook(PENDING_2026_HEADER, rows, **kw)


def layout_fixture(layout) -> bytes:
    """A small workbook of one known layout."""
    header = list(layout.columns)
    moa = "link" if layout.list == "participating" else "link pending"
    row = [moa if c == "MOA" else CELL[c] for c in header]
    links = {(0, "MOA"): MOA} if layout.list == "participating" else {}
    return build_workbook(header, [row, row[:1] + ["Other Agency"] + row[2:]], links=links)


# --- the rules table ----------------------------------------------------------------------------


def test_a_decisive_signal_outweighs_every_other_signal_together():
    weights = [w for w, _ in LIST_SIGNALS.values()]
    assert {"signed_dates", "layout"} == {s for s, (w, _) in LIST_SIGNALS.items() if w >= DECISIVE}
    assert sum(w for w in weights if w < DECISIVE) < DECISIVE


def test_the_readme_shows_the_signal_weights_and_layouts_of_the_code():
    text = README.read_text()
    start = text.index("<!-- list-rules:start -->") + len("<!-- list-rules:start -->")
    assert text[start : text.index("<!-- list-rules:end -->")].strip() == describe().strip()


def test_ties_go_to_the_strongest_signal_then_pending():
    assert decide({"moa_links": "participating", "name": "pending", "url": "pending"}).list == (
        "participating"
    )
    assert decide({"name": "participating", "no_signed_column": "pending", "url": "pending"}) == (
        decide({"url": "pending", "name": "participating", "no_signed_column": "pending"})
    )
    assert decide({}).list == "pending"


# --- one generated fixture per known layout -----------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.name for layout in LAYOUTS])
def test_every_known_layout_is_recognized_and_decides_its_list(layout):
    parsed = read_workbook(layout_fixture(layout), "agencies.xlsx")  # a name that says nothing
    assert (parsed.list, parsed.layout) == (layout.list, layout.name)
    assert "new_layout" not in parsed.flags
    assert not any(f.startswith("list_conflict") for f in parsed.flags)
    assert "layout" in parsed.list_evidence and len(raw_rows(parsed)) == 2
    if "SIGNED" in layout.columns:
        assert parsed.list_evidence[0] == "signed_dates"


def test_every_header_is_a_known_layout_in_any_order_and_case():
    shuffled = ["moa", "Support Type", "COUNTY", " state ", "TYPE", "Law Enforcement Agency"]
    parsed = read_workbook(pending_2026(), "x.xlsx")
    assert parsed.layout == "pending-2026-01"
    row = ["link pending", "Jail Enforcement Model", "Polk County", "FLORIDA", "County", "Polk SO"]
    parsed = read_workbook(build_workbook(shuffled, [row]), "x.xlsx")
    assert (parsed.layout, parsed.list) == ("pending-2026-01", "pending")


# --- the 2026 pending layout under three names, and the swap ------------------------------------


def test_2026_pending_layout_under_a_pending_name_and_link():
    parsed = read_workbook(
        pending_2026(),
        "pendingAgencies01082026am.xlsx",
        link_text="Pending Agencies (XLSX)",
        url="https://www.ice.gov/doclib/about/offices/ero/287g/pendingAgencies01082026am.xlsx",
    )
    assert parsed.list == "pending"
    assert parsed.list_evidence == ["layout", "name", "link_text", "url"]
    assert parsed.flags == []
    assert [r.values["moa"] for r in raw_rows(parsed)] == ["link pending", "link pending"]


def test_2026_pending_layout_under_a_participating_name_is_pending_and_flagged():
    parsed = read_workbook(pending_2026(), "participatingAgencies01082026am.xlsx")
    assert parsed.list == "pending"
    assert parsed.list_evidence == ["layout"]
    assert parsed.flags == ["list_conflict:name"]


def test_2026_pending_layout_under_a_neutral_name_is_pending():
    parsed = read_workbook(pending_2026(), "download.xlsx", link_text="Download", url="/f/9001")
    assert (parsed.list, parsed.list_evidence, parsed.flags) == ("pending", ["layout"], [])


def test_the_swap_a_participating_list_under_a_pending_name_and_link():
    parsed = read_workbook(
        build_workbook(PARTICIPATING_HEADER, [participating_row()], links={(0, "MOA"): MOA}),
        "pendingAgencies09222025am.xlsx",
        link_text="Pending Agencies",
        url="https://www.ice.gov/doclib/about/offices/ero/287g/pendingAgencies09222025am.xlsx",
    )
    assert parsed.list == "participating"
    assert parsed.list_evidence == ["signed_dates", "layout", "moa_links"]
    assert parsed.flags == ["list_conflict:name,link_text,url"]


def test_a_new_layout_without_signed_dates_is_decided_by_the_name_and_link():
    header = [*PENDING_2026_HEADER, "NOTES"]
    row = ["OHIO", "Butler County Sheriff's Office", "County", "Butler County", "Task Force Model"]
    data = build_workbook(header, [[*row, "link pending", "new"]])
    named = read_workbook(data, "participatingAgencies02022026am.xlsx")
    assert named.list == "participating" and named.list_evidence == ["name"]
    assert named.flags == ["unknown_columns", "new_layout", "list_conflict:no_signed_column"]
    linked = read_workbook(data, "9001", link_text="Participating Agencies", url="/f/9001")
    assert linked.list == "participating" and linked.list_evidence == ["link_text"]
    assert read_workbook(data, "pendingAgencies02022026am.xlsx").list_evidence == [
        "name",
        "no_signed_column",
    ]


def test_a_header_never_seen_is_parsed_by_name_and_flagged_new_layout():
    header = ["REGION", "STATE", "AGENCY NAME", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA"]
    row = ["South", "TEXAS", "Harris County Sheriff's Office", "County", "Harris County"]
    data = build_workbook(header, [[*row, "Task Force Model", datetime(2025, 3, 1), "link"]])
    parsed = read_workbook(data, "participatingAgencies03022026am.xlsx")
    assert parsed.layout is None and "new_layout" in parsed.flags
    assert parsed.list == "participating" and parsed.list_evidence == ["signed_dates", "name"]
    (r,) = raw_rows(parsed)
    assert r.values["agency"] == "Harris County Sheriff's Office" and r.extra == {"REGION": "South"}


# --- names dated a year early -------------------------------------------------------------------


def test_a_name_dated_a_year_early_keeps_month_and_day(tmp_path):
    store = Store(tmp_path / "data")
    # Real case: participatingAgencies01062025pm.xlsx, saved on the evening of Jan 5, 2026 (ET).
    data = build_workbook(
        PARTICIPATING_HEADER, [participating_row()], saved=datetime(2026, 1, 6, 2)
    )
    out = ingest_bytes(store, data, "participatingAgencies01062025pm.xlsx")
    assert (out.list, out.date) == ("participating", "2026-01-06")
    (record,) = store.catalog_table().to_pylist()
    assert record["date_source"] == "ice_name" and "name_year_fixed" in record["flags"]


# --- warnings in the backfill line, latest, counts, snapshots and status ------------------------


def run(data_dir, *args):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_backfill_line_names_a_new_layout_with_its_header_and_a_list_conflict(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    header = [*PARTICIPATING_HEADER, "REGION"]
    (folder / "participatingAgencies03022026am.xlsx").write_bytes(
        build_workbook(header, [participating_row() + ["South"]], saved=datetime(2026, 3, 2, 14))
    )
    (folder / "participatingAgencies03032026am.xlsx").write_bytes(
        pending_2026(saved=datetime(2026, 3, 3, 14))
    )
    result = run(tmp_path / "data", "backfill", str(folder))
    first, second = result.stdout.splitlines()
    assert first.endswith(
        "participating 2026-03-02 rows=1 [new layout: STATE, LAW ENFORCEMENT AGENCY, TYPE, "
        "COUNTY, SUPPORT TYPE, SIGNED, MOA, ADDENDUM, REGION]"
    )
    assert second.endswith(
        "pending 2026-03-03 rows=2 [list conflict: pending by layout over name (participating)]"
    )
    snaps = json.loads(run(tmp_path / "data", "snapshots", "--format", "json").stdout)
    assert [s["list_evidence"] for s in snaps] == ["signed_dates;name", "layout"]
    latest = run(tmp_path / "data", "latest", "--list", "pending")
    assert "[list conflict: pending by layout over name (participating)]" in latest.stdout


@pytest.fixture
def stale_store(tmp_path) -> Store:
    """Participating updated through February 2026; pending stuck at January 5."""
    store = Store(tmp_path / "data")
    pending = [["OHIO", "A", "County", "", "Task Force Model"]]
    data = build_workbook(PENDING_HEADER, pending, saved=datetime(2026, 1, 5, 20))
    ingest_bytes(store, data, "pendingAgencies01052026pm.xlsx")
    for day in (date(2026, 1, 5), date(2026, 1, 20), date(2026, 2, 6)):
        rows = [participating_row(agency=f"Agency {i}") for i in range(day.day)]
        data = build_workbook(PARTICIPATING_HEADER, rows, saved=datetime(*day.timetuple()[:3], 20))
        ingest_bytes(store, data, f"participatingAgencies{day:%m%d%Y}pm.xlsx")
    return store


STALE = (
    "# pending list is stale: newest version 2026-01-05, 32 days behind participating (2026-02-06)"
)


def test_a_stale_list_is_named_in_the_header_of_latest_counts_and_snapshots(stale_store):
    assert 32 > STALE_AFTER_DAYS
    pending = run(stale_store.root, "latest", "--list", "pending")
    assert pending.stdout.splitlines()[1] == STALE
    assert STALE not in run(stale_store.root, "latest").stdout  # participating is current
    early = run(stale_store.root, "latest", "--list", "pending", "--as-of", "2026-01-10")
    assert "stale" not in early.stdout
    assert STALE in run(stale_store.root, "counts").stdout.splitlines()
    assert "stale" not in run(stale_store.root, "counts", "--list", "participating").stdout
    snaps = run(stale_store.root, "snapshots", "--format", "csv")
    assert snaps.stderr.strip() == STALE and snaps.stdout.startswith("list,date")


def test_a_list_re_served_unchanged_is_not_stale(stale_store):
    with stale_store.lock():
        ledger.PUBLICATIONS.append(
            stale_store,
            [
                {
                    "fetched_at": datetime(2026, 2, 1, 11, tzinfo=UTC),
                    "source": "live",
                    "url": "https://www.ice.gov/doclib/pendingAgencies01052026pm.xlsx",
                    "outcome": ledger.NOT_MODIFIED,
                    "list": "pending",
                }
            ],
        )
    assert stale_notes(stale_store) == []
    assert stale_notes(stale_store, as_of=date(2026, 1, 31)) == [
        "# pending list is stale: newest version 2026-01-05, 15 days behind participating "
        "(2026-01-20)"
    ]


def test_status_prints_per_list_the_newest_version_its_age_and_warnings(stale_store):
    df = status(stale_store, today=date(2026, 2, 10))
    assert df[["list", "date", "rows", "age_days"]].values.tolist() == [
        ["participating", date(2026, 2, 6), 6, 4],
        ["pending", date(2026, 1, 5), 1, 36],
    ]
    assert df["warnings"].tolist() == [[], [STALE.removeprefix("# ")]]
    out = json.loads(run(stale_store.root, "status", "--format", "json").stdout)
    assert [r["list"] for r in out] == ["participating", "pending"]
    assert out[1]["warnings"] == STALE.removeprefix("# ")
    assert out[0]["age_days"] == status(stale_store)["age_days"][0]  # today's age
    table = run(stale_store.root, "status").stdout.splitlines()
    assert table[0] == "# pending: " + STALE.removeprefix("# ")
    assert table[1].split() == ["list", "date", "seq", "sha256", "rows", "file_name", "age_days"]
    assert table[3].split()[:2] == ["pending", "2026-01-05"]


def test_status_warns_of_a_suspect_newest_version_and_a_missing_list(tmp_path):
    store = Store(tmp_path / "data")
    data = build_workbook(PENDING_HEADER, [], saved=datetime(2025, 11, 6, 20))
    ingest_bytes(store, data, "pendingAgencies11062025pm.xlsx")
    df = status(store, today=date(2025, 11, 7)).set_index("list")
    assert df.loc["pending", "warnings"] == ["suspect: pending list is empty"]
    assert df.loc["participating", "warnings"] == ["no version stored"]
    assert pd.isna(df.loc["participating", "rows"])


def test_a_catalog_written_before_these_columns_still_reads(stale_store):
    path = stale_store.catalog_path
    old = pq.read_table(path).drop_columns(["layout", "list_evidence"])
    pq.write_table(old, path)
    assert status(stale_store, today=date(2026, 2, 10))["rows"].tolist() == [6, 1]
    snaps = run(stale_store.root, "snapshots", "--format", "json")
    assert {s["list_evidence"] for s in json.loads(snaps.stdout)} == {None}
    assert run(stale_store.root, "latest", "--list", "pending").exit_code == 0
    assert version_warnings({"flags": None, "columns": None}) == []


# --- the live path: a generated January 2026 served by the replay server ------------------------


def write_corpus(root, files):
    """A replay corpus (../shared's shape) of generated workbooks: (ICE name, list, date, bytes)."""
    (root / "files").mkdir(parents=True)
    manifest, publications = [], []
    for ice_name, lst, day, data in files:
        sha = hashlib.sha256(data).hexdigest()
        file = f"{lst}_{day}_{sha[:8]}.xlsx"
        (root / "files" / file).write_bytes(data)
        saved = read_workbook(data, file).saved_at
        manifest.append(
            {
                "file": file,
                "list": lst,
                "date": day,
                "sha256": sha,
                "workbook_modified_utc": saved.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        publications.append({"ice_file_name": ice_name, "url": "", "file": file, "sha256": sha})
    for name, rows in (("MANIFEST.csv", manifest), ("publications.csv", publications)):
        with open(root / name, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return ReplayCorpus(root)


def participating_2026(day: int, header=PARTICIPATING_HEADER, extra=()):
    rows = [participating_row(agency=f"Agency {i}") + list(extra) for i in range(day)]
    links = {(i, "MOA"): MOA for i in range(day)}
    return build_workbook(header, rows, links=links, saved=datetime(2026, 1, day, 20))


@pytest.fixture
def january_2026(tmp_path):
    corpus = write_corpus(
        tmp_path / "corpus",
        [
            (
                "participatingAgencies01052026pm.xlsx",
                "participating",
                "2026-01-05",
                participating_2026(5),
            ),
            (
                "pendingAgencies01052026pm.xlsx",
                "pending",
                "2026-01-05",
                build_workbook(
                    PENDING_HEADER,
                    [["OHIO", "A", "County", "", "Task Force Model"]],
                    saved=datetime(2026, 1, 5, 20),
                ),
            ),
            # Published Jan 6 under last year's year, saved the evening of Jan 5 (ET).
            (
                "participatingAgencies01062025pm.xlsx",
                "participating",
                "2026-01-06",
                build_workbook(
                    PARTICIPATING_HEADER, [participating_row()] * 6, saved=datetime(2026, 1, 6, 2)
                ),
            ),
            (
                "pendingAgencies01082026am.xlsx",
                "pending",
                "2026-01-08",
                pending_2026(saved=datetime(2026, 1, 8, 13)),
            ),
            (
                "participatingAgencies01092026am.xlsx",
                "participating",
                "2026-01-09",
                participating_2026(9, [*PARTICIPATING_HEADER, "REGION"], ["South"]),
            ),
        ],
    )
    with ReplayServer(corpus) as server, Fetcher(source_host=server.host) as fetcher:
        yield server, fetcher


def test_the_refresh_files_2026_pending_lists_as_pending_and_reports_drift(january_2026, tmp_path):
    server, fetcher = january_2026
    store = Store(tmp_path / "data")
    reports = {}
    for moment in sorted({p.published for p in server.corpus.publications}):
        server.set_time(moment)
        reports[moment.date()] = refresh(store, server.page_url, fetcher=fetcher)
    assert all(r.ok for r in reports.values())
    got = {
        (r["list"], str(r["date"])): (r["layout"], r["list_evidence"], r["flags"])
        for r in store.catalog_table().to_pylist()
    }
    assert got == {
        ("participating", "2026-01-05"): (
            "participating-2025-07",
            ["signed_dates", "layout", "moa_links", "name", "link_text", "url"],
            [],
        ),
        ("pending", "2026-01-05"): ("pending-2025-03", ["layout", "name", "link_text", "url"], []),
        ("participating", "2026-01-06"): (
            "participating-2025-07",
            ["signed_dates", "layout", "name", "link_text", "url"],
            ["name_year_fixed"],
        ),
        ("pending", "2026-01-08"): ("pending-2026-01", ["layout", "name", "link_text", "url"], []),
        ("participating", "2026-01-09"): (
            None,
            ["signed_dates", "moa_links", "name", "link_text", "url"],
            ["unknown_columns", "new_layout"],
        ),
    }
    assert query.latest("pending", data_dir=store).attrs["version"]["date"] == date(2026, 1, 8)
    seen = ledger.PUBLICATIONS.read(store).to_pandas()
    assert set(seen["link_text"]) == {"Participating Agencies (XLSX)", "Pending Agencies (XLSX)"}
    report = reports[date(2026, 1, 9)].summary
    assert "## Warnings" in report
    assert (
        "- participatingAgencies01092026am.xlsx (participating 2026-01-09): new layout: STATE, "
        "LAW ENFORCEMENT AGENCY, TYPE, COUNTY, SUPPORT TYPE, SIGNED, MOA, ADDENDUM, REGION"
    ) in report
    assert "## Warnings" not in reports[date(2026, 1, 8)].summary


def test_the_link_decides_an_ambiguous_workbook_and_a_rebuild_keeps_that_evidence(
    january_2026, tmp_path
):
    server, fetcher = january_2026
    header = [*PENDING_HEADER, "NOTES"]  # never seen, no SIGNED: the columns do not decide
    data = build_workbook(
        header, [["OHIO", "A", "County", "", "Task Force Model", "x"]], saved=datetime(2026, 2, 2)
    )
    server.add_route("/file-download/download/public/9001", data, XLSX_TYPE)
    page = '<html><body><a href="/file-download/download/public/9001">Participating Agencies</a>'
    server.add_route("/custom-page", page.encode(), "text/html; charset=utf-8")
    store = Store(tmp_path / "data")
    report = refresh(store, server.url("/custom-page"), fetcher=fetcher)
    (record,) = store.catalog_table().to_pylist()
    assert (record["list"], record["list_evidence"]) == ("participating", ["link_text"])
    assert "list_conflict:no_signed_column" in record["flags"]
    assert "list conflict: participating by link_text over no_signed_column (pending)" in (
        report.summary
    )
    rebuilt = Store(tmp_path / "rebuilt")
    rebuild(store, rebuilt)
    (again,) = rebuilt.catalog_table().to_pylist()
    assert (again["list"], again["list_evidence"]) == ("participating", ["link_text"])

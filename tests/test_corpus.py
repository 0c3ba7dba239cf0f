"""Integration over every real workbook ICE published in 2025 (../shared/ice-corpus)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from ice287g import counts, latest, snapshots
from ice287g.store import Store

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def backfilled(corpus_backfill):
    """(the session's backfilled store, read-only; the ingest outcome of every file)"""
    return Store(corpus_backfill.root), corpus_backfill.outcomes


def test_every_file_becomes_one_version(backfilled, expected_counts):
    store, outcomes = backfilled
    assert len(outcomes) == len(expected_counts) == 352
    failed = [o.line() for o in outcomes if o.status != "new"]
    assert failed == []


def test_rows_and_models_of_every_version_match_the_independent_counts(backfilled, expected_counts):
    store, outcomes = backfilled
    by_name = {o.name: o for o in outcomes}
    cat = snapshots(data_dir=store).set_index("sha256")
    mismatches = []
    for name, exp in expected_counts.items():
        version = cat.loc[by_name[name].sha256]
        assert version["list"] == exp["list"], name  # decided by the columns, not the name
        table = store.read_snapshot(version["snapshot"], ["model", "hidden", "flags"]).to_pandas()
        models = Counter(table["model"].fillna("blank"))
        got = (
            len(table),
            models["JEM"],
            models["TFM"],
            models["WSO"],
            models["blank"],
            int(table["hidden"].sum()),
            int(table["flags"].map(lambda f: "duplicate_row" in f).sum()),
        )
        want = tuple(
            int(exp[k])
            for k in (
                "n_rows",
                "JEM",
                "TFM",
                "WSO",
                "support_blank",
                "hidden_rows_with_data",
                "exact_dup_rows",
            )
        )
        if got != want:
            mismatches.append((name, got, want))
    assert mismatches == []


def test_every_2025_header_is_a_known_layout_and_no_signals_disagree(backfilled):
    """The layout table covers 2025; every version is decided by content that the (archive)
    name confirms, so none is flagged."""
    store, _ = backfilled
    cat = snapshots(data_dir=store)
    assert set(cat["layout"]) == {
        "participating-2025-02",
        "participating-2025-03",
        "participating-2025-07",
        "pending-2025-02",
        "pending-2025-03",
    }
    assert set(cat["flags"].map(tuple).explode().dropna()) == {"header_only"}
    participating = cat[cat["list"] == "participating"]["list_evidence"].map(list)
    assert all(e[:2] == ["signed_dates", "layout"] and "name" in e for e in participating)
    pending = cat[cat["list"] == "pending"]["list_evidence"].map(list)
    assert all(e == ["layout", "name"] for e in pending)


def test_dates_match_the_manifest(backfilled, manifest):
    store, outcomes = backfilled
    got = {o.name: o.date for o in outcomes}
    assert {name: m["date"] for name, m in manifest.items()} == got


def test_the_april_4_2025_reference_figures(backfilled):
    store, _ = backfilled
    by_model = counts(by=["model"], as_of="2025-04-04", data_dir=store)
    part = by_model[by_model["list"] == "participating"]
    assert dict(zip(part["model"], part["count"])) == {"JEM": 86, "TFM": 178, "WSO": 180}
    assert part["sha256"].str.startswith("81aebec4").all()
    total = counts(as_of="2025-04-04", data_dir=store)
    assert dict(zip(total["list"], total["count"])) == {"participating": 444, "pending": 66}


def test_latest_is_the_newest_version_and_its_rows_are_clean(backfilled):
    store, _ = backfilled
    df = latest(data_dir=store)
    v = df.attrs["version"]
    assert v["date"] == date(2025, 12, 30)
    assert len(df) > 1200
    assert df["state"].notna().all()
    assert set(df["model"].dropna()) <= {"JEM", "TFM", "WSO", "TTFM"}
    assert set(df["moa_status"]) <= {"available", "pending", "missing"}
    available = df[df["moa_status"] == "available"]["moa_url"]
    assert available.str.match(r"^https://www\.ice\.gov/.+\.pdf$", case=False).all()
    assert df["agreement_id"].notna().all()


def test_the_september_22_swap_is_classified_by_content(backfilled, corpus):
    import csv

    store, outcomes = backfilled
    with open(corpus / "publications.csv", newline="") as fh:
        pubs = [r for r in csv.DictReader(fh) if "09222025" in r["ice_file_name"]]
    by_name = {o.name: o for o in outcomes}
    swapped = [
        p
        for p in pubs
        if p["ice_file_name"].startswith("participating") and by_name[p["file"]].list == "pending"
    ]
    assert swapped, "the participating URL served a pending list on 2025-09-22"


def test_empty_pending_versions_are_flagged_and_skipped_by_counts(backfilled):
    store, _ = backfilled
    cat = snapshots(list="pending", data_dir=store)
    empty = cat[cat["rows"] == 0]
    assert len(empty) >= 6 and empty["suspect"].all()
    series = counts(list="pending", since="2025-11-01", until="2025-11-30", data_dir=store)
    assert (series["count"] > 0).all()
    with_suspect = counts(
        list="pending", since="2025-11-01", until="2025-11-30", include_suspect=True, data_dir=store
    )
    assert (with_suspect["count"] == 0).any()


def test_rows_filed_under_the_wrong_state_are_flagged(backfilled):
    """2025 rows whose county exists only in another state (checked by eye). Wichita County,
    filed under OK, exists in both KS and TX, so it stays merely unresolved."""
    store, _ = backfilled
    found = set()
    for rel in snapshots(data_dir=store)["snapshot"]:
        for r in store.read_snapshot(rel, ["state", "county", "flags"]).to_pylist():
            found |= {
                (r["state"], r["county"], f.split(":")[1])
                for f in r["flags"]
                if f.startswith("state_county_mismatch:")
            }
    assert found == {
        ("FL", "Kershaw County", "SC"),
        ("MA", "Crow Wing County", "MN"),
        ("SC", "Lackawanna County", "PA"),
        ("TX", "McKenzie County", "ND"),
        ("TX", "Trousdale County", "TN"),
    }


def test_one_version_per_day_by_default_and_all_on_request(backfilled):
    store, _ = backfilled
    daily = counts(list="participating", include_suspect=True, data_dir=store)
    every = counts(list="participating", include_suspect=True, all_versions=True, data_dir=store)
    assert daily["date"].is_unique
    assert len(every) == len(snapshots(list="participating", data_dir=store))
    assert len(every) > len(daily)

"""verify finds damage; rebuild applies today's rules to stored versions, keeping dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest
from conftest import PARTICIPATING_HEADER, build_workbook, participating_row, tree_digest

from ice287g import query
from ice287g.jobs.ingest import ingest_bytes
from ice287g.jobs.rebuild import rebuild
from ice287g.normalize import apply as normalize
from ice287g.normalize import rules
from ice287g.store import Store, ledger, sha256_bytes
from ice287g.store.verify import verify


def _store(tmp_path) -> Store:
    store = Store(tmp_path / "data")
    rows = [participating_row(state="KANSAS", county="Sedgewik County", agency="Wichita PD")]
    data = build_workbook(PARTICIPATING_HEADER, rows, saved=None)
    # Undated name, no saved time: only the observation dates it (kept by a rebuild).
    seen = datetime(2025, 6, 2, 15, tzinfo=UTC)
    assert ingest_bytes(store, data, "participatingAgencies.xlsx", observed_at=seen).status == "new"
    with store.lock():
        ledger.PUBLICATIONS.append(
            store,
            [
                {
                    "fetched_at": seen,
                    "source": "live",
                    "url": "u",
                    "outcome": ledger.NEW_VERSION,
                    "sha256": sha256_bytes(data),
                }
            ],
        )
    return store


def test_a_sound_store_verifies_clean_and_damage_is_named(tmp_path):
    store = _store(tmp_path)
    assert verify(store) == []
    record = store.catalog_table().to_pylist()[0]
    (store.root / record["raw"]).write_bytes(b"tampered")
    stray = store.root / "snapshots" / "participating" / "2025-01-01_000000000000.parquet"
    stray.write_bytes((store.root / record["snapshot"]).read_bytes())
    (store.root / record["snapshot"]).unlink()
    problems = {(p.path, p.problem.split(" (")[0]) for p in verify(store)}
    assert problems == {
        (record["raw"], "bytes do not match the hash in the file name"),
        (record["snapshot"], "snapshot missing"),
        (str(stray.relative_to(store.root)), "snapshot not in the catalog"),
    }


@pytest.fixture
def fresh_caches():
    """The normalizer memoizes rule results; a changed rule needs them cleared, before and
    after (so no other test sees the patched rule's results)."""
    normalize.county_name.cache_clear()
    normalize._MEMO.clear()
    yield
    normalize.county_name.cache_clear()
    normalize._MEMO.clear()


def test_rebuild_applies_a_new_rule_and_keeps_dates_raw_and_ledgers(
    tmp_path, monkeypatch, fresh_caches
):
    old = _store(tmp_path)
    before = tree_digest(old.root)
    (row,) = query.latest(data_dir=old).to_dict("records")
    assert row["county"] == "Sedgewik County" and pd.isna(row["county_fips"])
    # A rule fixed after the version was stored:
    monkeypatch.setitem(rules.COUNTY_CORRECTIONS, ("KS", "SEDGEWIK COUNTY"), "Sedgwick County")
    normalize.county_name.cache_clear()
    normalize._MEMO.clear()  # a new process would start with empty caches
    new = Store(tmp_path / "new")
    lines = rebuild(old, new)
    assert len(lines) == 1 and lines[0].startswith("new")
    (fixed,) = query.latest(data_dir=new).to_dict("records")
    assert (fixed["county"], fixed["county_fips"]) == ("Sedgwick County", "20173")
    assert "county_corrected" in fixed["flags"]
    version = query.snapshots(data_dir=new).iloc[0]
    assert (version["date"], version["date_source"]) == (date(2025, 6, 2), "observed")
    assert ledger.PUBLICATIONS.read(new).num_rows == 1
    assert tree_digest(old.root) == before  # the old store is untouched
    assert verify(new) == []
    with pytest.raises(FileExistsError):
        rebuild(old, new)

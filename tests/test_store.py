"""The store: write-once raw bytes, immutable snapshots, catalog, atomicity, bad input."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import date, datetime

import pyarrow.parquet as pq
import pytest
from support.files import tree_digest
from support.workbooks import (
    PARTICIPATING_HEADER,
    PENDING_HEADER,
    build_workbook,
    participating_row,
)

from ice287g import query
from ice287g.jobs.ingest import ingest_bytes, ingest_paths
from ice287g.store import Store, sha256_bytes
from parsers import workbook


def _wb(n=3, saved=datetime(2025, 4, 3, 18), **kw) -> bytes:
    rows = [participating_row(agency=f"Agency {i}", **kw) for i in range(n)]
    return build_workbook(PARTICIPATING_HEADER, rows, saved=saved)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "data")


def test_new_version_writes_raw_snapshot_and_catalog(store):
    data = _wb()
    out = ingest_bytes(store, data, "participatingAgencies04032025pm.xlsx")
    assert out.status == "new" and out.list == "participating" and out.date == "2025-04-03"
    sha = sha256_bytes(data)
    assert store.raw_path(sha).read_bytes() == data  # raw kept exactly
    cat = query.snapshots(data_dir=store)
    assert cat[["list", "sha256", "rows", "file_name", "date_source"]].to_dict("records") == [
        {
            "list": "participating",
            "sha256": sha,
            "rows": 3,
            "file_name": "participatingAgencies04032025pm.xlsx",
            "date_source": "ice_name",
        }
    ]
    assert list(cat.loc[0, "columns"]) == PARTICIPATING_HEADER
    snap = pq.read_table(store.root / cat.loc[0, "snapshot"])
    assert snap.num_rows == 3


def test_same_bytes_under_another_name_is_not_a_new_version(store, tmp_path):
    data = _wb()
    ingest_bytes(store, data, "participatingAgencies04032025pm.xlsx")
    before = tree_digest(store.root)
    out = ingest_bytes(store, data, "participatingAgencies04042025am.xlsx")
    assert out.status == "stored"
    assert tree_digest(store.root) == before


def test_rerunning_a_backfill_writes_nothing(store, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"participatingAgencies0{i + 4}032025pm.xlsx").write_bytes(
            _wb(n=i + 1, saved=datetime(2025, i + 4, 3, 12))
        )
    first = ingest_paths(store, [folder])
    assert [o.status for o in first] == ["new"] * 3
    before = tree_digest(store.root)
    again = ingest_paths(store, [folder])
    assert [o.status for o in again] == ["stored"] * 3
    assert tree_digest(store.root) == before


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"<html><head><title>Access Denied</title></head><body>blocked</body></html>",
        b"PK\x03\x04truncated",
        "valid_but_cut",
        "no_header",
        "undatable",
    ],
)
def test_bad_input_fails_clearly_and_leaves_the_store_byte_identical(store, tmp_path, bad):
    ingest_bytes(store, _wb(), "participatingAgencies04032025pm.xlsx")
    if bad == "valid_but_cut":
        full = _wb(n=40)
        bad = full[: len(full) - 300]
    elif bad == "no_header":
        bad = build_workbook(["A", "B"], [["x", "y"]])
    elif bad == "undatable":
        bad = build_workbook(
            PENDING_HEADER, [["OHIO", "A", "County", "", "Task Force Model"]], saved=None
        )
    before = tree_digest(store.root)
    path = tmp_path / "pendingAgencies.xlsx"
    path.write_bytes(bad)
    (out,) = ingest_paths(store, [path])
    assert out.status == "failed" and out.reason
    assert out.line().startswith("failed  pendingAgencies.xlsx: ")
    assert tree_digest(store.root) == before


def test_one_bad_file_does_not_stop_the_others(store, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_participatingAgencies04032025pm.xlsx").write_bytes(_wb())
    (folder / "b_broken.xlsx").write_bytes(b"<html>blocked</html>")
    (folder / "c_pendingAgencies04042025am.xlsx").write_bytes(
        build_workbook(
            PENDING_HEADER,
            [["OHIO", "A", "County", "", "Task Force Model"]],
            saved=datetime(2025, 4, 4, 9),
        )
    )
    outcomes = ingest_paths(store, [folder])
    assert [o.status for o in outcomes] == ["new", "failed", "new"]
    assert "HTML page" in outcomes[1].reason


def test_interrupted_before_the_catalog_write_is_recovered_on_the_next_run(store, monkeypatch):
    from ice287g import store as store_mod

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(store_mod.Store, "commit", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_bytes(store, _wb(), "participatingAgencies04032025pm.xlsx")
    monkeypatch.undo()
    # The store is still readable: no catalog yet, and no half-written file anywhere.
    assert query.snapshots(data_dir=store).empty
    assert not [p for p in store.root.rglob("*.tmp")]
    # The next write picks up the orphaned snapshot.
    ingest_bytes(
        store, _wb(n=1, saved=datetime(2025, 4, 4, 9)), "participatingAgencies04042025am.xlsx"
    )
    assert sorted(query.snapshots(data_dir=store)["date"]) == [date(2025, 4, 3), date(2025, 4, 4)]


def test_stored_raw_bytes_that_no_longer_match_their_hash_are_never_overwritten(store):
    data = _wb()
    ingest_bytes(store, data, "participatingAgencies04032025pm.xlsx")
    path = store.raw_path(sha256_bytes(data))
    path.write_bytes(b"tampered")
    with pytest.raises(Exception, match="do not match their hash"):
        store.put_raw(data)
    assert path.read_bytes() == b"tampered"


def test_versions_of_one_day_are_ordered_by_suffix_then_saved_time(store):
    ingest_bytes(
        store, _wb(n=3, saved=datetime(2025, 4, 3, 19)), "participatingAgencies04032025pm.xlsx"
    )
    ingest_bytes(
        store, _wb(n=2, saved=datetime(2025, 4, 3, 20)), "participatingAgencies04032025am.xlsx"
    )
    ingest_bytes(
        store, _wb(n=4, saved=datetime(2025, 4, 3, 21)), "participatingAgencies04032025mid.xlsx"
    )
    cat = query.snapshots(data_dir=store)
    assert list(zip(cat["name_suffix"], cat["seq"])) == [("am", 1), ("mid", 2), ("pm", 3)]
    assert len(query.latest(as_of="2025-04-03", data_dir=store)) == 3


def test_empty_pending_list_and_a_dropped_version_are_flagged_suspect(store):
    for day, n in [(1, 10), (2, 4), (3, 10)]:
        ingest_bytes(
            store,
            _wb(n=n, saved=datetime(2025, 5, day, 12)),
            f"participatingAgencies05{day:02d}2025pm.xlsx",
        )
    ingest_bytes(
        store,
        build_workbook(PENDING_HEADER, [], saved=datetime(2025, 5, 2, 12)),
        "pendingAgencies05022025pm.xlsx",
    )
    cat = query.snapshots(data_dir=store).set_index(["list", "date"])
    assert cat.loc[("participating", date(2025, 5, 2)), "suspect"]
    assert "fell from 10 to 4" in cat.loc[("participating", date(2025, 5, 2)), "suspect_reason"]
    assert not cat.loc[("participating", date(2025, 5, 3)), "suspect"]
    assert cat.loc[("pending", date(2025, 5, 2)), "suspect_reason"] == "pending list is empty"
    assert "header_only" in list(cat.loc[("pending", date(2025, 5, 2)), "flags"])


def test_a_drop_lasting_two_versions_is_flagged_but_a_lasting_contraction_is_not(store):
    days = [
        (1, 10),
        (2, 4),
        (3, 5),
        (4, 10),  # broken for two versions, then back
        (10, 6),
        (20, 6),
        (25, 7),
        (31, 12),
    ]  # a real fall: recovery 3 weeks later
    for day, n in days:
        ingest_bytes(
            store,
            _wb(n=n, saved=datetime(2025, 5, day, 12)),
            f"participatingAgencies05{day:02d}2025pm.xlsx",
        )
    cat = query.snapshots(data_dir=store)
    flagged = {d.day for d, s in zip(cat["date"], cat["suspect"]) if s}
    assert flagged == {2, 3}


def test_zip_bomb_is_not_stored(store, monkeypatch):
    # The cap scaled down (200 MB in production) and a member that compresses too little to
    # trip the ratio guard: only the unpacked-size cap can refuse it.
    monkeypatch.setattr(workbook, "MAX_UNPACKED_BYTES", 256 * 1024)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", random.Random(0).randbytes(512 * 1024))
    out = ingest_bytes(store, buf.getvalue(), "participatingAgencies04032025pm.xlsx")
    assert out.status == "failed" and "past the 262144-byte limit" in out.reason
    assert not store.root.joinpath("raw").exists()


def test_a_parquet_file_is_read_as_the_store_schema_whatever_it_holds(tmp_path):
    """A file as written is read directly; one of another shape (an older layout) still comes
    back in the store's schema: missing columns as nulls, requested columns in their order."""
    import pyarrow as pa

    from ice287g.store.files import read_table

    schema = pa.schema([("a", pa.string()), ("b", pa.int32())])
    pq.write_table(pa.table({"a": ["x", "y"], "b": pa.array([1, 2], pa.int32())}), tmp_path / "n")
    pq.write_table(pa.table({"a": ["x", "y"], "c": [True, False]}), tmp_path / "o")
    assert read_table(tmp_path / "n", schema).to_pydict() == {"a": ["x", "y"], "b": [1, 2]}
    assert read_table(tmp_path / "n", schema, ["b", "a"]).column_names == ["b", "a"]
    older = read_table(tmp_path / "o", schema)
    assert older.schema.equals(schema) and older.column("b").to_pylist() == [None, None]


# --- the catalog derived in windows equals the catalog derived whole -------------------------
from datetime import timedelta  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ice287g.schema import CATALOG_SCHEMA  # noqa: E402
from ice287g.store.catalog import TALLY_SCHEMA, _derive  # noqa: E402


def _record(i: int, lst: str, day: date, rows: int) -> dict:
    sha = f"{i:064x}"
    record = dict.fromkeys(CATALOG_SCHEMA.names)
    record.update(
        list=lst,
        date=day,
        sha256=sha,
        rows=rows,
        file_name=f"f{i}.xlsx",
        suffix_rank=i % 3,
        snapshot=f"snapshots/{lst}/{day}_{sha[:12]}.parquet",  # never written: not needed
        raw=f"raw/{sha[:2]}/{sha}.xlsx",
        snapshot_sha256="0" * 64,
    )
    return record


_versions = st.lists(
    st.tuples(
        st.sampled_from(["participating", "participating", "pending"]),
        st.integers(0, 60),  # day offset: versions within and beyond the recovery window
        st.sampled_from([100, 100, 40, 70, 0, 101]),  # drops, recoveries, an empty pending list
    ),
    min_size=1,
    max_size=30,
)


@given(versions=_versions, data=st.data())
def test_the_catalog_after_commits_in_any_order_equals_one_derived_whole(
    tmp_path_factory, versions, data
):
    """Each commit derives only the versions from SUSPECT_RECOVERY_DAYS before its first
    one; numbers in the day and suspect flags still come out as a derivation of all."""
    store = Store(tmp_path_factory.mktemp("c") / "data")
    start = date(2031, 12, 20)  # a year boundary: two tally files
    records = [_record(i, lst, start + timedelta(d), n) for i, (lst, d, n) in enumerate(versions)]
    if data.draw(st.booleans(), "in date order"):
        order = sorted(range(len(records)), key=lambda i: (records[i]["date"], i))
    else:
        order = data.draw(st.permutations(range(len(records))), "order")
    empty = TALLY_SCHEMA.empty_table()
    with store.lock():
        at = 0
        while at < len(order):
            size = data.draw(st.integers(1, 4), "batch")
            chunk = [dict(records[i]) for i in order[at : at + size]]
            store.commit(chunk, [empty] * len(chunk))
            at += size
    expected = _derive([dict(r) for r in records])
    got = store.catalog_table().to_pylist()
    key = ["list", "date", "seq", "sha256", "suspect", "suspect_reason"]
    assert [{k: r[k] for k in key} for r in got] == [{k: r[k] for k in key} for r in expected]


def test_a_table_becomes_a_frame_with_one_date_object_per_day():
    """``arrow.dataframe``: the same frame as pyarrow's own conversion (dates as
    ``datetime.date``, dictionary-encoded text as ``str``, a missing value as missing), but
    the rows of one day share one ``date`` object."""
    import pandas as pd
    import pyarrow as pa

    from ice287g.arrow import dataframe

    days = [date(2025, 1, 1), None, date(2025, 1, 1), date(2025, 3, 5)]
    table = pa.table(
        {
            "n": pa.array([1, 2, 3, 4]),
            "day": pa.array(days, pa.date32()),
            "word": pa.array(["x", None, "y", "x"]).dictionary_encode(),
            "text": pa.array(["p", "q", None, "r"]),
        }
    )
    plain = table.set_column(2, "word", table["word"].cast(pa.string()))
    for t, p in ((table, plain), (table.slice(0, 0), plain.slice(0, 0))):
        pd.testing.assert_frame_equal(dataframe(t), p.to_pandas(date_as_object=True))
    got = dataframe(table)["day"].tolist()
    assert got == days and got[0] is got[2]

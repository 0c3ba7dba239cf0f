"""publish at the cost of what changed: the page's data is built from the identity's runs
(``page.build_core``) and equals the construction it replaced (one ``Identity.listed`` per
day), value for value and byte for byte; ``versions.parquet`` is its pieces' row groups
joined under one footer (``rowgroups``), read back as the pieces one after the other."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_publish import first_batch, make_store, second_batch
from test_publish_incremental import next_year

from ice287g.publish import page, tables
from ice287g.query.diff import DIFF_FIELDS, comparable_fields
from ice287g.query.identity import load
from ice287g.query.versions import LISTS, catalog
from ice287g.store import Store


def core_per_day(store, cat: pd.DataFrame, daily: pd.DataFrame, generated: str) -> dict:
    """The page's ``core`` as it was built before: every day's list read whole
    (``Identity.listed``), the pool numbered in order of first appearance."""
    ident = load(store)
    strings = page.Strings()
    lists, days_of, listed = {}, {}, []
    for lst in LISTS:
        days_of[lst] = page.day_versions(cat, lst)
        listed += [ident.listed(sha)[page.RECORD_FIELDS] for sha in days_of[lst]["sha256"]]
    every = pd.concat(listed, ignore_index=True)
    every = every.astype(object)
    every = every.where(every.notna(), None)
    codes = every.groupby(page.RECORD_FIELDS, sort=False, dropna=False).ngroup().to_numpy()
    pool = every[~pd.Series(codes).duplicated().to_numpy()]
    ends = pd.Series([len(x) for x in listed], dtype="int64").cumsum().tolist()
    spans = iter(zip([0, *ends], ends, strict=False))
    for lst in LISTS:
        versions = cat[cat["list"] == lst].sort_values(["date", "seq"]).reset_index(drop=True)
        position = {sha: i for i, sha in enumerate(versions["sha256"])}
        day_rows = []
        for v in days_of[lst].itertuples():
            start, end = next(spans)
            fields = comparable_fields(v.columns, v.columns)
            day_rows.append(
                {
                    "version": position[v.sha256],
                    "members": page.ranges(codes[start:end].tolist()),
                    "fields": [DIFF_FIELDS.index(f) for f in fields],
                }
            )
        lists[lst] = {
            "versions": page.frame(
                versions.assign(rows=versions["rows"].astype("Int64")),
                strings,
                page.CATALOG_COLUMNS,
            ),
            "days": day_rows,
            "series": page._series(daily[daily["list"] == lst], days_of[lst]),
        }
    return {
        "format": 1,
        "generated": generated,
        "models": page.MODELS,
        "diff_fields": list(DIFF_FIELDS),
        "resign_min_days": page.RESIGN_MIN_DAYS,
        "records": page.frame(pool.reset_index(drop=True), strings, page.RECORD_FIELDS),
        "lists": lists,
        "strings": strings.table(),
    }


def assert_core_as_before(store) -> dict:
    cat = catalog(store)
    daily = tables.daily_counts(store)
    new = page.build_core(load(store), cat, daily, "t")
    old = core_per_day(store, cat, daily, "t")
    assert new == old
    assert page.dumps(new) == page.dumps(old)
    return new


def test_core_from_runs_equals_the_core_read_day_by_day(tmp_path: Path):
    store = make_store(tmp_path / "s", first_batch, second_batch, next_year)
    core = assert_core_as_before(store)
    # Not vacuous: days with members, records shared between days.
    days = [d for lst in core["lists"].values() for d in lst["days"]]
    assert len(days) >= 4 and all(d["members"] for d in days)
    assert core["records"]["length"] < sum(sum(d["members"][1::2]) for d in days)


@pytest.mark.corpus
def test_core_from_runs_equals_the_core_read_day_by_day_on_the_corpus(corpus_scratch):
    # the session's writable copy: the identity's cache is written there
    core = assert_core_as_before(Store(corpus_scratch))
    assert len(core["lists"]["participating"]["days"]) > 100


def parquet_part(path: Path, first: int, rows: int, **options) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = range(first, first + rows)
    table = pa.table(
        {
            "i": pa.array(list(n), pa.int64()),
            "s": pa.array([f"agency {i % 7}" if i % 5 else None for i in n], pa.string()),
            "b": pa.array([i % 3 == 0 for i in n], pa.bool_()),
            "l": pa.array([[f"x{i}", "y"] for i in n], pa.list_(pa.string())),
            "d": pa.array([i / 3 for i in n], pa.float64()),
        }
    )
    pq.write_table(table, path, **options)


@pytest.mark.parametrize(
    "options",
    [{}, {"row_group_size": 7, "write_page_index": True}, {"compression": "none"}],
)
def test_joined_row_groups_read_as_the_parts_one_after_the_other(tmp_path: Path, options):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ice287g.publish import rowgroups

    parts = []
    for k, (first, rows) in enumerate([(0, 20), (20, 0), (20, 33), (53, 5)]):
        parts.append(tmp_path / f"p{k}.parquet")
        parquet_part(parts[-1], first, rows, **options)
        data = parts[-1].read_bytes()
        fmd, start = rowgroups.footer(data)
        assert rowgroups.encode(fmd) == data[start:-8]  # the codec gives the bytes back
    with open(tmp_path / "whole.parquet", "wb") as out:
        assert rowgroups.join(parts, out) == 58
    joined = pq.read_table(tmp_path / "whole.parquet")
    assert joined.equals(pa.concat_tables([pq.read_table(p) for p in parts]))
    assert joined.column("i").to_pylist() == list(range(58))
    # Each row group is found where the footer says: read one by one, filtered, by column.
    whole = pq.ParquetFile(tmp_path / "whole.parquet")
    groups = [whole.read_row_group(g) for g in range(whole.num_row_groups)]
    assert pa.concat_tables(groups).equals(joined)
    picked = pq.read_table(tmp_path / "whole.parquet", columns=["s"], filters=[("i", ">=", 50)])
    assert picked.num_rows == 8


def test_parts_of_other_schemas_are_not_joined(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ice287g.publish import rowgroups

    parquet_part(tmp_path / "a.parquet", 0, 3)
    pq.write_table(pa.table({"i": [1, 2]}), tmp_path / "b.parquet")
    with pytest.raises(rowgroups.ParquetJoinError, match="b.parquet"):
        with open(tmp_path / "whole.parquet", "wb") as out:
            rowgroups.join([tmp_path / "a.parquet", tmp_path / "b.parquet"], out)


def test_remembered_year_digests_are_cut_again_by_other_code(tmp_path: Path, monkeypatch):
    """The years' digests are remembered under the table's key; code that cuts or writes
    them differently (here: another format) must not be handed the old digests."""
    import pyarrow as pa

    from ice287g.publish import yearly

    table = pa.table(
        {
            "date": pa.array(pd.to_datetime(["2025-03-01", "2026-01-02"]).date, pa.date32()),
            "n": pa.array([1, 2], pa.int64()),
        }
    )
    store = Store(str(tmp_path / "data"))
    first = yearly.cached(store, "changes", table, known="same content").parts
    assert first == yearly.parts(table)
    monkeypatch.setattr(yearly, "FORMAT", "publish-yearly-other")
    again = yearly.cached(store, "changes", table, known="same content").parts
    assert again == yearly.parts(table)
    assert [d for *_, d in again] != [d for *_, d in first]


def test_a_table_has_the_same_bytes_whatever_its_text_columns_pandas_dtype():
    """Text columns arrive as `str` (read from a cache) or `object` (built, or empty): the
    Arrow table, pandas metadata included, is the same, and gives them as `object`."""
    import json

    from ice287g.publish.tables import _arrow

    fields = [
        ("date", "date", ""),
        ("name", "string", ""),
        ("note", "string", ""),
        ("count", "integer", ""),
    ]
    built = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-03-01", "2025-03-02"]).date,
            "name": pd.Series(["a", None], dtype=object),
            "note": pd.Series([None, None], dtype=object),
            "count": pd.Series([1, None], dtype="Int64"),
        }
    )
    cached = built.astype({"name": "string[pyarrow]", "note": "str"})
    one, other = _arrow(built, fields), _arrow(cached, fields)
    assert one.equals(other, check_metadata=True)
    meta = json.loads(one.schema.metadata[b"pandas"])
    types = {c["name"]: c["numpy_type"] for c in meta["columns"]}
    assert types["name"] == types["note"] == "object" and types["count"] == "Int64"
    assert one.column("name").to_pylist() == ["a", None]

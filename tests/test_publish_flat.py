"""publish at the cost of what changed: the page's data is built from the identity's runs a
year at a time (``core.build_core``) and reads as the construction it replaced (one
``Identity.listed`` per day), value for value; ``versions.parquet`` is its pieces' row groups
joined under one footer (``rowgroups``), read back as the pieces one after the other."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from support.workbooks import PARTICIPATING_HEADER
from test_history import part, write
from test_publish import first_batch, make_store, second_batch
from test_publish_incremental import add, next_year

from ice287g.arrow import dataframe
from ice287g.identity.story import RESIGN_MIN_DAYS
from ice287g.publish import core, page, tables
from ice287g.query.diff import DIFF_FIELDS, comparable_fields
from ice287g.query.identity import load
from ice287g.query.versions import LISTS, catalog, select_versions
from ice287g.store import Store


def core_per_day(store, cat: pd.DataFrame, daily: pd.DataFrame, generated: str) -> dict:
    """The page's ``core`` as it was built before: every day's list read whole
    (``Identity.listed``), the pool numbered in order of first appearance."""
    ident = load(store)
    strings = page.Strings()
    lists, days_of, listed = {}, {}, []
    for lst in LISTS:
        days_of[lst] = select_versions(cat, lst)  # each day's last non-suspect version
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
            "series": series_before(daily[daily["list"] == lst], days_of[lst]),
        }
    return {
        "format": 1,
        "generated": generated,
        "models": page.MODELS,
        "diff_fields": list(DIFF_FIELDS),
        "resign_min_days": RESIGN_MIN_DAYS,
        "records": page.frame(pool.reset_index(drop=True), strings, page.RECORD_FIELDS),
        "lists": lists,
        "strings": strings.table(),
    }


def series_before(daily: pd.DataFrame, days: pd.DataFrame) -> dict:
    """``page.count_series`` as it was built before, in pandas from the daily counts'
    DataFrame: rows per model and day for all states (``*``) and each state (``?``: none)."""
    dates = list(days["date"])
    if daily.empty or not dates:
        return {}
    df = daily.fillna({"state": "?", "model": ""})
    df = df.assign(row=df["date"].map({d: i for i, d in enumerate(dates)}))
    df = df[df["row"].notna()]
    out: dict[str, dict[str, list[int]]] = {page.ALL_STATES: {}}
    for m, rows in sorted(df.groupby("model"), key=lambda kv: kv[0]):
        out[page.ALL_STATES][m] = series_runs(rows, len(dates))
    for (state, m), rows in sorted(df.groupby(["state", "model"]), key=lambda kv: kv[0]):
        out.setdefault(state, {})[m] = series_runs(rows, len(dates))
    return out


def series_runs(rows: pd.DataFrame, days: int) -> list[int]:
    per_day = [0] * days
    for row, count in zip(rows["row"].astype(int), rows["count"], strict=True):
        per_day[row] += int(count)
    return page.runs(per_day)


def decode_frame(frame: dict, strings: list[str]) -> list[dict]:
    """A frame's rows as the page decodes them (``app.js``: ``decodeFrame``)."""
    numeric = set(frame["integer"])
    cols = [
        col if name in numeric else [None if v is None else strings[v] for v in col]
        for name, col in zip(frame["columns"], frame["data"], strict=True)
    ]
    return [dict(zip(frame["columns"], row, strict=True)) for row in zip(*cols, strict=True)]


def expand(ranges: list[int]) -> list[int]:
    return [i for start, n in zip(ranges[::2], ranges[1::2]) for i in range(start, start + n)]


def decoded(core: dict) -> dict:
    """What the page reads from a ``core`` of any layout (one pool, or the years' pools one
    after the other, as ``app.js`` joins them; each list's versions and counts in one
    piece, or the years' one after the other): per list its versions, counts (runs over
    all its days), and each day's version, fields and member records."""
    if core["format"] == 1:
        pools = [(core["records"], core["strings"])]
        days = {lst: L["days"] for lst, L in core["lists"].items()}
    else:
        pools = [(y["records"], y["strings"]) for y in core["years"]]
        days = {lst: [d for y in core["years"] for d in y["days"][lst]] for lst in LISTS}
    records = [r for frame, strings in pools for r in decode_frame(frame, strings)]
    texts = [json.dumps(r) for r in records]  # each record once: days share them
    out = {k: core[k] for k in ("generated", "models", "diff_fields", "resign_min_days")}
    for lst in LISTS:
        if core["format"] < 3:
            L = core["lists"][lst]
            versions = decode_frame(L["versions"], core["strings"])
            series = L["series"]
        else:
            versions = [
                v
                for y in core["years"]
                for v in decode_frame(y["lists"][lst]["versions"], y["strings"])
            ]
            series = joined_series(
                [(y["lists"][lst]["series"], len(y["days"][lst])) for y in core["years"]]
            )
        out[lst] = {
            "versions": versions,
            "series": series,
            "days": [
                (
                    d["version"],
                    d["fields"],
                    sorted(texts[i] for i in expand(d["members"])),
                )
                for d in days[lst]
            ],
        }
    return out


def joined_series(years: list[tuple[dict, int]]) -> dict:
    """The years' series (each with its number of days) as one, as ``app.js`` joins them: a
    state and model a year does not count is zero on its days."""
    total = sum(n for _, n in years)
    columns: dict[tuple[str, str], list[int]] = {}
    done = 0
    for series, n in years:
        for state, models in series.items():
            for m, runs in models.items():
                column = columns.setdefault((state, m), [0] * done)
                column += [v for v, k in zip(runs[::2], runs[1::2]) for _ in range(k)]
        for column in columns.values():
            column += [0] * (done + n - len(column))
        done += n
    out: dict[str, dict[str, list[int]]] = {}
    for (state, m), column in columns.items():
        assert len(column) == total
        out.setdefault(state, {})[m] = page.runs(column)
    return {state: dict(sorted(models.items())) for state, models in sorted(out.items())}


def sort_series(series: dict) -> dict:
    return {state: dict(sorted(models.items())) for state, models in sorted(series.items())}


def text(parts) -> bytes:
    """A file given as ``concat`` parts, as its bytes."""
    return b"".join(p.read() for p in parts)


def assert_core_as_before(store) -> dict:
    cat = catalog(store)
    daily, daily_years = tables.daily_table(store, cat)
    new = json.loads(text(core.build_core(store, load(store), cat, daily, daily_years, "t")))
    before = decoded(core_per_day(store, cat, dataframe(daily), "t"))
    before = {
        k: v if k not in LISTS else {**v, "series": sort_series(v["series"])}
        for k, v in before.items()
    }
    assert decoded(new) == before
    return new


def test_core_from_runs_equals_the_core_read_day_by_day(tmp_path: Path):
    store = make_store(tmp_path / "s", first_batch, second_batch, next_year)
    built = assert_core_as_before(store)
    # Not vacuous: two years, days with members, records shared between days and years.
    assert [y["year"] for y in built["years"]] == [2025, 2026]
    days = [d for y in built["years"] for lst in LISTS for d in y["days"][lst]]
    assert len(days) >= 4 and all(d["members"] for d in days)
    pool = sum(y["records"]["length"] for y in built["years"])
    assert pool < sum(sum(d["members"][1::2]) for d in days)


@pytest.mark.corpus
def test_core_from_runs_equals_the_core_read_day_by_day_on_the_corpus(corpus_scratch):
    # the session's writable copy: the identity's cache is written there
    built = assert_core_as_before(Store(corpus_scratch))
    assert len(built["years"][0]["days"]["participating"]) > 100


def as_page(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    """`df`'s rows as the page reads them: integers as numbers, the rest as text."""
    out = []
    for row in df[columns].astype(object).itertuples(index=False):
        out.append(
            {c: page.text_of(v) if not isinstance(v, int) else v for c, v in zip(columns, row)}
        )
    return out


def test_history_reads_as_the_change_log_a_year_at_a_time(tmp_path: Path):
    from ice287g.publish import yearly

    store = make_store(tmp_path / "s", first_batch, second_batch, next_year)
    rec = tables.record(store, catalog(store))
    # The change log as published (the kept table cast where it is written out): the
    # identity's events as its DataFrame converts them, pandas metadata and all.
    events = rec.ident.events()
    published = yearly.published(rec.changes, tables.change_schema(rec.changes))
    assert published.equals(tables._arrow(events, tables.CHANGE_FIELDS), check_metadata=True)
    assert not rec.changes.schema.equals(published.schema)  # the text is kept encoded
    years = yearly.parts(published)
    built = json.loads(text(page.build_history(store, rec.agreements, rec.changes, years)))
    assert [y for y, *_ in years] == [2025, 2026] and len(built["years"]) == 2
    told = [e for y in built["years"] for e in decode_frame(y["events"], y["strings"])]
    assert told == as_page(events, page.EVENT_COLUMNS)
    columns = list(rec.agreements.columns)
    assert decode_frame(built["agreements"], built["strings"]) == as_page(rec.agreements, columns)
    # a year's text is kept: built again, the same bytes, read from the cache
    kept = sorted((store.root / "derived" / "publish" / "history").glob("2025-*"))
    assert kept and text(
        page.build_history(store, rec.agreements, rec.changes, years)
    ) == page.dumps(built)


def later_in_2026(src: Path) -> None:
    """2026-02-02: a newer participating list (one agency more)."""
    write(
        src,
        "participatingAgencies02022026am.xlsx",
        PARTICIPATING_HEADER,
        [part(n) for n in ("Alpha Police Department", "Delta Police Department", "Echo Sheriff")],
    )


def mid_2025(src: Path) -> None:
    """2025-09-15, ingested after the 2026 lists: a version of an earlier year."""
    write(
        src,
        "participatingAgencies09152025am.xlsx",
        PARTICIPATING_HEADER,
        [part(n) for n in ("Alpha Police Department", "Zeta Police Department")],
    )


def test_core_builds_again_only_from_the_first_year_that_changed(tmp_path: Path):
    """A version of the newest year replaces that year's cached text only; a version of an
    earlier year (a Wayback import) replaces the years from it on. Either way the core is
    the one a build without the cache gives."""
    store = make_store(tmp_path / "s", first_batch, second_batch, next_year)
    folder = store.root / "derived" / "publish" / "core"

    def build() -> tuple[bytes, dict[str, str]]:
        cat = catalog(store)
        built = core.build_core(store, load(store), cat, *tables.daily_table(store, cat), "t")
        return text(built), {p.name.split("-")[0]: p.name for p in folder.glob("*.text")}

    _, first = build()
    assert sorted(first) == ["2025", "2026"]
    add(store, tmp_path, later_in_2026, "in3")
    body, second = build()
    assert second["2025"] == first["2025"] and second["2026"] != first["2026"]
    assert len(json.loads(body)["years"][1]["days"]["participating"]) == 2
    add(store, tmp_path, mid_2025, "in4")
    body, third = build()
    assert third["2025"] != second["2025"] and third["2026"] != second["2026"]
    shutil.rmtree(store.root / "derived")
    assert build()[0] == body


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
        fmd, start = rowgroups.footer(parts[-1])
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


def test_a_join_with_its_memo_writes_the_same_bytes(tmp_path: Path):
    """``join``'s memo keeps each part's row groups as placed: a part that lands where it did
    is not decoded again, and the file is the same; a part changed, moved or a memo damaged
    is worked out again."""
    from ice287g.publish import rowgroups

    parts = []
    for k, (first, rows) in enumerate([(0, 20), (20, 33), (53, 5)]):
        parts.append(tmp_path / f"p{k}.parquet")
        parquet_part(parts[-1], first, rows, row_group_size=7)
    memo = tmp_path / "memo"

    def joined(which: list[Path], use_memo: bool = True) -> bytes:
        with open(tmp_path / "whole.parquet", "wb") as out:
            rowgroups.join(which, out, memo if use_memo else None)
        return (tmp_path / "whole.parquet").read_bytes()

    plain = joined(parts, use_memo=False)
    assert joined(parts) == plain and len(list(memo.iterdir())) == 3  # one per part
    decoded = []
    real_decode = rowgroups.decode

    def counting(data):
        decoded.append(len(data))
        return real_decode(data)

    rowgroups.decode = counting
    try:
        assert joined(parts) == plain and decoded == []  # every part from the memo
        # A memo damaged: that part decoded again, the file the same.
        next(memo.iterdir()).write_bytes(b"not a memo")
        assert joined(parts) == plain and len(decoded) == 1
        # The last part rewritten (other rows): decoded again; the parts before it are not.
        parquet_part(parts[2], 53, 9, row_group_size=7)
        fresh = joined(parts, use_memo=False)
        decoded.clear()
        assert joined(parts) == fresh and len(decoded) == 1
        # The first part dropped: the others land elsewhere and are decoded again; the memo
        # keeps only what this join used.
        fresh = joined(parts[1:], use_memo=False)
        decoded.clear()
        assert joined(parts[1:]) == fresh and len(decoded) == 2
        assert sorted(p.name.split(".at-")[0] for p in memo.iterdir()) == [
            "p1.parquet",
            "p2.parquet",
        ]
    finally:
        rowgroups.decode = real_decode


def test_parts_of_other_schemas_are_not_joined(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ice287g.publish import rowgroups

    parquet_part(tmp_path / "a.parquet", 0, 3)
    pq.write_table(pa.table({"i": [1, 2]}), tmp_path / "b.parquet")
    with pytest.raises(rowgroups.ParquetJoinError, match="b.parquet"):
        with open(tmp_path / "whole.parquet", "wb") as out:
            rowgroups.join([tmp_path / "a.parquet", tmp_path / "b.parquet"], out)


def test_year_digests_given_by_the_tables_maker_are_cut_again_by_other_code(
    tmp_path: Path, monkeypatch
):
    """A table's maker may give each year's digest (the identity's hashes of its events):
    the cut keeps them apart by year and mixes in the code that writes the files, so other
    code (here: another format) is not handed the old files."""
    import pyarrow as pa

    from ice287g.publish import yearly

    table = pa.table(
        {
            "date": pa.array(pd.to_datetime(["2025-03-01", "2026-01-02"]).date, pa.date32()),
            "n": pa.array([1, 2], pa.int64()),
        }
    )
    store = Store(str(tmp_path / "data"))
    given = {2025: "a", 2026: "b"}
    first = yearly.cached(store, "changes", table, given).parts
    assert [(y, a, n) for y, a, n, _ in first] == [(2025, 0, 1), (2026, 1, 1)]
    assert len({d for *_, d in first}) == 2
    assert yearly.cached(store, "changes", table, given).parts == first
    changed = yearly.cached(store, "changes", table, {2025: "a", 2026: "c"}).parts
    assert changed[0] == first[0] and changed[1] != first[1]
    monkeypatch.setattr(yearly, "FORMAT", "publish-yearly-other")
    again = yearly.cached(store, "changes", table, given).parts
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


def test_a_table_cut_by_year_reads_back_whole(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ice287g.publish import yearly

    days = pd.to_datetime(["2025-03-01", "2025-07-04", "2026-01-02", "2027-05-05"]).date
    table = pa.table(
        {
            "date": pa.array(days, pa.date32()),
            "name": pa.array(["a", None, "c", "=d"], pa.string()),
            "n": pa.array([1, 2, None, 4], pa.int64()),
        }
    )
    cut = yearly.cached(Store(str(tmp_path / "data")), "changes", table)
    assert pq.read_table(cut.files["parquet"]).equals(table)
    assert [year for year, *_ in cut.parts] == [2025, 2026, 2027]
    names = pd.read_csv(cut.files["csv"], keep_default_na=False)["name"].tolist()
    assert names == ["a", "", "c", "'=d"]


def test_files_made_in_the_background_are_read_when_made_and_raise_its_error():
    import threading

    from ice287g.publish import cache

    made = []
    gate = threading.Event()

    def make(name):
        gate.wait()
        made.append((name, threading.current_thread().name))
        return {"parquet": Path(name + ".parquet")}

    files = cache.later(("test", "x"), ("parquet",), make, "x")
    assert list(files) == ["parquet"] and not made  # nothing made until the gate opens
    gate.set()
    assert files["parquet"] == Path("x.parquet")
    assert made[0][0] == "x" and made[0][1].startswith("ice287g-publish")  # in the thread

    # A new task of the same owner starts once the last one is done (its files settled).
    gate.clear()
    first = cache.later(("test", "y"), ("parquet",), make, "y1")
    opener = threading.Timer(0.05, gate.set)
    opener.start()
    second = cache.later(("test", "y"), ("parquet",), make, "y2")
    assert [name for name, _ in made[1:]] == ["y1"]  # y1 was made before y2 was queued
    assert second["parquet"] == Path("y2.parquet") and first["parquet"] == Path("y1.parquet")

    def broken():
        raise OSError("versions-x.csv.gz: No space left on device")

    files = cache.later(("test", "z"), ("csv",), broken)
    with pytest.raises(OSError, match="No space left"):
        files["csv"]


def test_a_years_digest_does_not_change_with_the_rows_after_it():
    """Arrow's IPC of a slice pads its buffers with the next rows' bytes: a year's digest
    is taken from a copy of its rows, so appending a year leaves the others' unchanged."""
    import pyarrow as pa

    from ice287g.publish import yearly

    def table(days):
        return pa.table(
            {
                "date": pa.array(pd.to_datetime(days).date, pa.date32()),
                "seq": pa.array(range(len(days)), pa.int64()),
            }
        )

    older = ["2025-03-01"] * 9 + ["2026-02-02"] * 3
    grown = older + ["2026-05-05"] * 4 + ["2027-01-01"] * 5
    before = {year: digest for year, _, _, digest in yearly.parts(table(older))}
    after = {year: digest for year, _, _, digest in yearly.parts(table(grown))}
    assert after[2025] == before[2025]
    assert after[2026] != before[2026] and set(after) == {2025, 2026, 2027}


def test_cached_files_hash_and_join_as_their_bytes_an_empty_one_too(tmp_path: Path):
    import hashlib

    from ice287g.publish import cache

    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "part").write_bytes(b"a,b\n" * 300_000)  # mapped whole, not read in blocks
    for name in ("empty", "part"):
        body = (tmp_path / name).read_bytes()
        assert cache.sha256_file(tmp_path / name) == hashlib.sha256(body).hexdigest()
    parts = [tmp_path / "part", tmp_path / "empty", tmp_path / "part"]
    sha = cache.joined(tmp_path / "whole", b"head\n", parts)
    expected = b"head\n" + b"a,b\n" * 600_000
    assert (tmp_path / "whole").read_bytes() == expected
    assert sha == hashlib.sha256(expected).hexdigest()


def test_a_file_joined_again_hashes_only_the_parts_after_those_it_shares(
    tmp_path: Path, monkeypatch
):
    """``concat.write``: the digest is always hashlib's of the bytes written; with a memo,
    the parts a file begins with in common with the last one are copied, not hashed again
    (the hash resumed from the state kept); a changed part, a damaged memo or one kept by
    another library means hashing from there (or everything) again."""
    import hashlib
    import random

    from ice287g.publish import concat

    if concat.openssl() is None:
        pytest.skip("libcrypto's SHA256_* functions are not available: nothing is resumed")
    rng = random.Random(14)

    def part_file(name: str, size: int) -> Path:
        path = tmp_path / name
        path.write_bytes(rng.randbytes(size))
        return path

    files = [part_file(f"p{k}", size) for k, size in enumerate([70_001, 0, 64, 130_000, 5])]
    memo = concat.memo_of(tmp_path / "cache", "whole")
    hashed: list[str] = []
    real = concat._hashed

    def counting(part, fd, h):
        hashed.append(part.path.name if part.path else part.data.decode())
        return real(part, fd, h)

    monkeypatch.setattr(concat, "_hashed", counting)

    def write(paths: list[Path], head=b"head", ranges=None) -> list[str]:
        hashed.clear()
        parts = [concat.given(head)]
        for path in paths:
            start, size = (ranges or {}).get(path.name, (0, None))
            parts.append(concat.of_file(path, start, size))
        sha = concat.write(tmp_path / "whole", parts, memo)
        expected = b"".join(p.read() for p in parts)
        assert (tmp_path / "whole").read_bytes() == expected
        assert sha == hashlib.sha256(expected).hexdigest()
        return list(hashed)

    assert write(files) == ["head", "p0", "p1", "p2", "p3", "p4"]  # no memo yet
    assert write(files) == []  # the same parts: nothing hashed, the digest resumed
    files[4].write_bytes(b"later")  # the last part replaced
    assert write(files) == ["p4"]
    assert write(files + [part_file("p5", 1000)]) == ["p5"]  # a part added at the end
    assert write(files[:3] + [files[4]]) == ["p4"]  # one dropped: hashed from there
    assert write(files[:3] + [files[4]], ranges={"p2": (10, 20)}) == ["p2", "p4"]
    assert write(files, head=b"other head") == ["other head", "p0", "p1", "p2", "p3", "p4"]
    memo.write_text("not a memo")
    assert len(write(files)) == 6
    kept = json.loads(memo.read_text())
    memo.write_text(json.dumps({**kept, "library": "another"}))
    assert len(write(files)) == 6

    # Where the kernel cannot copy (another file system), the shared parts go through
    # this process: the same bytes, still not hashed again.
    def cross_device(*args):
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "copy_file_range", cross_device)
    assert write(files) == []
    # Resumed at any cut, OpenSSL's state gives hashlib's digest.
    data = rng.randbytes(5_000)
    for cut in (0, 1, 63, 64, 65, 4_999, 5_000):
        first = concat.Sha256(concat.openssl())
        first.update(data[:cut])
        resumed = concat.Sha256(concat.openssl(), first.state())
        resumed.update(data[cut:])
        assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()


def test_without_libcrypto_a_joined_file_is_hashed_whole_by_hashlib(tmp_path: Path, monkeypatch):
    import hashlib

    from ice287g.publish import cache, concat

    monkeypatch.setattr(concat, "_OPENSSL", [None])
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    memo = concat.memo_of(tmp_path, "whole")
    for _ in range(2):
        sha = cache.joined(tmp_path / "whole", b"head\n", [tmp_path / "a"] * 2, memo)
        assert sha == hashlib.sha256(b"head\n" + b"x" * 200_000).hexdigest()
    assert not memo.exists()

"""The rows of every version, by month: what a question about one agency over time reads.

``counts --agency`` asks of every chosen version (one a day: 3,650 at ten years) which of its
rows name the agency. Opening each version's snapshot made that read grow with the history;
this derived table holds the few columns the question needs (``ROW_COLUMNS``) for every
version, one Parquet file per month of publication dates under ``derived/rows/``
(``YYYY-MM.parquet``), so the read opens one file per month and filters in Arrow, and a new
version rewrites its month's file (about 60 versions), not a year's.

Each month's file names the versions it holds (its Parquet metadata). A file that holds some
of its month's versions is extended with the others (their snapshots are read, not the older
ones'); a file that holds a version the catalog no longer has, or cannot be read, is built
again: stale is rebuilt, never trusted. The files are brought up to date when read, so a
refresh or a backfill does not pay for them: the first ``counts --agency`` after a refresh
reads the new versions' snapshots, the first after a backfill reads them all.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ice287g.store import Store
from ice287g.store.catalog import TALLY_KEYS
from ice287g.store.files import atomic_file

ROW_COLUMNS = ["state", "agency", *[k for k in TALLY_KEYS if k != "state"]]
META_KEY = b"ice287g.versions"


def folder(store: Store):
    return store.root / "derived" / "rows"


def rows(
    store: Store, every: pd.DataFrame, chosen: pd.DataFrame, state: str | None = None
) -> pa.Table:
    """``sha256`` and ``ROW_COLUMNS`` of every row of the `chosen` versions, of one state (a
    USPS code) when given; `every`: the catalog (``date``, ``sha256``, ``snapshot``)."""
    month = pd.Series([_month(d) for d in every["date"]], index=every.index)
    tables = []
    for m in sorted({_month(d) for d in chosen["date"]}):
        table = _file(store, m, every[month == m])
        tables.append(table.filter(pc.equal(table["state"], state)) if state else table)
    table = pa.concat_tables(tables).combine_chunks() if tables else _empty()
    return table.filter(pc.is_in(table["sha256"], pa.array(chosen["sha256"], pa.string())))


def _empty() -> pa.Table:
    fields = [pa.field("sha256", pa.string())] + [pa.field(c, pa.string()) for c in ROW_COLUMNS]
    return pa.schema(fields).empty_table()


def _month(day) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _file(store: Store, month: str, versions: pd.DataFrame) -> pa.Table:
    """The month's rows, from its file when that holds exactly `versions`."""
    path = folder(store) / f"{month}.parquet"
    want = set(versions["sha256"])
    held, table = _read(path)
    if held == want:
        return table
    if held is None or not held <= want:
        held, table = set(), _empty()
    parts = [table]
    for sha, snapshot in zip(versions["sha256"], versions["snapshot"]):
        if sha not in held:
            t = store.read_snapshot(snapshot, columns=ROW_COLUMNS)
            t = t.cast(pa.schema([pa.field(c, pa.string()) for c in ROW_COLUMNS]))
            sha_column = pa.array([sha] * t.num_rows, pa.string())
            parts.append(t.add_column(0, "sha256", sha_column))
    table = pa.concat_tables(parts)
    meta = {META_KEY: json.dumps(sorted(want)).encode()}
    try:
        with atomic_file(path) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
    except OSError:
        pass  # a read-only store still answers, from memory
    return table


def _read(path) -> tuple[set[str] | None, pa.Table | None]:
    """(versions held, rows) of a month's file; (None, None) when missing or unreadable."""
    try:
        with pq.ParquetFile(path) as source:  # a tenth of the cost of a dataset read
            held = set(json.loads(source.schema_arrow.metadata[META_KEY]))
            return held, source.read().replace_schema_metadata(None)
    except Exception:  # noqa: BLE001 - a derived file is never trusted: any damage means rebuild
        return None, None

"""The tables of the export, as Arrow tables: every version in one long table, and the
pandas answers of the query layer (history, counts) typed by their field lists."""

from __future__ import annotations

from ice287g import progress

VERSION_COLUMNS = [
    ("date", "date", "Publication date of the version"),
    ("seq", "integer", "Order of the version within its day, 1 = first"),
    ("sha256", "string", "SHA-256 of the version's workbook (its identity)"),
    ("suspect", "boolean", "The version looks broken (see the catalog)"),
]
COUNT_FIELDS = [
    ("date", "date", "Publication date (the day's last version)"),
    ("list", "string", "`participating` or `pending`"),
    ("sha256", "string", "SHA-256 of the version counted"),
    ("count", "integer", "Rows in that version"),
]


def table_from_pandas(df, fields):
    """An Arrow table of `df`'s columns named in `fields` ((name, type, description))."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "date": pa.date32(),
        "integer": pa.int64(),
        "boolean": pa.bool_(),
        "number": pa.float64(),
    }
    schema = pa.schema([pa.field(n, types[t]) for n, t, _ in fields])
    return pa.Table.from_pandas(df[[n for n, _, _ in fields]], schema=schema, preserve_index=False)


def snapshot_descriptions() -> dict[str, str]:
    from ice287g.schema import SNAPSHOT_FIELDS

    return {n: d for n, _, d in SNAPSHOT_FIELDS}


def versions_table(data_dir=None, cat=None):
    """Every stored version of both lists as one long Arrow table: each snapshot row with
    its version's date, order within the day, sha256 and suspect flag."""
    import pyarrow as pa

    from ice287g.query.versions import catalog, store_of
    from ice287g.schema import SNAPSHOT_SCHEMA

    store = store_of(data_dir)
    cat = catalog(store) if cat is None else cat
    schema = pa.schema(
        [
            SNAPSHOT_SCHEMA.field("list"),
            pa.field("date", pa.date32()),
            pa.field("seq", pa.int16()),
            pa.field("sha256", pa.string()),
            pa.field("suspect", pa.bool_()),
            *[f for f in SNAPSHOT_SCHEMA if f.name != "list"],
        ]
    )
    rest = [f.name for f in SNAPSHOT_SCHEMA if f.name != "list"]
    tables = []
    versions = cat.sort_values(["list", "date", "seq"]).itertuples()
    for v in progress.track(versions, "export", total=len(cat)):
        t = store.read_snapshot(v.snapshot)
        n = t.num_rows
        extra = [
            pa.array([v.date] * n, pa.date32()),
            pa.array([v.seq] * n, pa.int16()),
            pa.array([v.sha256] * n, pa.string()),
            pa.array([bool(v.suspect)] * n, pa.bool_()),
        ]
        tables.append(
            pa.Table.from_arrays(
                [t.column("list"), *extra, *[t.column(c) for c in rest]], schema=schema
            )
        )
    return pa.concat_tables(tables) if tables else schema.empty_table()

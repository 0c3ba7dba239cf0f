"""A self-describing export of the whole record: tables plus a Frictionless ``datapackage.json``.

Files (``.csv``, ``.parquet`` or ``.xlsx``, one table per file):

- ``participating_latest`` / ``pending_latest``: the newest non-suspect version of each list;
- ``versions``: every stored version of both lists as one long table, with the version's
  date, order within the day, sha256 and suspect flag on every row;
- ``agreements`` and ``agreement_events``: the agreement history in resolved identities
  (``ice287g.query.identity``);
- ``daily_counts`` and ``daily_counts_by_model``: rows per list per day (the day's last
  version, suspect versions skipped).

``datapackage.json`` follows the Data Package / Table Schema specifications (written by hand,
no library): every file with its format, size, sha256 and every column with its type and
description (taken from ``ice287g.schema`` and the history and diff field lists).
List-valued columns (``flags``, ``columns``) are `;`-joined text in CSV and XLSX, arrays in
Parquet.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from scrapers.discover import DEFAULT_SOURCE

FORMATS = ("csv", "parquet", "xlsx")
MEDIATYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
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


def frictionless_type(arrow_type, fmt: str) -> str:
    """Table Schema type of an Arrow type (list columns: arrays in Parquet, text in CSV)."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    if pa.types.is_list(arrow_type):
        return "array" if fmt == "parquet" else "string"
    return "string"


def flat_lists(table):
    """List columns -> `;`-joined text (for CSV, XLSX and SQLite)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            joined = pc.binary_join(table.column(i), ";")
            table = table.set_column(i, pa.field(field.name, pa.string()), joined)
    return table


def _write(table, path: Path, fmt: str) -> None:
    from ice287g.store.files import atomic_write, parquet_bytes

    if fmt == "parquet":
        atomic_write(path, parquet_bytes(table), sync=False)
    elif fmt == "csv":
        atomic_write(path, csv_bytes(table), sync=False)
    else:
        atomic_write(path, _xlsx_bytes(flat_lists(table)), sync=False)


def csv_bytes(table) -> bytes:
    """The table as UTF-8 CSV with a header row, list columns `;`-joined, timestamps as
    ISO 8601 in UTC (``2025-04-03T18:00:00Z``, the format the datapackage declares)."""
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = flat_lists(table)
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            text = pc.strftime(
                pc.cast(table.column(i), pa.timestamp("s", tz="UTC")), "%Y-%m-%dT%H:%M:%SZ"
            )
            table = table.set_column(i, pa.field(field.name, pa.string()), text)
    buf = io.BytesIO()
    pcsv.write_csv(table, buf)
    return buf.getvalue()


def _xlsx_bytes(table) -> bytes:
    """One sheet `data`, header row first, streamed (openpyxl write-only: flat memory)."""
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    bold = Font(bold=True)
    header = []
    for name in table.column_names:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    ws.freeze_panes = "A2"
    for batch in table.to_batches(max_chunksize=5000):
        columns = [col.to_pylist() for col in batch.columns]
        for row in zip(*columns):
            ws.append([v.replace(tzinfo=None) if getattr(v, "tzinfo", None) else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


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


def _snapshot_descriptions() -> dict[str, str]:
    from ice287g.schema import SNAPSHOT_FIELDS

    return {n: d for n, _, d in SNAPSHOT_FIELDS}


def resource(path: Path, table, descriptions: dict[str, str], title: str, text: str, fmt: str):
    """The Data Package resource of a written table file: format, size, sha256 and every
    column with its Table Schema type and description."""
    import pyarrow as pa

    data = path.read_bytes()
    return {
        "name": path.name.split(".")[0].replace("_", "-"),
        "path": path.name,
        "title": title,
        "description": text,
        "profile": "tabular-data-resource",
        "format": fmt,
        "mediatype": MEDIATYPES[fmt],
        **({"encoding": "utf-8"} if fmt == "csv" else {}),
        "bytes": len(data),
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "schema": {
            "fields": [
                {
                    "name": f.name,
                    "type": frictionless_type(f.type, fmt),
                    **(
                        {"format": "%Y-%m-%dT%H:%M:%S%z"}
                        if pa.types.is_timestamp(f.type) and fmt == "csv"
                        else {}
                    ),
                    "description": descriptions[f.name],
                }
                for f in table.schema
            ]
        },
    }


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
    for v in cat.sort_values(["list", "date", "seq"]).itertuples():
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


def export(directory, format: str = "csv", data_dir=None) -> list[Path]:
    """Write every table and ``datapackage.json`` into `directory`; returns the paths."""

    from ice287g.query.history import AGREEMENT_FIELDS, EVENT_FIELDS
    from ice287g.query.identity import load
    from ice287g.query.versions import QueryError, catalog, counts, store_of, version_on

    if format not in FORMATS:
        raise QueryError(f"unknown export format {format!r}: use {', '.join(FORMATS)}")
    if format == "xlsx":
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise QueryError("xlsx export needs openpyxl (pip install openpyxl)") from None
    store = store_of(data_dir)
    cat = catalog(store)
    if cat.empty:
        raise QueryError(f"no versions in {store.root}: run `ice287g backfill` first")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    described = _snapshot_descriptions()
    resources: list[dict] = []

    def add(name: str, table, descriptions: dict[str, str], title: str, text: str) -> None:
        path = out / f"{name}.{format}"
        _write(table, path, format)
        resources.append(resource(path, table, descriptions, title, text, format))

    # Latest versions (non-suspect).
    for lst in ("participating", "pending"):
        version = version_on(cat, lst, None, include_suspect=False)
        if version is None:
            continue
        table = store.read_snapshot(version["snapshot"])
        add(
            f"{lst}_latest",
            table,
            described,
            f"Latest {lst} list",
            f"ICE's {lst} list as published on {version['date']} (version #{version['seq']} "
            f"of the day, sha256 {version['sha256']}); suspect versions skipped.",
        )
    # Every version, long.
    long = versions_table(store, cat)
    add(
        "versions",
        long,
        {**described, **{n: d for n, _, d in VERSION_COLUMNS}},
        "Every version, one long table",
        f"All {len(cat)} stored versions of both lists ({cat['date'].min()} to "
        f"{cat['date'].max()}), one row per row of each version; suspect versions included "
        "and marked.",
    )
    # History.
    ident = load(store)
    agreements, events = ident.agreements(), ident.events()
    add(
        "agreements",
        table_from_pandas(agreements, AGREEMENT_FIELDS),
        {n: d for n, _, d in AGREEMENT_FIELDS},
        "Agreement history",
        "One record per agreement ever on the participating list, rebuilt from every "
        "non-suspect version, in resolved identities (every spelling and its evidence).",
    )
    add(
        "agreement_events",
        table_from_pandas(events, EVENT_FIELDS),
        {n: d for n, _, d in EVENT_FIELDS},
        "Agreement timeline",
        "The life story of every agreement (listed, renamed, moa_posted, re_signed, "
        "model_added, model_switched, removed, returned, changed) between consecutive "
        "non-suspect versions of each list.",
    )
    # Daily counts.
    daily = counts(data_dir=store)
    add(
        "daily_counts",
        table_from_pandas(daily, COUNT_FIELDS),
        {n: d for n, _, d in COUNT_FIELDS},
        "Daily counts",
        "Rows per list per day (the day's last version; suspect versions skipped).",
    )
    by_model = counts(by=["model"], data_dir=store)
    model_fields = [
        *COUNT_FIELDS[:3],
        ("model", "string", "Support model (empty: not given)"),
        COUNT_FIELDS[3],
    ]
    add(
        "daily_counts_by_model",
        table_from_pandas(by_model, model_fields),
        {n: d for n, _, d in model_fields},
        "Daily counts by model",
        "Rows per list, day and support model (the day's last version; suspect versions skipped).",
    )
    package = {
        "profile": "tabular-data-package",
        "name": "ice-287g-agreements",
        "title": "ICE 287(g) agreements: versioned record",
        "description": "Every version of ICE's lists of law-enforcement agencies with "
        "(participating) or applying for (pending) a 287(g) agreement, "
        "normalized, with the agreement history built from them.",
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "sources": [
            {
                "title": "U.S. Immigration and Customs Enforcement, 287(g) program",
                "path": DEFAULT_SOURCE,
            }
        ],
        "contributors": [{"title": "ice287g", "role": "author"}],
        "resources": resources,
    }
    from ice287g.store.files import atomic_write

    descriptor = out / "datapackage.json"
    atomic_write(
        descriptor,
        (json.dumps(package, indent=2, ensure_ascii=False, default=str) + "\n").encode(),
        sync=False,
    )
    return [out / r["path"] for r in resources] + [descriptor]

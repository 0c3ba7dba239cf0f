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
Parquet (Table Schema type ``any``: frictionless reads them as NumPy arrays). Every resource
carries its sha256, and its size except in Parquet (frictionless cannot count those bytes).
The package carries its license: a U.S. government work, public domain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from ice287g import progress
from parsers.sheet_xml import col_letters
from scrapers.discover import DEFAULT_SOURCE

FORMATS = ("csv", "parquet", "xlsx")
MEDIATYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# ICE's lists are works of the U.S. government: not subject to copyright (17 U.S.C. § 105).
LICENSE = {
    "name": "other-pd",
    "title": "U.S. Government Work: public domain in the United States (17 U.S.C. 105)",
    "path": "https://www.usa.gov/government-works",
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
        # Frictionless reads a Parquet list as a NumPy array, which its `array` type
        # refuses: `any` holds it. CSV and XLSX carry the list as `;`-joined text.
        return "any" if fmt == "parquet" else "string"
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


def _write(table, path: Path, fmt: str, raw: bool = False) -> None:
    """One table as a file. CSV and XLSX text cells are spreadsheet-safe unless `raw`."""
    from ice287g.safetext import spreadsheet_safe_table
    from ice287g.store.files import atomic_write, parquet_bytes

    if fmt == "parquet":
        atomic_write(path, parquet_bytes(table), sync=False)
    elif fmt == "csv":
        atomic_write(path, csv_bytes(table, raw), sync=False)
    else:
        flat = flat_lists(table)
        _write_xlsx(flat if raw else spreadsheet_safe_table(flat), path)


def csv_bytes(table, raw: bool = False) -> bytes:
    """The table as UTF-8 CSV with a header row, list columns `;`-joined, timestamps as
    ISO 8601 in UTC (``2025-04-03T18:00:00Z``, the format the datapackage declares).

    Spreadsheet-safe (``ice287g.safetext``): a text cell a spreadsheet would run as a formula
    gets a leading ``'``, unless `raw`. The one CSV writer of ``export`` and ``publish``."""
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
    if not raw:
        from ice287g.safetext import spreadsheet_safe_table

        table = spreadsheet_safe_table(table)
    buf = io.BytesIO()
    pcsv.write_csv(table, buf)
    return buf.getvalue()


def _write_xlsx(table, path: Path) -> None:
    """One sheet named after the table: a bold, frozen header and typed cells (numbers,
    booleans, dates and UTC times as Excel dates; text stays text, never a formula).

    XlsxWriter writes the workbook (styles, header, frozen pane); the data rows are spliced
    into its sheet as XML built a column at a time with Arrow (``_rows_xml``). A per-cell
    writer (XlsxWriter's constant-memory mode, openpyxl's write-only mode) costs 15-20 µs a
    cell in Python: 78 s for the 4 million cells of ``versions``; this takes a few seconds.
    """
    import os
    import re
    import tempfile
    import zipfile

    import pyarrow as pa
    import xlsxwriter

    fd, skeleton = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with xlsxwriter.Workbook(skeleton, {"strings_to_formulas": False}) as wb:
            ws = wb.add_worksheet(path.stem[:31])
            bold = wb.add_format({"bold": True})
            day = wb.add_format({"num_format": "yyyy-mm-dd"})
            moment = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
            for j, field in enumerate(table.schema):
                ws.write_string(0, j, field.name, bold)
                if pa.types.is_date(field.type):
                    ws.set_column(j, j, 11, day)
                elif pa.types.is_timestamp(field.type):
                    ws.set_column(j, j, 19, moment)
            ws.freeze_panes(1, 0)
        styles = {"date": day.xf_index, "timestamp": moment.xf_index}
        last = f"{col_letters(max(table.num_columns - 1, 0))}{table.num_rows + 1}"
        with (
            zipfile.ZipFile(skeleton) as src,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
        ):
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "xl/worksheets/sheet1.xml":
                    text = data.decode()
                    dimension = f'<dimension ref="A1:{last}"/>'
                    text = re.sub(r'<dimension ref="[^"]*"/>', dimension, text)
                    head, tail = text.split("</sheetData>")
                    with dst.open(info.filename, "w", force_zip64=True) as out:
                        out.write(head.encode())
                        for chunk in _ahead(_rows_xml(table, styles)):
                            out.write(chunk)  # compressed while the next rows are built
                        out.write(("</sheetData>" + tail).encode())
                else:
                    dst.writestr(info.filename, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        Path(skeleton).unlink(missing_ok=True)


def _ahead(chunks):
    """`chunks`, each produced in a worker thread while the caller consumes the one before
    (Arrow compute and zlib both release the GIL: two cores, two stages)."""
    from concurrent.futures import ThreadPoolExecutor

    it = iter(chunks)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(next, it, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, it, None)
            yield chunk


_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"  # not allowed in XML 1.0


def _rows_xml(table, styles: dict[str, int]):
    """The ``<row>`` elements of `table` (from row 2, after the header), as UTF-8 chunks.

    Each column becomes an array of ``<c>`` elements in one pass of Arrow compute; a missing
    value is no element at all (every cell carries its reference, so none shifts)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    letters = [col_letters(j) for j in range(table.num_columns)]
    first = 2
    for batch in _batches(table, 20_000):
        n = batch.num_rows
        rownum = pa.array(range(first, first + n), pa.int64()).cast(pa.string())
        cells = []
        for letter, column in zip(letters, batch.columns):
            cells.append(_cells(column, letter, rownum, styles, pa, pc))
        rows = pc.binary_join_element_wise(
            '<row r="', rownum, '">', *cells, "</row>", "", null_handling="replace"
        )
        # The rows are one run of UTF-8 in the array's data buffer: written as they lie.
        offsets = np.frombuffer(rows.buffers()[1], np.int32)[rows.offset : rows.offset + n + 1]
        yield memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]
        first += n


def _batches(table, rows: int):
    """`table` in record batches of about `rows` rows (small chunks, one per version in
    ``versions``, put together: Arrow's cost is per call, not per row)."""
    import pyarrow as pa

    group, size = [], 0
    for batch in table.to_batches():
        group.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield pa.Table.from_batches(group).combine_chunks().to_batches()[0]
            group, size = [], 0
    if group:
        yield pa.Table.from_batches(group).combine_chunks().to_batches()[0]


def _cells(column, letter: str, rownum, styles, pa, pc):
    """One column as ``<c>`` elements (null where the value is missing)."""
    t = column.type
    ref = ('<c r="' + letter, rownum)
    if pa.types.is_boolean(t):
        value = pc.if_else(column, "1", "0")
        return pc.binary_join_element_wise(*ref, '" t="b"><v>', value, "</v></c>", "")
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        value = column.cast(pa.string())
        return pc.binary_join_element_wise(*ref, '"><v>', value, "</v></c>", "")
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        if pa.types.is_date(t):  # Excel's serial day: days since 1899-12-30
            serial = pc.add(column.cast(pa.date32()).cast(pa.int32()), 25569).cast(pa.string())
            style = styles["date"]
        else:
            seconds = column.cast(pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64())
            serial = pc.add(pc.divide(seconds.cast(pa.float64()), 86400.0), 25569.0)
            serial = serial.cast(pa.string())
            style = styles["timestamp"]
        return pc.binary_join_element_wise(*ref, f'" s="{style}"><v>', serial, "</v></c>", "")
    # Escaped once per distinct value: a long table repeats its values many times over.
    encoded = pc.dictionary_encode(column.cast(pa.string()))
    text = pc.replace_substring_regex(encoded.dictionary, _XML_ILLEGAL, "")
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, old, new)
    text = pc.take(text, encoded.indices)
    return pc.binary_join_element_wise(
        *ref, '" t="inlineStr"><is><t xml:space="preserve">', text, "</t></is></c>", ""
    )


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
        # Frictionless reads Parquet with pyarrow, past its byte counter: a `bytes` there
        # always fails validation, so a Parquet file carries only its hash.
        **({} if fmt == "parquet" else {"bytes": len(data)}),
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


def export(directory, format: str = "csv", data_dir=None, raw: bool = False) -> list[Path]:
    """Write every table and ``datapackage.json`` into `directory`; returns the paths.

    CSV and XLSX text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR first) get a leading ``'``; `raw` writes the exact text instead (XLSX
    cells are text cells either way, never formulas)."""

    from ice287g.query.history import AGREEMENT_FIELDS, EVENT_FIELDS
    from ice287g.query.identity import load
    from ice287g.query.versions import QueryError, catalog, counts, store_of, version_on

    if format not in FORMATS:
        raise QueryError(f"unknown export format {format!r}: use {', '.join(FORMATS)}")
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
        _write(table, path, format, raw)
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
        "licenses": [LICENSE],
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

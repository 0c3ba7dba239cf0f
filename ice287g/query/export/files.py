"""One table as one file: CSV, Parquet or XLSX (list columns `;`-joined outside Parquet)."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("csv", "parquet", "xlsx")
MEDIATYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def flat_lists(table):
    """List columns -> `;`-joined text (for CSV, XLSX and SQLite)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            joined = pc.binary_join(table.column(i), ";")
            table = table.set_column(i, pa.field(field.name, pa.string()), joined)
    return table


def write_table(table, path: Path, fmt: str, raw: bool = False) -> None:
    """One table as a file. CSV and XLSX text cells are spreadsheet-safe unless `raw`."""
    from ice287g.store.files import atomic_write, parquet_bytes

    if fmt == "parquet":
        atomic_write(path, parquet_bytes(table), sync=False)
    elif fmt == "csv":
        atomic_write(path, csv_bytes(table, raw), sync=False)
    else:
        from ice287g.query.export.xlsx import write_xlsx

        write_xlsx(flat_lists(table), path, raw)


def csv_bytes(table, raw: bool = False, header: bool = True) -> bytes:
    """The table as UTF-8 CSV with a header row, list columns `;`-joined, timestamps as
    ISO 8601 in UTC (``2025-04-03T18:00:00Z``, the format the datapackage declares).
    Without `header`, the rows only (a part of a longer CSV).

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
    pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=header))
    return buf.getvalue()

"""The XLSX writer of `ice287g export` before issue 13, kept as the baseline of the export
phase: openpyxl's write-only mode, one Python call per cell (commit affe323^,
``ice287g/query/export.py:_xlsx_bytes``). `install()` puts it in place of the current writer
for one process, so both run the same export around it (same tables, same safe text)."""

from __future__ import annotations

from pathlib import Path


def write_xlsx(table, path: Path, raw: bool = False) -> None:
    """One sheet, header row first, streamed (openpyxl write-only: flat memory)."""
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from ice287g.safetext import spreadsheet_safe_table
    from ice287g.store.files import atomic_write

    table = table if raw else spreadsheet_safe_table(table)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(path.stem[:31])
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
    atomic_write(path, buf.getvalue(), sync=False)


def install() -> None:
    """The export of this process writes XLSX with the writer above."""
    from ice287g.query.export import xlsx

    xlsx.write_xlsx = write_xlsx

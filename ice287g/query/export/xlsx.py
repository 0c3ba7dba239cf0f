"""An Arrow table as a one-sheet XLSX workbook, written at the speed of Arrow compute.

One sheet named after the file: a bold, frozen header and typed cells (numbers, booleans,
dates and UTC times as Excel dates with a date format; text stays text, never a formula).

XlsxWriter writes the workbook around the data (styles, header, frozen pane, column formats);
the data rows are spliced into its sheet as XML built a column at a time with Arrow. A
per-cell writer (XlsxWriter's constant-memory mode, openpyxl's write-only mode) costs 15-20 µs
a cell in Python: 78 s for the 4.8 million cells of the corpus's ``versions``; this takes
about two seconds. Text goes into the workbook's shared-string table, each distinct value
once (``versions`` repeats its ten thousand distinct values half a million times), and cells
carry no reference (optional in SpreadsheetML): the sheet's XML is a third of its size with
inline strings and references, and so, roughly, is the time to compress it (``versions.xlsx``:
8 MB).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ice287g.safetext import spreadsheet_safe_array
from ice287g.store.files import atomic_file
from parsers.sheet_xml import col_letters

_SHEET = "xl/worksheets/sheet1.xml"
_STRINGS = "xl/sharedStrings.xml"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"  # not allowed in XML 1.0
_BATCH_ROWS = 20_000


def write_xlsx(table, path: Path, raw: bool = False) -> None:
    """`table` (no list columns: ``flat_lists`` first) as the workbook `path`, atomically.

    Text is spreadsheet-safe (``ice287g.safetext``: made safe once per distinct value) unless
    `raw`; either way a text cell is a string cell, never a formula."""
    import io

    import pyarrow as pa
    import xlsxwriter

    table = _typed(table)
    skeleton = io.BytesIO()
    with xlsxwriter.Workbook(skeleton, {"in_memory": True, "strings_to_formulas": False}) as wb:
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
        atomic_file(path) as tmp,
        zipfile.ZipFile(skeleton) as src,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
    ):
        header = _read_strings(src.read(_STRINGS))
        strings, coded, texts = _shared_strings(table, header)
        if not raw:
            strings = spreadsheet_safe_array(strings)
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == _STRINGS:
                dst.writestr(info.filename, _strings_xml(strings, coded, texts, len(header)))
            elif info.filename == _SHEET:
                dimension = f'<dimension ref="A1:{last}"/>'
                text = re.sub(r'<dimension ref="[^"]*"/>', dimension, data.decode())
                head, tail = text.split("</sheetData>")
                with dst.open(info.filename, "w", force_zip64=True) as out:
                    out.write(head.encode())
                    for chunk in _ahead(_rows_xml(coded, texts, styles)):
                        out.write(chunk)  # compressed while the next rows are built
                    out.write(("</sheetData>" + tail).encode())
            else:
                dst.writestr(info, data)


def _typed(table):
    """Columns an XLSX cell can type (booleans, numbers, dates, times) kept; any other as text."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        t = field.type
        if not (
            pa.types.is_boolean(t)
            or pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_date(t)
            or pa.types.is_timestamp(t)
            or pa.types.is_string(t)
        ):
            table = table.set_column(
                i, pa.field(field.name, pa.string()), table.column(i).cast(pa.string())
            )
    return table


def _read_strings(xml: bytes) -> list[str]:
    """The shared strings of a workbook (XlsxWriter's: the header names, in their indices)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(xml)
    return ["".join(si.itertext()) for si in root.iter(f"{{{_MAIN_NS}}}si")]


def _shared_strings(table, header: list[str]):
    """(every distinct text of `table` after the `header` strings, `table` with each text
    column replaced by its index into them, the positions of those columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [i for i, f in enumerate(table.schema) if pa.types.is_string(f.type)]
    parts = [pa.array(header, pa.string())]
    parts += [pc.drop_null(pc.unique(table.column(i))) for i in texts]
    strings = pc.unique(pa.concat_arrays(parts))  # first occurrence kept: the header stays put
    for i in texts:
        index = pc.index_in(table.column(i), value_set=strings)
        table = table.set_column(i, pa.field(table.field(i).name, pa.int32()), index)
    return strings, table, set(texts)


def _strings_xml(strings, table, texts: set[int], header_cells: int) -> bytes:
    """The workbook's shared-string part: `strings`, escaped, with the count of cells using them."""
    import pyarrow.compute as pc

    text = pc.replace_substring_regex(strings, _XML_ILLEGAL, "")
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, old, new)
    cells = header_cells + sum(len(table.column(i)) - table.column(i).null_count for i in texts)
    items = "".join(f'<si><t xml:space="preserve">{t}</t></si>' for t in text.to_pylist())
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<sst xmlns="{_MAIN_NS}" count="{cells}" uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()


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


def _rows_xml(table, texts: set[int], styles: dict[str, int]):
    """The ``<row>`` elements of `table` (from row 2, after the header), as UTF-8 chunks.

    Each column becomes an array of ``<c>`` elements in one pass of Arrow compute. A cell's
    reference (``r``) is optional in SpreadsheetML: cells take their columns in order, so a
    missing value is an empty ``<c/>`` (a third less XML to compress than with references)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    first = 2
    for batch in _batches(table, _BATCH_ROWS):
        n = batch.num_rows
        rownum = pa.array(range(first, first + n), pa.int64()).cast(pa.string())
        cells = [_cells(c, j in texts, styles, pa, pc) for j, c in enumerate(batch.columns)]
        rows = pc.binary_join_element_wise(
            '<row r="',
            rownum,
            '">',
            *cells,
            "</row>",
            "",
            null_handling="replace",
            null_replacement="<c/>",
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


def _cells(column, text: bool, styles, pa, pc):
    """One column as ``<c>`` elements (null where the value is missing); a `text` column
    holds indices into the shared strings."""
    t = column.type
    if text:
        value = column.cast(pa.string())
        return pc.binary_join_element_wise('<c t="s"><v>', value, "</v></c>", "")
    if pa.types.is_boolean(t):
        value = pc.if_else(column, "1", "0")
        return pc.binary_join_element_wise('<c t="b"><v>', value, "</v></c>", "")
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        value = column.cast(pa.string())
        return pc.binary_join_element_wise("<c><v>", value, "</v></c>", "")
    if pa.types.is_date(t):  # Excel's serial day: days since 1899-12-30
        serial = pc.add(column.cast(pa.date32()).cast(pa.int32()), 25569).cast(pa.string())
        style = styles["date"]
    else:
        seconds = column.cast(pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64())
        serial = pc.add(pc.divide(seconds.cast(pa.float64()), 86400.0), 25569.0)
        serial = serial.cast(pa.string())
        style = styles["timestamp"]
    return pc.binary_join_element_wise(f'<c s="{style}"><v>', serial, "</v></c>", "")

"""Small real .xlsx workbooks shaped like ICE's, built in memory with openpyxl."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

from openpyxl import Workbook

PARTICIPATING_HEADER = [
    "STATE",
    "LAW ENFORCEMENT AGENCY",
    "TYPE",
    "COUNTY",
    "SUPPORT TYPE",
    "SIGNED",
    "MOA",
    "ADDENDUM",
]
PENDING_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"]


def build_workbook(
    header: list,
    rows: list[list],
    *,
    links: dict | None = None,
    hidden: tuple[int, ...] = (),
    sheet: str = "Sheet1",
    saved: datetime | None = datetime(2025, 4, 3, 18, 0),
    extra_sheets: tuple[str, ...] = (),
    header_row: int = 1,
) -> bytes:
    """A small real .xlsx: `links` maps (row_index, column_name) -> hyperlink target.

    row_index counts data rows from 0. Values starting with '#' that are Excel error codes are
    written as error cells (openpyxl does that for '#N/A', '#REF!', ...). `saved` becomes the
    docProps/core.xml modified time (None: no time).
    """
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for name in extra_sheets:
        wb.create_sheet(name, 0)
    for _ in range(header_row - 1):
        ws.append([])
    ws.append(header)
    for r in rows:
        ws.append(r)
    for (index, column), target in (links or {}).items():
        col = header.index(column) + 1
        ws.cell(row=header_row + 1 + index, column=col).hyperlink = target
    for index in hidden:
        ws.row_dimensions[header_row + 1 + index].hidden = True
    buf = io.BytesIO()
    wb.save(buf)
    return _set_modified(buf.getvalue(), saved)


def _set_modified(data: bytes, saved: datetime | None) -> bytes:
    """openpyxl stamps the save time; put `saved` (or nothing) in docProps/core.xml instead."""
    value = (
        b""
        if saved is None
        else (
            b'<dcterms:modified xsi:type="dcterms:W3CDTF">'
            + saved.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            + b"</dcterms:modified>"
        )
    )
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", value, body)
            dst.writestr(info, body)
    return out.getvalue()


def participating_row(
    state="TEXAS",
    agency="Harris County Sheriff's Office",
    typ="County",
    county="Harris County",
    model="Task Force Model",
    signed=datetime(2025, 3, 1),
    moa="link",
    addendum=None,
) -> list:
    return [state, agency, typ, county, model, signed, moa, addendum]

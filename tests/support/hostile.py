"""Hostile workbooks, generated (never stored): what an attacker or a broken export could serve.

Each function returns the bytes of one .xlsx built with openpyxl and then, where openpyxl
cannot express the fault, edited at the zip level. Used by tests/test_faults_store.py and by
`make bench` (the hyperlink-range file), so it imports nothing from the tests' conftest.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from datetime import datetime

from parsers.lists import LAYOUTS

# ICE's participating layout since July 2025, from the layout table (one copy of it).
HEADER = list(next(lay.columns for lay in LAYOUTS if lay.name == "participating-2025-07"))


def workbook(rows: list[list], links: dict[int, str] | None = None, header=HEADER) -> bytes:
    """A participating workbook; `links` maps a data row index to the MOA cell's link."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(header)
    for row in rows:
        ws.append(row)
    for line in ws.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a text cell
    for index, target in (links or {}).items():
        ws.cell(row=2 + index, column=header.index("MOA") + 1).hyperlink = target
    buf = io.BytesIO()
    wb.save(buf)
    return edit_members(buf.getvalue(), _saved_2025)


def _saved_2025(name: str, body: bytes) -> bytes:
    """openpyxl stamps today as the save time; without one, the file name dates the file."""
    if name != "docProps/core.xml":
        return body
    return re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b"", body)


def row(i: int = 0, **over) -> list:
    values = {
        "state": "TEXAS",
        "agency": f"Agency {i} Sheriff's Office",
        "type": "County",
        "county": "Harris County",
        "model": "Task Force Model",
        "signed": datetime(2025, 3, 1),
        "moa": "link",
        "addendum": None,
    }
    values.update(over)
    return list(values.values())


def good(n: int = 3, agency: str = "Agency") -> bytes:
    return workbook([row(i, agency=f"{agency} {i}") for i in range(n)])


def edit_members(data: bytes, edit) -> bytes:
    """Rewrite a zip, passing each member's (name, bytes) through `edit` -> bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def signed_past_9999() -> bytes:
    """A SIGNED cell holding a date serial past year 9999 (formatted as a date)."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(good(2)))
    ws = wb.active
    ws.cell(row=2, column=6).value = 3_000_000
    ws.cell(row=2, column=6).number_format = "mm/dd/yyyy"
    buf = io.BytesIO()
    wb.save(buf)
    return edit_members(buf.getvalue(), _saved_2025)


def encrypted_members() -> bytes:
    """Every zip member marked password-encrypted (general-purpose flag bit 0)."""
    data = bytearray(good(2))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos >= 0:
            (flags,) = struct.unpack_from("<H", data, pos + flag_at)
            struct.pack_into("<H", data, pos + flag_at, flags | 1)
            pos = data.find(sig, pos + 4)
    return bytes(data)


def bad_utf8_link() -> bytes:
    """A hyperlink target that is not UTF-8."""
    data = workbook([row(0), row(1)], links={0: "https://www.ice.gov/doclib/moa.pdf"})
    return edit_members(
        data,
        lambda name, body: (
            body.replace(b"moa.pdf", b"mo\xff\xfe.pdf") if "_rels/sheet" in name else body
        ),
    )


def bad_utf8_core() -> bytes:
    """docProps/core.xml whose last-saved time is not UTF-8."""

    def edit(name, body):
        if name != "docProps/core.xml":
            return body
        stamp = b'<dcterms:modified xsi:type="dcterms:W3CDTF">2025-04-03T18:00:00\xff'
        return body.replace(
            b"</cp:coreProperties>", stamp + b"</dcterms:modified></cp:coreProperties>"
        )

    return edit_members(good(2), edit)


def hyperlink_ranges(rows: int = 20, links: int = 200, last_row: int = 99_999) -> bytes:
    """A small workbook whose hyperlinks each cover a column range down to `last_row`
    (distinct ranges, so nothing can share one expansion)."""
    data = workbook([row(i) for i in range(rows)], links={0: "https://www.ice.gov/a.pdf"})

    def edit(name, body):
        if name == "xl/worksheets/sheet1.xml":
            refs = "".join(
                f'<hyperlink ref="G{1 + i}:G{last_row}" r:id="rId1"/>' for i in range(links)
            )
            return re.sub(
                rb"<hyperlinks>.*</hyperlinks>",
                f"<hyperlinks>{refs}</hyperlinks>".encode(),
                body,
                flags=re.S,
            )
        return body

    return edit_members(data, edit)


def with_controls(agency: str = "Bad NULMARK Office") -> bytes:
    """Text cells holding what openpyxl refuses to write: ``NULMARK`` becomes a NUL (Excel's
    ``_x0000_`` escape in the shared strings)."""

    def edit(name, body):
        return body.replace(b"NULMARK", b"_x0000_") if name.startswith("xl/") else body

    return edit_members(workbook([row(0, agency=agency), row(1)]), edit)


def saved_at(stamp: bytes) -> bytes:
    """docProps/core.xml claiming this last-saved time (e.g. the edge of year 1)."""

    def edit(name, body):
        if name != "docProps/core.xml":
            return body
        modified = b'<dcterms:modified xsi:type="dcterms:W3CDTF">' + stamp + b"</dcterms:modified>"
        return body.replace(b"</cp:coreProperties>", modified + b"</cp:coreProperties>")

    return edit_members(good(2), edit)

"""Byte scans of a sheet's XML for what calamine does not expose: hyperlink targets, Excel error
cells, hidden rows. Each is a small, well-delimited part of the file, so plain scans are cheap."""

from __future__ import annotations

import functools
import html
import re
import zipfile
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

_HYPERLINK = re.compile(rb"<hyperlink\b([^>]*)>")
_RELATIONSHIP = re.compile(rb"<Relationship\b([^>]*)>")
# Excel writes attributes in this order; the generic patterns above catch any other writer.
_LINK_FAST = re.compile(rb"<hyperlink ref=\"([^\"]*)\" r:id=\"([^\"]*)\"")
_REL_FAST = re.compile(rb"<Relationship Id=\"([^\"]*)\" Type=\"[^\"]*\" Target=\"([^\"]*)\"")
_ATTR = re.compile(rb"([\w:]+)=\"([^\"]*)\"")
_A1 = re.compile(r"\$?([A-Z]+)\$?(\d+)")
_ERROR_FAST = re.compile(rb"<c r=\"([A-Z]+)(\d+)\"(?: s=\"\d+\")? t=\"e\"><v>([^<]*)</v>")
_CELL_REF = re.compile(rb"\br=\"([A-Z]+)(\d+)\"")
_CELL_VALUE = re.compile(rb"<v>([^<]*)</v>")
_ROW_NUMBER = re.compile(rb"\br=\"(\d+)\"")
_ROW_REF = re.compile(rb"<(?:c|row)\b[^>]*?\br=\"[A-Z]{0,12}(\d{1,12})\"")
_COL_REF = re.compile(rb"<c\b[^>]*?\br=\"([A-Z]{1,12})")


class SheetXmlError(ValueError):
    """A part of the sheet XML that cannot be read (the caller names the file)."""


def hyperlinks(
    zf: zipfile.ZipFile,
    sheet_path: str,
    xml: bytes,
    rows: Iterable[int],
    cols: Iterable[int],
) -> dict[int, dict[int, str]]:
    """row -> col -> external hyperlink target, for the cells at `rows` x `cols` only.

    A hyperlink may cover a range (``G2:G99999``); it is expanded only over the wanted rows
    and columns (the rows that hold data, the link columns), so a small file whose links
    claim huge ranges costs no more than one whose links cover single cells.
    """
    start = xml.find(b"<hyperlinks")
    if start < 0:
        return {}
    end = xml.find(b"</hyperlinks>", start)
    section = xml[start : end if end >= 0 else len(xml)]
    folder, file = sheet_path.rsplit("/", 1)
    rels_path = f"{folder}/_rels/{file}.rels"
    rels = zf.read(rels_path) if rels_path in zf.namelist() else b""
    targets = {
        rid: _unescape(t)
        for rid, t in _pairs(rels, _REL_FAST, _RELATIONSHIP, b"<Relationship ", b"Id", b"Target")
    }
    wanted_rows = sorted(set(rows))
    wanted_cols = sorted(set(cols))
    out: dict[int, dict[int, str]] = {}
    for ref, rid in _pairs(section, _LINK_FAST, _HYPERLINK, b"<hyperlink ", b"ref", b"r:id"):
        target = targets.get(rid)
        box = _parse_ref(ref) if target else None
        if box is None:
            continue
        r1, c1, r2, c2 = box
        cols_in = [c for c in wanted_cols if c1 <= c <= c2]
        if not cols_in:
            continue
        for row in wanted_rows[bisect_left(wanted_rows, r1) : bisect_right(wanted_rows, r2)]:
            cells = out.setdefault(row, {})
            for col in cols_in:
                cells[col] = target
    return out


def _unescape(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SheetXmlError(f"a hyperlink target is not valid UTF-8 ({raw[:60]!r})") from None
    return html.unescape(text) if "&" in text else text


def _pairs(
    xml: bytes, fast: re.Pattern, tag: re.Pattern, opening: bytes, first: bytes, second: bytes
):
    """(first, second) attribute values of every tag; a fixed-order regex when it fits all."""
    found = fast.findall(xml)
    if len(found) == xml.count(opening):
        return found
    pairs = []
    for match in tag.finditer(xml):
        attrs = dict(_ATTR.findall(match.group(1)))
        if first in attrs and second in attrs:
            pairs.append((attrs[first], attrs[second]))
    return pairs


def extent(xml: bytes) -> tuple[int, int]:
    """(rows, columns) of the grid the sheet's cell and row references span.

    A reader that builds a dense grid (calamine does) allocates rows x columns cells, so one
    cell at ``ZZ500000`` in a 5 KB file is a 350-million-cell grid: callers check this first.
    """
    rows = max(map(int, set(_ROW_REF.findall(xml))), default=0)
    cols = max((_col_index(c.decode()) + 1 for c in set(_COL_REF.findall(xml))), default=0)
    return rows, cols


def error_cells(xml: bytes) -> dict[int, dict[int, str]]:
    """row -> col -> Excel error text (#N/A, #REF!, ...)."""
    out: dict[int, dict[int, str]] = {}
    found = _ERROR_FAST.findall(xml)
    if len(found) == xml.count(b' t="e"'):  # Excel's own attribute order: one regex pass
        for col, row, text in found:
            out.setdefault(int(row), {})[_col_index(col.decode())] = text.decode()
        return out
    for start, tag_end in _tags_with(xml, b' t="e"', b"<c "):
        ref = _CELL_REF.search(xml, start, tag_end)
        if not ref:
            continue
        close = xml.find(b"</c>", tag_end)
        value = _CELL_VALUE.search(xml, tag_end, close if close >= 0 else len(xml))
        out.setdefault(int(ref.group(2)), {})[_col_index(ref.group(1).decode())] = (
            value.group(1).decode() if value else "#ERROR"
        )
    return out


def hidden_rows(xml: bytes) -> set[int]:
    rows = set()
    for marker in (b' hidden="1"', b' hidden="true"'):
        for start, tag_end in _tags_with(xml, marker, b"<row "):
            number = _ROW_NUMBER.search(xml, start, tag_end)
            if number:
                rows.add(int(number.group(1)))
    return rows


def _tags_with(xml: bytes, marker: bytes, opening: bytes):
    """(start, end) of each tag opening with `opening` whose attributes contain `marker`.

    A plain substring scan: the markers are rare, so this beats a regex over every cell.
    """
    pos = xml.find(marker)
    while pos >= 0:
        start = xml.rfind(b"<", 0, pos)
        tag_end = xml.find(b">", pos)
        if start >= 0 and tag_end >= 0 and xml.startswith(opening, start):
            yield start, tag_end
        pos = xml.find(marker, pos + len(marker))


@functools.lru_cache(maxsize=65536)
def _parse_ref(ref: bytes) -> tuple[int, int, int, int] | None:
    """``B7`` or ``B7:C9`` -> (first row, first col, last row, last col); None if malformed."""
    cells = []
    for part in ref.decode("ascii", "replace").split(":"):
        m = _A1.fullmatch(part.strip())
        if not m:
            return None
        cells.append((int(m.group(2)), _col_index(m.group(1))))
    if len(cells) == 1:
        cells.append(cells[0])
    if len(cells) != 2:
        return None
    (r1, c1), (r2, c2) = cells
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


@functools.cache
def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def col_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters

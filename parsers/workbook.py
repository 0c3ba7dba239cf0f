"""ICE 287(g) workbook bytes -> raw rows, mapped by header name.

Cell values come from python-calamine (a maintained Rust reader, ~14x faster than
openpyxl on these files). Calamine does not expose three things ICE's files depend on, so
they are read from the sheet XML directly, which is cheap because each is a small,
well-delimited part of the file (``sheet_xml.py``):

- hyperlink targets (the MOA URL lives in the link, the cell text just says "link");
- which cells are Excel error values (``#N/A`` is "unknown", not a county);
- which rows a saved filter hides (they are still data).

Nothing here normalizes: values come out exactly as typed, and ``ice287g.normalize`` turns
them into clean fields. Which list the sheet is comes from ``parsers.lists`` (content, name
and link, weighted). No network, no disk writes.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from python_calamine import CalamineWorkbook

from parsers import lists
from parsers.sheet_xml import (
    SheetXmlError,
    col_letters,
    error_cells,
    extent,
    hidden_rows,
    hyperlinks,
)
from parsers.sniff import ZIP_MAGIC, looks_like_html

# Header text (upper case, single spaces) -> field name. Extend here when ICE renames a column.
HEADER_ALIASES: dict[str, str] = {
    "STATE": "state",
    "LAW ENFORCEMENT AGENCY": "agency",
    "AGENCY": "agency",
    "AGENCY NAME": "agency",
    "TYPE": "agency_type",
    "AGENCY TYPE": "agency_type",
    "COUNTY": "county",
    "SUPPORT TYPE": "model",
    "SUPPORT MODEL": "model",
    "MODEL": "model",
    "SIGNED": "signed",
    "DATE SIGNED": "signed",
    "SIGNED DATE": "signed",
    "MOA": "moa",
    "ADDENDUM": "addendum",
}
# Without these a row of text is not the header of an ICE list.
REQUIRED_FIELDS = ("state", "agency", "model")
LINK_FIELDS = ("moa", "addendum")
ALL_FIELDS = tuple(dict.fromkeys(HEADER_ALIASES.values()))
HEADER_SEARCH_ROWS = 10

# Guards against zip bombs: ICE's real files unpack to < 2 MB.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 300
# The reader builds a dense grid of every sheet: rows x columns its cells span.
MAX_SHEET_CELLS = 2_000_000

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]+)</dcterms:modified>")
# What reading a damaged zip member can raise (bad CRC, bad deflate data, cut short, an
# unsupported compression method).
_MEMBER_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError)


class WorkbookError(ValueError):
    """A file that cannot become a snapshot; the message names the file and the problem."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass
class Header:
    """Where a sheet's header is and what its columns are."""

    index: int  # row index of the header in the sheet's cells
    fields: dict[str, int]  # field -> column index
    extra: dict[int, str]  # column index -> name of a column this version does not know
    cells: list[str]  # header cells as typed, trailing empties dropped


@dataclass
class ParsedWorkbook:
    """The data rows of one workbook, column by column (rows with nothing in them dropped)."""

    name: str
    list: str  # "participating" | "pending", decided by parsers.lists
    sheet: str
    headers: list[str]  # header cells as typed, trailing empties dropped
    fields: dict[str, int]  # field -> column index in the sheet
    row_numbers: list[int]  # Excel row number of each data row
    columns: dict[str, list]  # field -> cell values (every known field, None if absent)
    links: dict[str, list]  # link field -> hyperlink target or None, per row
    errors: dict[str, dict[int, str]]  # field -> {row index: Excel error text}
    hidden: list[bool]  # row hidden by a saved filter
    extra: list[dict | None]  # values under unknown columns, per row
    saved_at: datetime | None  # docProps/core.xml last-saved time, UTC
    flags: list[str] = field(default_factory=list)  # header_only, new_layout, list_conflict:...
    layout: str | None = None  # name of the known layout (parsers.lists.LAYOUTS), None if new
    list_evidence: list[str] = field(default_factory=list)  # signals that decided the list

    def __len__(self) -> int:
        return len(self.row_numbers)


def read_workbook(
    data: bytes, name: str, link_text: str | None = None, url: str | None = None
) -> ParsedWorkbook:
    """Parse one ICE workbook. Raises WorkbookError for anything that is not one.

    `link_text` and `url` are the page link it was downloaded from, if any: evidence, with
    the name and the columns, of which list it is.
    """
    return decide_list(read_rows(data, name), link_text, url)


def read_rows(data: bytes, name: str) -> ParsedWorkbook:
    """The rows of the first sheet with an ICE header, their list not yet decided
    (:func:`decide_list`). Apart from `name` (the file's, in the result and in errors) a pure
    function of the bytes. Raises WorkbookError for anything that is not an ICE workbook."""
    zf = _open_zip(data, name)
    saved_at = _saved_at(zf, name)
    sheets = _sheet_paths(zf)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for broken files
        raise WorkbookError(name, f"not a readable xlsx workbook ({exc})") from None
    for sheet_name in book.sheet_names:
        sheet_path = sheets.get(sheet_name)
        xml = _read_member(zf, sheet_path, name)
        rows, cols = extent(xml)
        if rows * cols > MAX_SHEET_CELLS:
            raise WorkbookError(
                name,
                f"sheet {sheet_name!r} spans {rows} rows x {cols} columns, past the "
                f"{MAX_SHEET_CELLS}-cell limit (ICE's lists are about 2,000 x 10)",
            )
        try:
            cells = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise WorkbookError(name, f"sheet {sheet_name!r} cannot be read ({exc})") from None
        header = _find_header(cells)
        if header is not None:
            return _build(name, sheet_name, cells, header, zf, sheet_path, xml, saved_at)
    raise WorkbookError(
        name,
        "no recognizable header (need columns like STATE, LAW ENFORCEMENT AGENCY and "
        f"SUPPORT TYPE in the first {HEADER_SEARCH_ROWS} rows of a sheet)",
    )


def _build(
    name, sheet_name, cells, header: Header, zf, sheet_path, xml, saved_at
) -> ParsedWorkbook:
    """Data rows under `header`, column by column, with links, errors and hidden rows."""
    header_index, fields, extra_cols = header.index, header.fields, header.extra
    errors = error_cells(xml) if xml else {}
    hidden = hidden_rows(xml) if xml else set()
    lines = cells[header_index + 1 :]
    first_row = header_index + 2  # Excel number of lines[0]

    def column(col: int) -> list:
        return [line[col] if col < len(line) else None for line in lines]

    raw_cols = {f: column(c) for f, c in fields.items()}
    extra_raw = {name_: column(c) for c, name_ in extra_cols.items()}
    error_rows = {
        r - first_row for r, cols in errors.items() if any(c in fields.values() for c in cols)
    }
    # State and agency come first, so `any` stops at the first column on nearly every row.
    ordered = [raw_cols[f] for f in ("state", "agency") if f in raw_cols]
    ordered += [c for f, c in raw_cols.items() if f not in ("state", "agency")]
    ordered += list(extra_raw.values())
    keep = [
        i
        for i, values in enumerate(zip(*ordered))
        if any(map(_has_value, values)) or i in error_rows
    ]

    columns = {
        f: ([raw_cols[f][i] for i in keep] if f in raw_cols else [None] * len(keep))
        for f in ALL_FIELDS
    }
    row_numbers = [first_row + i for i in keep]
    link_fields = [fields[f] for f in LINK_FIELDS if f in fields]
    try:
        links = hyperlinks(zf, sheet_path, xml, row_numbers, link_fields) if xml else {}
    except SheetXmlError as exc:
        raise WorkbookError(name, f"sheet {sheet_name!r}: {exc}") from None
    except _MEMBER_ERRORS as exc:
        raise WorkbookError(name, f"truncated or corrupt xlsx ({exc})") from None
    link_cols = {}
    for f in LINK_FIELDS:
        col = fields.get(f)
        link_cols[f] = (
            [links.get(r, {}).get(col) for r in row_numbers]
            if col is not None
            else [None] * len(keep)
        )
    index_of = {r: i for i, r in enumerate(row_numbers)}
    err: dict[str, dict[int, str]] = {}
    for f, col in fields.items():
        for r, cols in errors.items():
            if col in cols and r in index_of:
                err.setdefault(f, {})[index_of[r]] = cols[col]
    extra = [None] * len(keep)
    for name_, values in extra_raw.items():
        for j, i in enumerate(keep):
            if _has_value(values[i]):
                extra[j] = {**(extra[j] or {}), name_: values[i]}
    flags = []
    if not keep:
        flags.append("header_only")
    if extra_cols:
        flags.append("unknown_columns")
    return ParsedWorkbook(
        name,
        "",  # decided by decide_list
        sheet_name,
        header.cells,
        fields,
        row_numbers,
        columns,
        link_cols,
        err,
        [r in hidden for r in row_numbers],
        extra,
        saved_at,
        flags,
    )


def decide_list(
    parsed: ParsedWorkbook, link_text: str | None = None, url: str | None = None
) -> ParsedWorkbook:
    """Set the list of :func:`read_rows`'s result from its content, name and the page link
    it came from (`link_text`, `url`); flag a new layout and disagreements. Returns it."""
    keys = [header_key(h) for h in parsed.headers if h.strip()]
    layout, votes = lists.content_votes(
        keys, set(parsed.fields), parsed.columns["signed"], parsed.links["moa"]
    )
    votes.update(lists.name_votes(parsed.name, link_text, url))
    decision = lists.decide(votes)
    parsed.list = decision.list
    parsed.list_evidence = list(decision.evidence)
    parsed.layout = layout.name if layout else None
    if layout is None:
        parsed.flags.append("new_layout")
    if decision.dissent:
        parsed.flags.append("list_conflict:" + ",".join(decision.dissent))
    return parsed


def _has_value(value: object) -> bool:
    if value is None or value == "":
        return False
    return not (value.__class__ is str and value.isspace())


def header_key(text: object) -> str:
    """Header cell -> lookup key: upper case, single spaces, no NBSP."""
    return " ".join(str(text).replace("\xa0", " ").split()).upper()


def _find_header(cells) -> Header | None:
    for index, line in enumerate(cells[:HEADER_SEARCH_ROWS]):
        fields: dict[str, int] = {}
        extra: dict[int, str] = {}
        for col, value in enumerate(line):
            key = header_key(value) if isinstance(value, str) else ""
            if key in HEADER_ALIASES and HEADER_ALIASES[key] not in fields:
                fields[HEADER_ALIASES[key]] = col
            elif key:
                extra[col] = key
            else:
                extra[col] = f"column_{col_letters(col)}"  # empty header: kept only if it has data
        if all(f in fields for f in REQUIRED_FIELDS):
            headers = [str(v) if v is not None else "" for v in line]
            while headers and not headers[-1].strip():
                headers.pop()
            named_extra = {c: n for c, n in extra.items() if not n.startswith("column_")}
            data_extra = {c: n for c, n in extra.items() if n.startswith("column_")}
            if any(_column_has_data(cells, index, c) for c in data_extra):
                named_extra.update(
                    {c: n for c, n in data_extra.items() if _column_has_data(cells, index, c)}
                )
            return Header(index, fields, named_extra, headers)
    return None


def _column_has_data(cells, header_index, col) -> bool:
    for line in cells[header_index + 1 :]:
        if col < len(line):
            v = line[col]
            if (isinstance(v, str) and v.strip()) or (v is not None and not isinstance(v, str)):
                return True
    return False


def _open_zip(data: bytes, name: str) -> zipfile.ZipFile:
    if not data:
        raise WorkbookError(name, "empty file")
    if not data.startswith(ZIP_MAGIC):
        if looks_like_html(data):
            raise WorkbookError(name, "an HTML page, not a workbook (a block or error page?)")
        raise WorkbookError(name, "not an xlsx file (does not start with the zip signature PK)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise WorkbookError(name, f"truncated or corrupt xlsx ({exc})") from None
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        raise WorkbookError(
            name, f"zip would expand to {total} bytes, past the {MAX_UNPACKED_BYTES}-byte limit"
        )
    for info in infos:
        if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO:
            raise WorkbookError(
                name,
                f"zip member {info.filename} expands "
                f"{info.file_size // info.compress_size}x; refusing "
                "a possible zip bomb",
            )
    encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
    if encrypted:
        raise WorkbookError(
            name,
            f"password-protected: zip member {encrypted[0]} is encrypted "
            f"({len(encrypted)} of {len(infos)} members)",
        )
    if "xl/workbook.xml" not in zf.namelist():
        raise WorkbookError(name, "zip file without xl/workbook.xml: not an xlsx workbook")
    return zf


def _read_member(zf: zipfile.ZipFile, path: str | None, name: str) -> bytes:
    if not path or path not in zf.namelist():
        return b""
    try:
        return zf.read(path)
    except _MEMBER_ERRORS as exc:
        raise WorkbookError(name, f"truncated or corrupt xlsx ({exc})") from None


def _saved_at(zf: zipfile.ZipFile, name: str) -> datetime | None:
    if "docProps/core.xml" not in zf.namelist():
        return None
    try:
        match = _MODIFIED.search(zf.read("docProps/core.xml"))
    except _MEMBER_ERRORS:
        return None
    if not match:
        return None
    try:
        text = match.group(1).decode().strip().replace("Z", "+00:00")
    except UnicodeDecodeError:
        raise WorkbookError(
            name, f"docProps/core.xml: last-saved time is not valid UTF-8 ({match.group(1)!r})"
        ) from None
    try:
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one that leaves year 1..9999 in UTC
        return None


def _sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> path of its XML part inside the zip."""
    try:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError, *_MEMBER_ERRORS):
        return {}
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_NS_PKG_REL}Relationship")}
    paths = {}
    for sheet in book.iter(f"{_NS_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_NS_REL}id"), "")
        target = target.lstrip("/")
        if not target.startswith("xl/"):
            target = "xl/" + target
        paths[sheet.get("name")] = target
    return paths

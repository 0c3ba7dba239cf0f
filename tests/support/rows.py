"""A row-by-row view of a parsed workbook, for reading test expectations (the pipeline reads
the columns)."""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.workbook import ParsedWorkbook


@dataclass
class RawRow:
    """One data row as typed in the sheet."""

    row: int  # Excel row number (1-based)
    values: dict[str, object]  # field -> cell value (str, date, datetime, float, ...)
    links: dict[str, str] = field(default_factory=dict)  # field -> hyperlink target
    errors: dict[str, str] = field(default_factory=dict)  # field -> Excel error text
    extra: dict[str, object] = field(default_factory=dict)  # unknown column -> value
    hidden: bool = False  # hidden by a saved filter or by hand


def raw_rows(parsed: ParsedWorkbook) -> list[RawRow]:
    """One RawRow per data row, in sheet order."""
    out = []
    for i, number in enumerate(parsed.row_numbers):
        values = {f: parsed.columns[f][i] for f in parsed.fields}
        links = {f: col[i] for f, col in parsed.links.items() if col[i]}
        errors = {f: e[i] for f, e in parsed.errors.items() if i in e}
        out.append(RawRow(number, values, links, errors, parsed.extra[i] or {}, parsed.hidden[i]))
    return out

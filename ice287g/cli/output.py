"""One way to print a result: table, csv, json (a list of flat records), markdown, parquet.

Every read command shares these options through ``format_options``: --format, -o and
--columns. A table printed to a terminal fits its width (``COLUMNS`` or the terminal's own):
long URLs lose their middle, long text its end, the headers are abbreviated and the
right-most columns left out, with a last line naming them. Piped, a table keeps every
value; csv, json and parquet always carry every value in full.

pandas is imported inside the functions: ``ice287g --help`` must not pay for it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from datetime import date, datetime
from pathlib import Path

import click

TEXT_FORMATS = ("table", "csv", "json")
COLUMNS_KEY = "ice287g.columns"
ELLIPSIS = "…"
# Widest a cell may be once a table is too wide: the first, then narrower ones for the
# columns a user chose (--columns) before any is left out.
CELL_CAPS = (40, 32, 24, 16)
# Shorter headers used when a table does not fit (the full names are in --help and the README).
HEADER_ABBREVIATIONS = {
    "agency_type": "type",
    "county_fips": "fips",
    "moa_status": "moa",
    "addendum_url": "addendum",
    "addendum_status": "add.",
    "agreement_id": "agreement",
    "date_source": "dated_by",
    "suspect_reason": "why_suspect",
    "list_evidence": "evidence",
    "versions_seen": "versions",
    "moa_first_available": "moa_online",
    "pending_first_seen": "pending_from",
    "days_waited": "waited",
    "http_status": "http",
    "last_modified": "modified",
}


def _split_columns(ctx, param, value):
    if not value:
        return None
    names = [c.strip() for c in value.split(",") if c.strip()]
    if not names:
        raise click.BadParameter("name at least one column", ctx=ctx, param=param)
    return names


RAW_KEY = "ice287g.raw_text"


def raw_option(fn):
    """click decorator adding --raw: CSV and XLSX text exactly as stored, without the leading
    ``'`` that keeps a spreadsheet from running a cell as a formula (see `render`)."""
    return click.option(
        "--raw",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=lambda ctx, _param, value: ctx.meta.__setitem__(RAW_KEY, value),
        help="CSV/XLSX: write text exactly as stored (by default a cell starting with = + - @, "
        "tab or CR gets a leading ' so spreadsheets do not run it as a formula).",
    )(fn)


def raw_requested() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(RAW_KEY))


def format_options(formats: tuple[str, ...] = TEXT_FORMATS):
    """click decorator adding --format, -o/--output, --columns and (with csv) --raw.

    --columns is handled here and by ``emit`` (through the click context), so a command
    gets it without a parameter of its own.
    """

    def decorate(fn):
        if "csv" in formats:
            fn = raw_option(fn)

        @functools.wraps(fn)
        def command(*args, columns=None, **kwargs):
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                ctx.meta[COLUMNS_KEY] = columns
            return fn(*args, **kwargs)

        command = click.option(
            "--columns",
            "columns",
            metavar="A,B,C",
            callback=_split_columns,
            help="Only these columns, in this order (comma-separated).",
        )(command)
        command = click.option(
            "-o",
            "--output",
            "output",
            type=click.Path(dir_okay=False),
            help="Write to this file instead of standard output.",
        )(command)
        command = click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default="table",
            show_default=True,
            help="Output format.",
        )(command)
        return command

    return decorate


def _flat(value):
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None and value == value.normalize():
            return value.date().isoformat()  # a datetime64 date column: ISO date, no time
        return value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return ";".join(str(v) for v in value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def records(df) -> list[dict]:
    """A DataFrame as flat JSON-ready records (lists joined with ';', dates as ISO text)."""
    return [{k: _flat(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _flat_frame(df, cell):
    import pandas as pd

    flat = pd.DataFrame(index=df.index)
    for col in df.columns:  # object dtype: a nullable int column stays ints, not floats
        flat[col] = pd.Series([cell(v) for v in df[col]], index=df.index, dtype=object)
    return flat


def render(
    df, fmt: str, width: int | None = None, chosen: bool = False, raw: bool = False
) -> str | bytes:
    """`df` in `fmt`; a table fits `width` characters when given (see ``fit_table``); CSV
    text cells are spreadsheet-safe unless `raw`."""
    if fmt == "json":
        return json.dumps(records(df), ensure_ascii=False, indent=1) + "\n"
    if fmt == "parquet":
        import io

        buf = io.BytesIO()
        df = df.copy()
        df.attrs = {}
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    from ice287g.safetext import spreadsheet_safe

    cell = _flat if fmt != "csv" or raw else (lambda v: spreadsheet_safe(_flat(v)))
    flat = _flat_frame(df, cell)
    if fmt == "csv":
        return flat.to_csv(index=False)
    if fmt == "markdown":
        return markdown(flat)
    if flat.empty:
        return "(no rows)\n"
    return fit_table(flat, width, chosen)


def elide(text: str, cap: int) -> str:
    """`text` in at most `cap` characters: a URL loses its middle (host and file name stay
    readable), other text its end."""
    if len(text) <= cap:
        return text
    if "://" in text[:12]:
        head = max(cap // 3, 1)
        return text[:head] + ELLIPSIS + text[len(text) - (cap - head - 1) :]
    return text[: cap - 1] + ELLIPSIS


def fit_table(flat, width: int | None, chosen: bool = False) -> str:
    """A plain-text table of flat cells, no wider than `width` (None: no limit).

    In turn, until it fits: long cells shortened (``CELL_CAPS``), headers abbreviated
    (``HEADER_ABBREVIATIONS``), then the right-most columns left out, named on a last line.
    Columns the user `chosen` (--columns) are shortened further rather than left out.
    """
    flat = flat.fillna("").astype(str)
    if "sha256" in flat.columns:  # a prefix identifies a version on screen
        flat["sha256"] = flat["sha256"].str[:12]

    def draw(frame, cap):
        if cap:
            frame = frame.apply(lambda col: col.map(lambda v: elide(v, cap)))
        text = frame.to_string(index=False, max_colwidth=None)
        return text, max(len(line) for line in text.splitlines())

    text, used = draw(flat, None)
    if width is None or used <= width:
        return text + "\n"
    cap = CELL_CAPS[0]
    frame = flat.rename(columns=HEADER_ABBREVIATIONS)
    hidden: list[str] = []
    while True:
        text, used = draw(frame, cap)
        if used <= width:
            break
        if chosen and cap > CELL_CAPS[-1]:
            cap = next(c for c in CELL_CAPS if c < cap)
        elif len(frame.columns) > 1:
            hidden.insert(0, str(flat.columns[len(frame.columns) - 1]))
            frame = frame.iloc[:, :-1]
        elif cap > CELL_CAPS[-1]:
            cap = next(c for c in CELL_CAPS if c < cap)
        else:
            break
    if hidden:
        import textwrap

        note = (
            f"{len(hidden)} more column{'s' if len(hidden) > 1 else ''} (--columns picks, "
            f"--format csv shows all): {', '.join(hidden)}"
        )
        text += "\n" + textwrap.fill(
            note, width, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
        )
    return text + "\n"


def markdown(df) -> str:
    """A GitHub-flavoured Markdown table (tabulate); cells keep their text, ``|`` escaped."""
    from tabulate import tabulate

    def cell(v):
        return "" if v is None or v != v else str(v).replace("|", "\\|").replace("\n", " ")

    rows = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    headers = [str(c) for c in df.columns]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True) + "\n"


def markdown_note(header: str) -> str:
    """A header of ``# ...`` lines as one Markdown paragraph (a ``#`` line would render as a
    heading), lines kept apart by hard breaks."""
    lines = [line.lstrip("#").strip() for line in header.splitlines() if line.strip("# ")]
    return "  \n".join(lines) + "\n\n"


def terminal_width() -> int | None:
    """Width a printed table must fit: ``COLUMNS`` when set, else the terminal's; None when
    standard output is not a terminal (a pipe or a file keeps every column)."""
    value = os.environ.get("COLUMNS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    if sys.stdout.isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return None


def select_columns(df, columns: list[str] | None):
    """`df` with only `columns`, in that order; a usage error (exit 2) names the valid ones."""
    if not columns:
        return df
    unknown = [c for c in columns if c not in df.columns]
    if unknown:
        raise click.UsageError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            f"choose from {', '.join(map(str, df.columns))}"
        )
    picked = df[columns]
    picked.attrs = df.attrs
    return picked


def emit(df, fmt: str, output: str | None, header: str | None = None) -> None:
    """Print or write a result. `header` (a note on which versions answered) goes to stderr
    for machine formats, above the table for `table`, and as a paragraph for `markdown`."""
    ctx = click.get_current_context(silent=True)
    columns = ctx.meta.get(COLUMNS_KEY) if ctx is not None else None
    df = select_columns(df, columns)
    if fmt == "parquet" and not output:
        raise click.UsageError("--format parquet needs -o FILE")
    width = None if output else terminal_width()
    body = render(df, fmt, width, chosen=bool(columns), raw=raw_requested())
    if header:
        if fmt == "table":
            body = header + "\n" + body
        elif fmt == "markdown":
            body = markdown_note(header) + body
        else:
            click.echo(header, err=True)
    write_text(body, output)


def write_text(body: str | bytes, output: str | None) -> None:
    """Write a rendered result to `output` (atomically), or print it."""
    if output:
        from ice287g.store.files import atomic_write

        atomic_write(Path(output), body if isinstance(body, bytes) else body.encode())
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(body)

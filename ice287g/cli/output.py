"""One way to print a result: table, csv, json (a list of flat records), markdown, parquet.

Every read command shares these options through ``format_options``.
"""

from __future__ import annotations

import io
import json
import math
import sys
from datetime import date, datetime
from pathlib import Path

import click
import pandas as pd

TEXT_FORMATS = ("table", "csv", "json")


def format_options(formats: tuple[str, ...] = TEXT_FORMATS):
    """click decorator adding --format and -o/--output."""

    def decorate(fn):
        fn = click.option(
            "-o",
            "--output",
            "output",
            type=click.Path(dir_okay=False),
            help="Write to this file instead of standard output.",
        )(fn)
        fn = click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default="table",
            show_default=True,
            help="Output format.",
        )(fn)
        return fn

    return decorate


def _flat(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):  # pandas Timestamp
        return value.isoformat()
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return ";".join(str(v) for v in value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def records(df) -> list[dict]:
    """A DataFrame as flat JSON-ready records (lists joined with ';', dates as ISO text)."""
    return [{k: _flat(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def render(df, fmt: str) -> str | bytes:
    if fmt == "json":
        return json.dumps(records(df), ensure_ascii=False, indent=1) + "\n"
    flat = df.copy()
    for col in flat.columns:  # object dtype: a nullable int column stays ints, not floats
        flat[col] = pd.Series([_flat(v) for v in flat[col]], index=flat.index, dtype=object)
    if fmt == "csv":
        return flat.to_csv(index=False)
    if fmt == "markdown":
        return markdown(flat)
    if fmt == "parquet":
        buf = io.BytesIO()
        df = df.copy()
        df.attrs = {}
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    if flat.empty:
        return "(no rows)\n"
    if "sha256" in flat.columns:  # a prefix identifies a version on screen
        flat["sha256"] = flat["sha256"].str[:12]
    return flat.fillna("").to_string(index=False, max_colwidth=60) + "\n"


def markdown(df) -> str:
    """A GitHub-flavoured Markdown table (tabulate); cells keep their text, ``|`` escaped."""
    from tabulate import tabulate

    def cell(v):
        return "" if v is None or v != v else str(v).replace("|", "\\|").replace("\n", " ")

    rows = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    headers = [str(c) for c in df.columns]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True) + "\n"


def emit(df, fmt: str, output: str | None, header: str | None = None) -> None:
    """Print or write a result. `header` (a note on which versions answered) goes to stderr
    for machine formats and above the table for `table`/`markdown`."""
    body = render(df, fmt)
    if fmt == "parquet" and not output:
        raise click.UsageError("--format parquet needs -o FILE")
    if header:
        if fmt in ("table", "markdown"):
            body = header + "\n" + body
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

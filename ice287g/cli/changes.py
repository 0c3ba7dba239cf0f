"""Commands about change over time: diff, history, agreements, plot, counties, export.

Registered on the `ice287g` group by ``ice287g.cli``. Heavy modules (pandas, pyarrow,
matplotlib) are imported inside the commands; nothing here imports Prefect.
"""

from __future__ import annotations

import click

from ice287g.cli.core import list_option, pass_ctx, query_errors, suspect_option
from ice287g.cli.output import emit, format_options, raw_option, raw_requested
from ice287g.progress import timed

TEXT_AND_MARKDOWN = ("table", "csv", "json", "markdown")
SKIPPED = "# suspect versions skipped (--include-suspect keeps them)"
INCLUDED = "# suspect versions included"


@click.command()
@click.argument("date_a")
@click.argument("date_b")
@list_option
@suspect_option
@format_options(TEXT_AND_MARKDOWN)
@pass_ctx
@query_errors
def diff(ctx, date_a, date_b, lst, include_suspect, fmt, output) -> None:
    """Agreements added, removed and changed between the versions in effect on two dates.

    A change names the field (agency for a spelling change, signed, county, agency_type,
    moa_status, moa_url, addendum_url) with its value before and after.

    Example: ice287g diff 2025-04-04 2025-07-01 --format csv
    """
    from ice287g.query.diff import diff as q

    df = q(date_a, date_b, lst, ctx.store, include_suspect)
    emit(df, fmt, output, header=df.attrs["note"])


@click.command()
@click.argument("query")
@click.option("--state", help="Only agencies of this state (code or name).")
@suspect_option
@format_options(TEXT_AND_MARKDOWN)
@pass_ctx
@query_errors
def history(ctx, query, state, include_suspect, fmt, output) -> None:
    """Timeline of one agency: when each agreement appeared, changed, left or came back.

    QUERY is part of the agency's name, spelling tolerant. When several agencies match,
    they are listed and the command exits 1: narrow the name or add --state.

    Example: ice287g history "taylor county sheriff" --state FL
    """
    from ice287g.cli.output import render
    from ice287g.query.history import TIMELINE_COLUMNS, AmbiguousQuery
    from ice287g.query.history import history as q

    try:
        with timed("history"):
            df = q(query, state, ctx.store, include_suspect)
    except AmbiguousQuery as exc:
        click.echo(render(exc.candidates, "table"), err=True, nl=False)
        raise click.ClickException(str(exc)) from None
    agreements = df.attrs["agreements"]
    lines = [f"# {_agency_title(df, agreements)}"]
    lines += [f"#   {_agreement_line(r)}" for r in agreements.to_dict(orient="records")]
    lines.append(INCLUDED if include_suspect else SKIPPED)
    if fmt in ("table", "markdown"):
        df = df[TIMELINE_COLUMNS]
    emit(df, fmt, output, header="\n".join(lines))


def _agency_title(events, agreements) -> str:
    if len(agreements):
        name, agency_id = agreements["agency"].iloc[0], agreements["agency_id"].iloc[0]
    else:
        name, agency_id = events["agency"].iloc[-1], events.attrs["agency_id"]
    spellings = sorted(set(events["agency"].dropna()) - {name})
    n = len(agreements)
    text = f"{name} ({agency_id}): {n} agreement{'s' if n != 1 else ''}"
    if not n:
        text += " (only ever on the pending list)"
    if spellings:
        text += "; also listed as " + ", ".join(repr(s) for s in spellings)
    return text


def _agreement_line(r: dict) -> str:
    parts = [
        f"{r['model']} {r['status']}",
        f"listed {r['first_seen']} to {r['last_seen']} ({r['versions_seen']} versions)",
    ]
    if r["gaps"]:
        parts.append(f"missing {r['gap_ranges']}")
    if r["signed"] is not None:
        parts.append(f"signed {r['signed']}")
    parts.append(
        f"MOA online {r['moa_first_available']}" if r["moa_first_available"] else "MOA never online"
    )
    if r["pending_first_seen"] is not None:
        parts.append(f"pending from {r['pending_first_seen']} ({r['days_waited']} days)")
    return ", ".join(parts)


AGREEMENT_TABLE = [
    "state",
    "agency",
    "model",
    "status",
    "first_seen",
    "last_seen",
    "versions_seen",
    "gaps",
    "moa_first_available",
    "signed",
    "pending_first_seen",
    "days_waited",
]


@click.command()
@click.option("--state", help="Only this state (code or name).")
@click.option(
    "--status",
    type=click.Choice(["active", "removed"]),
    help="Only agreements in (active) or no longer in (removed) the newest version.",
)
@suspect_option
@format_options((*TEXT_AND_MARKDOWN, "parquet"))
@pass_ctx
@query_errors
def agreements(ctx, state, status, include_suspect, fmt, output) -> None:
    """Every agreement ever listed, with first/last seen, gaps, MOA and pending dates.

    The table view shows the main columns; csv, json and parquet carry all of them.

    Example: ice287g agreements --state FL --status removed
    """
    from ice287g.query.history import agreements as q

    df = q(state, status, ctx.store, include_suspect)
    counts = df["status"].value_counts()
    header = (
        f"# {len(df)} agreements ({counts.get('active', 0)} active, "
        f"{counts.get('removed', 0)} removed)\n" + (INCLUDED if include_suspect else SKIPPED)
    )
    if fmt in ("table", "markdown"):
        df = df[AGREEMENT_TABLE]
    emit(df, fmt, output, header=header)


@click.command()
@list_option
@click.option(
    "--by",
    type=click.Choice(["model", "state"]),
    default="model",
    show_default=True,
    help="Stack the counts by support model or by state.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="With --by state: this many states, the rest as Other.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Chart file: .png, .svg or .html (default ice287g-<list>-by-<by>.png).",
)
@suspect_option
@pass_ctx
@query_errors
def plot(ctx, lst, by, top, output, include_suspect) -> None:
    """Chart of agreements over time, stacked by model or by state (PNG, SVG or HTML).

    Example: ice287g plot --by state --top 10 -o states.svg
    """
    from ice287g.query.plot import plot as draw

    with timed("plot"):
        path = draw(
            output or f"ice287g-{lst}-by-{by}.png", lst, by, top, ctx.store, include_suspect
        )
    click.echo(f"wrote {path}", err=True)


@click.command()
@click.option(
    "--unresolved",
    is_flag=True,
    help="Only counties that do not resolve to a FIPS code (for review).",
)
@format_options((*TEXT_AND_MARKDOWN, "parquet"))
@pass_ctx
@query_errors
def counties(ctx, unresolved, fmt, output) -> None:
    """Counties as ICE typed them across all versions, with FIPS code and where seen.

    Example: ice287g counties --unresolved
    """
    from ice287g.query.counties import counties as q

    with timed("counties"):
        df = q(unresolved, ctx.store)
    what = "unresolved counties" if unresolved else "distinct counties"
    emit(df, fmt, output, header=f"# {len(df)} {what} (state, county as typed) across all versions")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "xlsx"]),
    default="csv",
    show_default=True,
    help="File format of the tables.",
)
@raw_option
@pass_ctx
@query_errors
def export(ctx, directory, fmt) -> None:
    """Write latest lists, all versions, history and daily counts, with datapackage.json.

    Example: ice287g export out/ --format parquet
    """
    from ice287g.query.export import export as run

    with timed(f"export --format {fmt}"):
        paths = run(directory, fmt, ctx.store, raw=raw_requested())
    for path in paths:
        click.echo(str(path))


# Registered on the `ice287g` group by ice287g.cli (explicitly, by name).
COMMANDS = (diff, history, agreements, plot, counties, export)

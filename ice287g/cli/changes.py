"""Commands about change over time: diff, history, agreements, plot, counties, export.

Registered on the `ice287g` group by ``ice287g.cli``. Heavy modules (pandas, pyarrow,
matplotlib) are imported inside the commands; nothing here imports Prefect.
"""

from __future__ import annotations

import click

from ice287g.cli.core import pass_ctx, query_errors
from ice287g.cli.options import (
    agency_option,
    filter_lines,
    list_option,
    state_option,
    suspect_note,
    suspect_option,
)
from ice287g.cli.output import emit, format_options, raw_option, raw_requested
from ice287g.progress import timed

TEXT_AND_MARKDOWN = ("table", "csv", "json", "markdown")


CHANGE_KINDS = ("added", "removed", "renamed", "re_signed", "moa_posted", "changed")
DIFF_TABLE = ["state", "agency", "model", "field", "before", "after", "evidence"]


def _kinds(ctx, param, value) -> tuple[str, ...] | None:
    if not value:
        return None
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in CHANGE_KINDS]
    if unknown:
        raise click.BadParameter(
            f"unknown change {', '.join(unknown)}: use {', '.join(CHANGE_KINDS)}"
        )
    return kinds


@click.command()
@click.argument("date_a")
@click.argument("date_b")
@list_option
@click.option(
    "--change",
    "changes",
    callback=_kinds,
    help="Only these kinds, comma-separated: " + ",".join(CHANGE_KINDS) + ".",
)
@click.option("--field", help="Only changes of this field (agency, signed, county, moa_url, ...).")
@state_option
@click.option("--agency", help="Only agencies whose name (any spelling) contains this text.")
@suspect_option
@format_options(TEXT_AND_MARKDOWN)
@pass_ctx
@query_errors
def diff(ctx, date_a, date_b, lst, changes, field, state, agency, include_suspect, fmt, output):
    """What changed between the versions in effect on two dates, agreement by agreement.

    Agreements are resolved identities (see `ice287g identity`): a relabel is one
    `renamed` record, not a removal plus an addition. Kinds: added, removed, renamed,
    re_signed (a renewal), moa_posted (the MOA link appeared), changed (another field:
    signed, county, agency_type, moa_status, moa_url, addendum_url). The table groups the
    records by kind, with counts first; csv and json carry every column.

    Example: ice287g diff 2025-06-01 2025-12-31 --change removed --state FL
    """
    from ice287g.query.diff import diff as q
    from ice287g.query.diff import filter_changes

    df = q(date_a, date_b, lst, ctx.store, include_suspect)
    lines = filter_lines(change=changes, field=field, state=state, agency=agency)
    note = "\n".join([df.attrs["note"], *lines])
    df = filter_changes(df, changes, field, state, agency)
    if fmt not in ("table", "markdown"):
        emit(df, fmt, output, header=note)
        return
    _emit_grouped(df, fmt, output, note)


def _emit_grouped(df, fmt, output, note) -> None:
    """The diff as one table per kind of change, each headed by its count."""
    from ice287g.cli.output import markdown_note, render, write_text

    counts = df["change"].value_counts()
    lines = [note, "# shown: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in CHANGE_KINDS)]
    parts = []
    for kind in CHANGE_KINDS:
        part = df[df["change"] == kind]
        if part.empty:
            continue
        cols = [c for c in DIFF_TABLE if part[c].notna().any()]
        # Markdown: no ``#`` lines (they would render as headings); a bold title instead.
        title = f"**{kind} ({len(part)})**\n" if fmt == "markdown" else f"# {kind} ({len(part)})"
        parts.append(title + "\n" + render(part[cols], fmt))
    if fmt == "markdown":
        write_text(markdown_note("\n".join(lines)) + "\n".join(parts), output)
    else:
        write_text("\n".join(lines) + "\n" + "\n".join(parts), output)


@click.command()
@click.argument("query")
@state_option
@suspect_option
@format_options(TEXT_AND_MARKDOWN)
@pass_ctx
@query_errors
def history(ctx, query, state, include_suspect, fmt, output) -> None:
    """Life story of one agency: each agreement listed, renamed, re-signed, removed, ...

    QUERY is part of the agency's name, spelling tolerant; any spelling ICE ever printed
    finds the agency. Events: listed, renamed, moa_posted, re_signed, changed, model_added,
    model_switched, removed, returned. When several agencies match, they are listed and
    the command exits 1: narrow the name or add --state.

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
    lines += filter_lines(agency=query, state=state)
    lines.append(suspect_note(include_suspect))
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
        f"listed {r['first_listed']} to {r['last_listed']} ({r['versions_listed']} versions)",
    ]
    if r["returns"]:
        parts.append(f"{r['returns']} return{'s' if r['returns'] != 1 else ''}")
    if r["signed"] is not None:
        parts.append(f"signed {r['signed']}")
    parts.append(f"MOA online {r['moa_posted']}" if r["moa_posted"] else "MOA never online")
    if r["pending_first_listed"] is not None:
        parts.append(f"pending from {r['pending_first_listed']} ({r['days_waited']} days)")
    if r["evidence"] != "exact":
        parts.append(f"joined by {r['evidence']}")
    return ", ".join(parts)


AGREEMENT_TABLE = [
    "state",
    "agency",
    "model",
    "status",
    "first_listed",
    "last_listed",
    "versions_listed",
    "returns",
    "moa_posted",
    "signed",
    "pending_first_listed",
    "days_waited",
    "evidence",
]


@click.command()
@state_option
@click.option(
    "--status",
    type=click.Choice(["active", "removed", "superseded"]),
    help="Only agreements in the newest version (active), dropped (removed), or replaced "
    "by the same agency's agreement of another model (superseded).",
)
@agency_option
@suspect_option
@format_options((*TEXT_AND_MARKDOWN, "parquet"))
@pass_ctx
@query_errors
def agreements(ctx, state, status, agency, include_suspect, fmt, output) -> None:
    """Every agreement ever listed, in resolved identities: status, first and last listed,
    every spelling (names) and the evidence tiers that joined them, MOA and pending dates.

    The table view shows the main columns; csv, json and parquet carry all of them.

    Example: ice287g agreements --state FL --status removed
    """
    from ice287g.query.identity import agreements as q
    from ice287g.query.versions import filter_rows

    df = filter_rows(q(state, status, ctx.store, include_suspect), agency=agency)
    counts = df["status"].value_counts()
    header = "\n".join(
        [
            f"# {len(df)} agreements ({counts.get('active', 0)} active, "
            f"{counts.get('removed', 0)} removed, {counts.get('superseded', 0)} superseded)",
            *filter_lines(state=state, agency=agency, status=status),
            suspect_note(include_suspect),
        ]
    )
    if fmt in ("table", "markdown"):
        df = df[AGREEMENT_TABLE]
    emit(df, fmt, output, header=header)


TERMINATION_TABLE = ["removed_on", "state", "agency", "model", "last_listed", "moa_url"]


@click.command()
@click.option("--since", help="Removed on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Removed on or before this date (YYYY-MM-DD).")
@state_option
@suspect_option
@format_options((*TEXT_AND_MARKDOWN, "parquet"))
@pass_ctx
@query_errors
def terminations(ctx, since, until, state, include_suspect, fmt, output) -> None:
    """Real removals only: agreements no longer listed under any spelling, and not replaced
    by another model, with the last version that listed each and its MOA URL.

    Example: ice287g terminations --since 2025-06-01 --until 2025-12-31
    """
    from ice287g.query.identity import terminations as q

    df = q(since, until, state, ctx.store, include_suspect)
    header = f"# {len(df)} terminations\n" + (suspect_note(include_suspect))
    if fmt in ("table", "markdown"):
        df = df[TERMINATION_TABLE]
    emit(df, fmt, output, header=header)


@click.command()
@click.option(
    "--candidates", is_flag=True, help="Pairs that look alike but no rule joins: for review."
)
@format_options((*TEXT_AND_MARKDOWN, "parquet"))
@pass_ctx
@query_errors
def identity(ctx, candidates, fmt, output) -> None:
    """How listings were joined into agreements: joins per evidence tier, or (--candidates)
    the pairs left for review. A verdict in ice287g/identity/aliases.csv settles a pair.

    Example: ice287g identity --candidates --format csv
    """
    from ice287g.query.identity import load

    ident = load(ctx.store)
    if candidates:
        df = ident.candidates()
        emit(df, fmt, output, header=f"# {len(df)} candidate pairs for review")
        return
    df = ident.tier_counts()
    emit(df, fmt, output, header=f"# {int(df['merges'].sum())} joins by tier")


@click.command()
@click.argument("name", required=False)
@state_option
@format_options((*TEXT_AND_MARKDOWN, "parquet"))
@pass_ctx
@query_errors
def aliases(ctx, name, state, fmt, output) -> None:
    """Every spelling of an agency ever printed, with its stable agency and agreement ids;
    NAME keeps the agency (or agencies) that name belongs to.

    Example: ice287g aliases "Boca Raton PD" --state FL
    """
    from ice287g.query.identity import aliases as q

    df = q(name, state, ctx.store)
    emit(df, fmt, output, header=f"# {len(df)} spellings")


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
COMMANDS = (diff, history, agreements, terminations, identity, aliases, plot, counties, export)

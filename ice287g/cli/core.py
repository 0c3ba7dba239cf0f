"""The `ice287g` group and the store commands (backfill, snapshots, latest, counts, status,
schema, verify, repair, rebuild). Shared options are declared once in ``ice287g.cli.options``;
read commands share --format and -o; none imports Prefect."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ice287g import progress
from ice287g.cli.options import (
    SUSPECT_SKIPPED,
    agency_option,
    any_list_option,
    filter_lines,
    filters_text,
    list_option,
    state_option,
    suspect_option,
)
from ice287g.cli.output import emit, format_options
from ice287g.progress import timed
from parsers.lists import LISTS


class Context:
    def __init__(self, data_dir: str | None):
        self.data_dir = Path(data_dir) if data_dir else None

    @property
    def store(self):
        from ice287g.store.catalog import Store

        return Store(self.data_dir)


pass_ctx = click.make_pass_decorator(Context)

DEBUG_ENV = "ICE287G_DEBUG"


class Group(click.Group):
    """The command group. Every command runs under the clean-stop handlers of
    ``ice287g.cli.stops`` (SIGINT/SIGTERM: one line, exit 130/143, locks released). A
    UserError any command lets through (a damaged store file, say) is one line and exit
    status 1; so is an error nobody foresaw, whose traceback goes to the store's error log
    instead of the screen (``ICE287G_DEBUG=1`` lets it through)."""

    def invoke(self, ctx: click.Context):
        import os

        from ice287g.cli import stops
        from ice287g.errors import UserError

        with stops.handled():
            try:
                return super().invoke(ctx)
            except UserError as exc:
                raise click.ClickException(str(exc)) from None
            except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise
            except BaseException as exc:
                signum = stops.status_of(exc)
                if signum is None:
                    if not isinstance(exc, Exception) or os.environ.get(DEBUG_ENV):
                        raise
                    raise click.ClickException(_logged_crash(ctx, exc)) from None
        click.echo(stops.message(signum), err=True)
        ctx.exit(stops.EXIT_STATUS[signum])


def _logged_crash(ctx: click.Context, exc: Exception) -> str:
    """Write `exc`'s traceback to the store's error log; the one line that says so."""
    import traceback

    from ice287g.store.files import default_data_dir, log_error

    command = " ".join(["ice287g", *([ctx.invoked_subcommand] if ctx.invoked_subcommand else [])])
    summary = (f"{type(exc).__name__}: {exc}".strip().splitlines() or [""])[0][:200]
    obj = ctx.obj if isinstance(ctx.obj, Context) else None
    root = obj.data_dir if obj and obj.data_dir else default_data_dir()
    try:
        where = log_error(root, command, "".join(traceback.format_exception(exc)))
    except OSError:
        return f"{command}: unexpected error ({summary}); set {DEBUG_ENV}=1 for the traceback"
    return f"{command}: unexpected error ({summary}); details in {where}"


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--data-dir",
    envvar="ICE287G_DATA_DIR",
    type=click.Path(file_okay=False),
    help="Store location (default ./data; env ICE287G_DATA_DIR).",
)
@click.version_option(package_name="ice287g")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None) -> None:
    """The public record of ICE's 287(g) agreements: versioned snapshots and their history."""
    ctx.obj = Context(data_dir)


def query_errors(fn):
    """Turn a UserError (bad date, unknown list, busy store, ...) into a one-line message and
    exit status 1."""
    import functools

    from ice287g.errors import UserError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--workers", type=int, default=None, help="Parser processes (default: up to 2).")
@pass_ctx
@query_errors
def backfill(ctx: Context, paths: tuple[str, ...], workers: int | None) -> None:
    """Add workbooks from files and folders to the store.

    One line per file: new, stored (same bytes already a version) or failed with the reason.
    Exits 1 if any file failed, after processing all the others.

    Example: ice287g backfill ../shared/ice-corpus/files
    """
    from ice287g.jobs import derived
    from ice287g.jobs.ingest import expand_paths, ingest_paths

    files = expand_paths(paths)
    failed = 0
    with progress.bar(len(files), "backfill") as advance:

        def report(outcome):
            nonlocal failed
            failed += outcome.status == "failed"
            progress.echo(outcome.line())
            advance(1)

        outcomes = ingest_paths(ctx.store, files, workers=workers, on_result=report)
    new = sum(o.status == "new" for o in outcomes)
    if new:
        with progress.timed("identities"):
            derived.update(ctx.store)
    click.echo(
        f"{len(outcomes)} files: {new} new, {len(outcomes) - new - failed} already "
        f"stored, {failed} failed",
        err=True,
    )
    if failed:
        sys.exit(1)


@main.command()
@any_list_option
@click.option(
    "--include-suspect/--no-suspect",
    default=True,
    show_default=True,
    help="Show versions flagged suspect.",
)
@format_options()
@pass_ctx
@query_errors
def snapshots(ctx: Context, lst, include_suspect, fmt, output) -> None:
    """List stored versions: list, date, order in the day, sha256, rows, source file.

    Example: ice287g snapshots --list pending --format csv
    """
    from ice287g.query.status import stale_notes
    from ice287g.query.versions import snapshots as q

    df = q(lst, ctx.store, include_suspect)
    cols = [
        "list",
        "date",
        "seq",
        "sha256",
        "rows",
        "file_name",
        "date_source",
        "saved_at",
        "flags",
        "suspect",
        "suspect_reason",
        "list_evidence",
    ]
    notes = stale_notes(ctx.store, [lst] if lst else LISTS)
    emit(df[cols], fmt, output, header="\n".join(notes) or None)


@main.command()
@list_option
@click.option("--as-of", help="Version in effect on this date (YYYY-MM-DD); default newest.")
@click.option("--all-columns", is_flag=True, help="Include raw values and every column.")
@state_option
@agency_option
@format_options(("table", "csv", "json", "parquet"))
@pass_ctx
@query_errors
def latest(ctx: Context, lst, as_of, all_columns, state, agency, fmt, output) -> None:
    """Rows of the version in effect on a date (default: the newest).

    Example: ice287g latest --as-of 2025-04-04 --state FL --columns agency,model,signed
    """
    from ice287g.query.status import stale_notes, version_warnings
    from ice287g.query.versions import as_date
    from ice287g.query.versions import latest as q

    df = q(lst, as_of, ctx.store, all_columns=all_columns, state=state, agency=agency)
    v = df.attrs["version"]
    which = filters_text(state=state, agency=agency)
    note = (
        f"# {v['list']} version {v['date']} #{v['seq']} sha256 {v['sha256'][:12]} "
        f"({v['file_name']}): {len(df)} rows" + (f" ({which})" if which else "")
    )
    if v["suspect"]:
        note += f"  [suspect: {v['suspect_reason']}]"
    note += "".join(f"  [{w}]" for w in version_warnings(v))
    notes = [note, *stale_notes(ctx.store, [lst], as_date(as_of))]
    emit(df, fmt, output, header="\n".join(notes))


@main.command()
@any_list_option
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(["model", "state", "agency_type"]),
    help="Group by this field (repeatable).",
)
@click.option("--as-of", help="Only the versions in effect on this date.")
@click.option("--since", help="First date of the series.")
@click.option("--until", help="Last date of the series.")
@click.option("--all-versions", is_flag=True, help="Every version, not only each day's last.")
@state_option
@agency_option
@suspect_option
@format_options()
@pass_ctx
@query_errors
def counts(
    ctx: Context,
    lst,
    by,
    as_of,
    since,
    until,
    all_versions,
    state,
    agency,
    include_suspect,
    fmt,
    output,
) -> None:
    """Rows per version, optionally per model / state / agency type.

    Example: ice287g counts --as-of 2025-04-04 --by model
    """
    from ice287g.query.status import stale_notes
    from ice287g.query.versions import as_date
    from ice287g.query.versions import counts as q

    with timed("counts"):
        df = q(
            lst, by, as_of, since, until, all_versions, include_suspect, ctx.store, state, agency
        )
    notes = filter_lines(state=state, agency=agency)
    notes += [] if include_suspect else [SUSPECT_SKIPPED]
    notes += stale_notes(ctx.store, [lst] if lst else LISTS, as_date(as_of or until))
    emit(df, fmt, output, header="\n".join(notes) or None)


@main.command()
@format_options()
@pass_ctx
@query_errors
def status(ctx: Context, fmt, output) -> None:
    """Per list: the newest version, its age in days, and open warnings (stale list, suspect
    newest version, new layout, list conflict).

    Example: ice287g status
    """
    from ice287g.query.status import status as q

    df = q(ctx.store)
    if fmt != "table":
        emit(df, fmt, output)
        return
    notes = [f"# {r.list}: {w}" for r in df.itertuples() for w in r.warnings]
    emit(df.drop(columns="warnings"), fmt, output, header="\n".join(notes) or "# no warnings")


@main.command(name="schema")
def schema_cmd() -> None:
    """Print the data dictionary (Markdown) of snapshot rows and the catalog."""
    from ice287g.schema import describe

    click.echo(describe())


@main.command()
@format_options()
@pass_ctx
@query_errors
def verify(ctx: Context, fmt, output) -> None:
    """Check the store: raw files match their hashes, snapshots match the catalog and the
    hash recorded when they were written, tallies add up, catalog and ledgers are readable.

    Exits 1 when anything is wrong; prints the path and the problem of each.

    Example: ice287g verify
    """
    import pandas as pd

    from ice287g.store.verify import verify as run

    problems = run(ctx.store)
    emit(pd.DataFrame([p.__dict__ for p in problems], columns=["path", "problem"]), fmt, output)
    if problems:
        sys.exit(1)


@main.command()
@pass_ctx
@query_errors
def repair(ctx: Context) -> None:
    """Rebuild what is derived (catalog, tallies, identities) from the snapshots.

    Raw files, snapshots and ledgers are left byte for byte. Prints what it rewrote and
    what it cannot fix (a missing raw file: backfill the same workbook to restore it; a
    damaged snapshot: `rebuild`). Run `verify` after it.

    Example: ice287g repair && ice287g verify
    """
    from ice287g.jobs import derived
    from ice287g.store.repair import repair as run

    for line in run(ctx.store):
        click.echo(line)
    for line in derived.rebuild(ctx.store):
        click.echo(line)


@main.command()
@click.argument("new_dir", type=click.Path(file_okay=False))
@pass_ctx
@query_errors
def rebuild(ctx: Context, new_dir: str) -> None:
    """Re-derive every version into NEW_DIR with the current normalization rules.

    Snapshots are immutable: a rule fixed in ice287g/rules.py reaches stored versions only
    through a rebuild. Dates, raw files and ledgers carry over; the old store is untouched.

    Example: ice287g rebuild data-new && mv data data-old && mv data-new data
    """
    from ice287g.jobs.rebuild import rebuild as run
    from ice287g.store.catalog import Store

    try:
        for line in run(ctx.store, Store(new_dir)):
            click.echo(line)
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

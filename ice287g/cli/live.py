"""Live commands: refresh from ICE's page, the publications ledger, Wayback backfill, serve.

`publications` is a fast read command. `refresh` runs the Prefect flow (one temporary Prefect
server per run, as a plain cron line would) unless --no-prefect; `serve` runs the nightly
schedule on a long-lived Prefect server.
"""

from __future__ import annotations

import sys

import click

from ice287g.cli.core import Context, pass_ctx, query_errors
from ice287g.cli.options import outcome_option, source_option
from ice287g.cli.output import emit, format_options
from ice287g.store.outcomes import OUTCOMES


@click.command()
@source_option
@click.option(
    "--no-prefect", is_flag=True, help="Run the plain refresh function, without starting Prefect."
)
@click.option("--no-moa", is_flag=True, help="Skip the MOA PDF harvest that follows.")
@click.option(
    "--moa-limit", type=int, default=None, help="At most this many MOA downloads (default 200)."
)
@pass_ctx
@query_errors
def refresh(
    ctx: Context, source: str | None, no_prefect: bool, no_moa: bool, moa_limit: int | None
) -> None:
    """Fetch ICE's page and both workbooks once; store new versions; print a report.

    Then harvests the MOA PDFs of the newest participating version (`moa fetch`). Exits 1
    when the page or a workbook could not be fetched (blocked, failed); what was fetched is
    stored all the same.

    Example: ice287g refresh
    """
    from scrapers.discover import DEFAULT_SOURCE

    # An error nobody foresaw (Prefect failing, a bug) is one line and a logged traceback: the
    # command group's business (ice287g.cli.core.Group), as for every command.
    result = _refresh(ctx, source or DEFAULT_SOURCE, no_prefect, not no_moa, moa_limit)
    if result.get("publish"):
        click.echo(result["publish"])
    for line in result["warnings"]:
        click.echo(f"warning: {line}", err=True)
    for failure in result["failures"]:
        click.echo(f"failed: {failure}", err=True)
    moa_note = result.get("moa_skipped") or result.get("moa", {}).get("stopped")
    if moa_note:
        click.echo(moa_note, err=True)
    if not result["ok"]:
        sys.exit(1)


def _refresh(ctx: Context, source: str, no_prefect: bool, moa: bool, moa_limit: int | None):
    """Run the refresh (plain or as the Prefect flow); print its report and the harvest's
    summary; return the flow's result (``ok``, ``failures``, ``warnings``, ``moa_skipped``)."""
    if no_prefect:
        from ice287g.jobs.harvest import harvest
        from ice287g.jobs.refresh import harvest_after, publish_after
        from ice287g.jobs.refresh import refresh as run

        report = run(ctx.store, source)
        click.echo(report.summary or "")
        result = publish_after(ctx.store, report).result(report)
        plan = harvest_after(ctx.store, report, moa, moa_limit)
        result.update(warnings=report.warnings, moa_skipped=report.harvest_skipped)
        if plan:
            harvest_report = harvest(ctx.store, **plan)
            click.echo(harvest_report.summary_line())
            stopped = harvest_report.stopped_line() if harvest_report.stopped else None
            result["moa"] = {"stopped": stopped}
        return result
    from flows.server import prefect_api

    with prefect_api() as ready:
        from flows.refresh import refresh_flow

        ready()
        result = refresh_flow(
            data_dir=str(ctx.store.root), source=source, moa=moa, moa_limit=moa_limit
        )
    # Prefect sends prints to its log (a file): the report is printed here.
    click.echo(result["summary"])
    if "moa" in result:
        click.echo(result["moa"]["summary"])
    return result


@click.command()
@outcome_option(OUTCOMES, "observations")
@format_options()
@pass_ctx
def publications(ctx: Context, outcome: str | None, fmt, output) -> None:
    """Every observation of a workbook URL: time, name, HTTP status, sha256, outcome.

    Example: ice287g publications --format csv
    """
    from ice287g.store.ledger import PUBLICATIONS

    df = PUBLICATIONS.read(ctx.store).to_pandas(date_as_object=True)
    if outcome:
        df = df[df["outcome"] == outcome]
    emit(df.reset_index(drop=True), fmt, output)


@click.command()
@click.option(
    "--from",
    "from_date",
    default="2025-01-01",
    show_default=True,
    help="First capture date (YYYY-MM-DD).",
)
@click.option("--to", "to_date", default=None, help="Last capture date (default today).")
@click.option(
    "--cdx", default=None, metavar="URL", help="CDX endpoint (default the Internet Archive's)."
)
@click.option("--limit", type=int, default=None, help="Fetch at most N captures this run.")
@pass_ctx
@query_errors
def wayback(
    ctx: Context, from_date: str, to_date: str | None, cdx: str | None, limit: int | None
) -> None:
    """Backfill versions from Internet Archive captures of ICE's workbooks.

    Example: ice287g wayback --from 2025-01-01 --to 2025-06-30 --limit 50
    """
    from datetime import date

    from ice287g.jobs.wayback import wayback as run
    from ice287g.query.versions import as_date
    from scrapers.http import FetchError

    start = as_date(from_date)
    end = as_date(to_date) or date.today()
    try:
        observations = run(ctx.store, start, end, cdx_base=cdx, limit=limit)
    except FetchError as exc:
        raise click.ClickException(f"CDX listing: {exc}") from None
    failed = 0
    for obs in observations:
        failed += obs.outcome in ("blocked", "failed")
        click.echo(
            f"{obs.outcome:<13} {obs.file_name} {obs.list or ''} "
            f"{obs.version_date or ''} {obs.error or ''}".rstrip()
        )
    click.echo(f"{len(observations)} captures fetched, {failed} failed", err=True)
    if failed:
        sys.exit(1)


@click.command()
@click.option(
    "--cron", default="0 6 * * *", show_default=True, help="Schedule of the refresh (cron, UTC)."
)
@source_option
@click.option(
    "--port",
    type=int,
    default=4200,
    show_default=True,
    help="Port of the local Prefect server started when PREFECT_API_URL is unset.",
)
@click.option("--name", default="nightly-refresh", show_default=True, help="Deployment name.")
@pass_ctx
def serve(ctx: Context, cron: str, source: str | None, port: int, name: str) -> None:
    """Serve the refresh on a nightly schedule (Prefect), until interrupted.

    Uses the Prefect server in PREFECT_API_URL when set; otherwise starts `prefect server` on
    127.0.0.1 with the project's own PREFECT_HOME and stops it on exit.

    Example: ice287g serve --cron "0 6 * * *"
    """
    from flows.serve import serve_refresh

    serve_refresh(
        data_dir=str(ctx.store.root.resolve()), cron=cron, source=source, port=port, name=name
    )


# Registered on the `ice287g` group by ice287g.cli (explicitly, by name).
COMMANDS = (refresh, publications, wayback, serve)

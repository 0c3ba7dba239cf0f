"""`ice287g moa ...`: harvest the signed MOA PDFs, read them, cross-check, search.

`fetch` runs the plain harvest (no Prefect) unless --prefect; the other commands only read the
store (or local files) and never import Prefect.
"""

from __future__ import annotations

import sys
from contextlib import closing

import click

from ice287g import progress
from ice287g.cli.core import Context, pass_ctx, query_errors
from ice287g.cli.options import ocr_option, outcome_option, state_option, workers_option
from ice287g.cli.output import emit, format_options
from ice287g.store.outcomes import MOA_OUTCOMES

OCR_MISSING = (
    "OCR not available: tesseract is not installed (apt-get install tesseract-ocr); "
    "reading text layers only"
)


@click.group()
def moa() -> None:
    """Signed MOA PDFs: harvest ICE's links, read them, check them against the spreadsheet.

    Stored under the data directory: raw/<sha[:2]>/<sha>.pdf, moa_ledger.parquet (every
    download attempt) and moa_documents.parquet (what each PDF says).
    """


def _warn_ocr(ocr: bool) -> None:
    from parsers.moa import ocr_available

    if ocr and not ocr_available():
        click.echo(OCR_MISSING, err=True)


@moa.command()
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Fetch at most N URLs this run (the rest wait for later runs).",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds to wait between two requests.",
)
@click.option(
    "--source-host",
    default=None,
    metavar="HOST",
    help="Host the fetcher may talk to (default www.ice.gov, or the mirror's host).",
)
@click.option(
    "--mirror",
    default=None,
    metavar="URL",
    help="Fetch https://www.ice.gov/... from this base URL instead (a mirror, or a "
    "local test server); the ledger keeps ICE's URLs.",
)
@ocr_option
@workers_option
@click.option(
    "--prefect",
    "use_prefect",
    is_flag=True,
    help="Run as the Prefect flow `ice287g-moa` (starts a temporary Prefect server "
    "unless PREFECT_API_URL is set).",
)
@pass_ctx
@query_errors
def fetch(
    ctx: Context,
    limit: int,
    delay: float,
    source_host: str | None,
    mirror: str | None,
    ocr: bool,
    workers: int,
    use_prefect: bool,
) -> None:
    """Download the MOA and addendum PDFs of the newest participating version not stored yet.

    One line per URL tried (outcome: stored, already stored, not found, blocked, failed,
    refused), then a summary. Every attempt goes to the MOA ledger; 404s and failures are
    tried again on the next run. New PDFs are read into the documents table. Exits 1 when a
    download was blocked or failed (a dead link, "not found", is reported by `moa check`).

    Example: ice287g moa fetch --limit 50
    """
    _warn_ocr(ocr)
    options = dict(
        limit=limit, delay=delay, source_host=source_host, mirror=mirror, ocr=ocr, workers=workers
    )
    if use_prefect:
        from flows.server import prefect_api

        with prefect_api() as ready:
            from flows.moa import moa_flow

            ready()
            result = moa_flow(data_dir=str(ctx.store.root), **options)
        click.echo(result["summary"], err=True)
        failures = result["failures"]
    else:
        from ice287g.jobs.harvest import harvest

        report = harvest(ctx.store, on_attempt=lambda a: progress.echo(a.line()), **options)
        for doc in report.documents:
            if doc["error"]:
                click.echo(f"unreadable   {doc['url']}  {doc['error']}", err=True)
        click.echo(report.summary_line(), err=True)
        failures = report.failures
    if failures:
        sys.exit(1)


@moa.command(name="read")
@click.argument("paths", nargs=-1, type=click.Path())
@ocr_option
@workers_option
@click.option(
    "--rebuild",
    is_flag=True,
    help="Instead of PATHs: re-read every stored PDF into moa_documents.parquet.",
)
@format_options()
@pass_ctx
@query_errors
def read_cmd(
    ctx: Context,
    paths: tuple[str, ...],
    ocr: bool,
    workers: int,
    rebuild: bool,
    fmt: str,
    output: str | None,
) -> None:
    """Read local MOA PDFs (files or folders): pages, text layer, model, agency, revision.

    A file that cannot be read gets a one-line error naming it; the others are still read;
    exits 1 if any failed. With --rebuild (and no PATH), rebuilds the documents table from the
    PDFs in the store.

    Example: ice287g moa read ../shared/moa-samples/files --format json
    """
    import pandas as pd

    from ice287g.jobs.documents import expand_pdf_paths, read_records

    if rebuild == bool(paths):
        raise click.UsageError("give PDF files or folders to read, or --rebuild (not both)")
    _warn_ocr(ocr)
    if rebuild:
        _rebuild(ctx, ocr, workers)
        return
    files = expand_pdf_paths(paths)
    if not files:
        raise click.ClickException("no PDF files found in " + ", ".join(paths))
    records, failed = [], 0
    with closing(read_records(files, ocr=ocr, workers=workers)) as read:
        for result in progress.track(read, "moa read", total=len(files)):
            if isinstance(result, str):
                failed += 1
                progress.echo(f"error: {result}", err=True)
            else:
                records.append(result)
    columns = ["file", "pages", "has_text", "model", "agency_text", "template_revision"]
    emit(pd.DataFrame(records, columns=columns), fmt, output)
    if failed:
        click.echo(f"{len(files)} files: {len(records)} read, {failed} failed", err=True)
        sys.exit(1)


def _rebuild(ctx: Context, ocr: bool, workers: int) -> None:
    from ice287g.jobs.documents import update_documents
    from ice287g.jobs.harvest import session
    from ice287g.store.documents import documents_path

    store = ctx.store
    with session(store):
        rows = update_documents(store, ocr=ocr, workers=workers, rebuild=True)
    bad = [r for r in rows if r["error"]]
    for row in bad:
        click.echo(f"unreadable   {row['url']}  {row['error']}", err=True)
    click.echo(
        f"rebuilt {documents_path(store)}: {len(rows)} documents, {len(bad)} unreadable", err=True
    )


@moa.command()
@format_options()
@pass_ctx
@query_errors
def check(ctx: Context, fmt: str, output: str | None) -> None:
    """Agreements whose PDF disagrees with the spreadsheet (newest participating version).

    Problems: model differs (the PDF's model is known and differs), agency differs (fuzzy
    comparison, threshold 0.5), link dead (the newest download attempt was not found, blocked
    or failed), no text layer, unreadable PDF. Agreements not fetched yet are not judged.

    Example: ice287g moa check --format csv -o moa-problems.csv
    """
    from ice287g.query.moa import check as run
    from ice287g.store.documents import read_documents

    df = run(ctx.store)
    v = df.attrs.get("version") or {}
    read = read_documents(ctx.store, ["url"]).num_rows
    note = (
        f"# participating version {v.get('date')} #{v.get('seq')} sha256 "
        f"{str(v.get('sha256'))[:12]}: {len(df)} problems; {read} PDFs read so far"
    )
    emit(df, fmt, output, header=note)


@moa.command()
@click.argument("text")
@state_option
@format_options()
@pass_ctx
@query_errors
def search(ctx: Context, text: str, state: str | None, fmt: str, output: str | None) -> None:
    """Agreements whose MOA or addendum text contains TEXT (case-insensitive).

    Line breaks in the PDF match a space. One row per document: state, agency, model,
    agreement_id, document (moa/addendum), url, page of the first hit, hits, snippet.

    Example: ice287g moa search "task force officer" --state FL
    """
    from ice287g.query.moa import search as run

    df = run(ctx.store, text, state)
    emit(df, fmt, output, header=f"# {len(df)} documents mention {text!r}")


@moa.command()
@outcome_option(MOA_OUTCOMES, "attempts")
@format_options()
@pass_ctx
def ledger(ctx: Context, outcome: str | None, fmt: str, output: str | None) -> None:
    """Every MOA download attempt: time, URL, final URL, HTTP status, sha256, outcome, error.

    Example: ice287g moa ledger --outcome "not found" --format csv
    """
    from ice287g.store.ledger import MOA_LEDGER

    df = MOA_LEDGER.read(ctx.store).to_pandas(date_as_object=True)
    if outcome:
        df = df[df["outcome"] == outcome]
    emit(df.reset_index(drop=True), fmt, output)


@moa.command()
@format_options()
@pass_ctx
def documents(ctx: Context, fmt: str, output: str | None) -> None:
    """The documents table without its text: URL, sha256, pages, model, agency, revision.

    Example: ice287g moa documents --format csv
    """
    from ice287g.query.moa import documents_listing

    emit(documents_listing(ctx.store), fmt, output)


# Registered on the `ice287g` group by ice287g.cli (explicitly, by name).
COMMANDS = (moa,)

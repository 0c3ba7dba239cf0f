"""`ice287g publish DEST`: the static site (``ice287g.publish``)."""

from __future__ import annotations

import click

from ice287g.cli.core import Context, pass_ctx, query_errors


@click.command()
@click.argument("dest")
@click.option(
    "--base-url",
    metavar="URL",
    help="Address the site will be served from (absolute links in the feed, citation).",
)
@click.option(
    "--endpoint-url",
    metavar="URL",
    envvar="ICE287G_PUBLISH_ENDPOINT_URL",
    help="S3-compatible endpoint for s3:// destinations (MinIO, R2, ...; env "
    "ICE287G_PUBLISH_ENDPOINT_URL). Credentials: the usual AWS environment variables.",
)
@pass_ctx
@query_errors
def publish(ctx: Context, dest: str, base_url: str | None, endpoint_url: str | None) -> None:
    """Write the whole public record as a static site to DEST (a folder or s3://bucket/prefix).

    The site: index.html (the page: newest counts, a chart over time, a county map, the list
    with search and filters, and an address for every view: ?as_of=DATE, ?diff=A..B,
    ?agency=ID, ?state=ST), feed.xml (Atom), and data/ (every table as CSV and Parquet, a
    SQLite database for Datasette, datapackage.json, checksums). Unchanged files are not
    uploaded again; the data go first and index.html last.

    Example: ice287g publish site/ && python -m http.server -d site
    """
    from ice287g.publish import publish as run

    report = run(dest, ctx.store, base_url=base_url, endpoint_url=endpoint_url)
    click.echo(report.line())


COMMANDS = (publish,)

"""Prefect flows: the nightly refresh and large backfills. Thin: the work is in ice287g.

No task retries: the fetcher is the one retry layer (transient errors only, within a deadline
per download; a block page or a 4xx is final), so a failed download is recorded, reported, and
left for the next run. Each task returns its outcome instead of raising, so an expected failure
(offline, blocked) is one line of the report, not a Prefect traceback; one list failing does not
stop the other.
"""

from __future__ import annotations

from flows.settings import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from flows.moa import moa_flow  # noqa: E402
from ice287g.jobs.refresh import (  # noqa: E402
    RefreshReport,
    conclude,
    discover_links,
    fetch_isolated,
    harvest_after,
    publish_after,
    session,
)
from ice287g.store import Store  # noqa: E402
from scrapers.discover import DEFAULT_SOURCE  # noqa: E402


@task(cache_policy=NO_CACHE)
def discover_task(store: Store, report: RefreshReport, fetcher) -> list:
    return discover_links(store, report, fetcher)


@task(cache_policy=NO_CACHE)
def fetch_task(store: Store, fetcher, link):
    """Fetch one workbook link; a blocked or failed download is its observation's outcome."""
    return fetch_isolated(store, fetcher, link)


@task(cache_policy=NO_CACHE)
def report_task(store: Store, report: RefreshReport) -> str:
    conclude(store, report)
    create_markdown_artifact(
        key="ice287g-refresh",
        markdown=report.summary,
        description="287(g) refresh: counts by model and what changed",
    )
    return report.summary


@task(cache_policy=NO_CACHE)
def publish_task(store: Store, report: RefreshReport):
    """Publish the site after a sound refresh when ICE287G_PUBLISH_TO is set."""
    return publish_after(store, report)


@flow(name="ice287g-refresh", log_prints=True)
def refresh_flow(
    data_dir: str | None = None,
    source: str = DEFAULT_SOURCE,
    moa: bool = True,
    moa_limit: int | None = None,
    moa_delay: float | None = None,
) -> dict:
    """Discover ICE's workbook links, fetch both lists, store new versions, report; then
    harvest the MOA PDFs the newest participating version links (the `ice287g-moa` flow)."""
    store = Store(data_dir)
    with session(store, source) as (report, fetcher):
        for link in discover_task(store, report, fetcher):
            obs = fetch_task(store, fetcher, link)
            report.observations.append(obs)
            report.bytes_downloaded += obs.bytes
        report_task(store, report)
        published = publish_task(store, report)
    print(report.summary)
    result = {
        "summary": report.summary,
        "new_versions": len(report.new_versions),
        "bytes_downloaded": report.bytes_downloaded,
        "warnings": report.warnings,
        **published.result(report),
    }
    plan = harvest_after(store, report, moa, moa_limit, moa_delay)
    if plan:
        result["moa"] = moa_flow(data_dir=data_dir, **plan)
    elif report.harvest_skipped:
        result["moa_skipped"] = report.harvest_skipped
    return result


@flow(name="ice287g-backfill", log_prints=True)
def backfill_flow(paths: list[str], data_dir: str | None = None) -> dict:
    """Ingest archived workbooks (files and folders) in one run."""
    from ice287g.jobs import derived
    from ice287g.jobs.ingest import ingest_paths

    store = Store(data_dir)
    outcomes = ingest_paths(store, paths)
    if any(o.status == "new" for o in outcomes):
        derived.update(store)
    lines = [o.line() for o in outcomes]
    failed = [line for line in lines if line.startswith("failed")]
    create_markdown_artifact(
        key="ice287g-backfill",
        markdown="\n".join(
            [
                "# backfill",
                "",
                f"{len(outcomes)} files, "
                f"{sum(o.status == 'new' for o in outcomes)} new, {len(failed)} failed",
                "",
            ]
            + [f"- {f}" for f in failed]
        ),
    )
    return {
        "files": len(outcomes),
        "new": sum(o.status == "new" for o in outcomes),
        "failed": failed,
    }

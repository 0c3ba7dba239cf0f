"""Prefect flows: the nightly refresh and large backfills. Thin: the work is in ice287g.

The network tasks retry at task level (a blocked or failed download raises after its ledger
row is written, so every attempt is on record); one list failing does not stop the other.
"""

from __future__ import annotations

from flows.settings import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from flows.moa import moa_flow  # noqa: E402
from ice287g.jobs.refresh import (  # noqa: E402
    Observation,
    RefreshReport,
    discover_links,
    fetch_one,
    harvest_after,
    publish_after,
    session,
)
from ice287g.jobs.report import summarize  # noqa: E402
from ice287g.store import Store, ledger  # noqa: E402
from scrapers.discover import DEFAULT_SOURCE  # noqa: E402

NETWORK_RETRIES = 2
RETRY_DELAYS = [30, 120]


class DownloadFailed(RuntimeError):
    pass


@task(retries=NETWORK_RETRIES, retry_delay_seconds=RETRY_DELAYS, cache_policy=NO_CACHE)
def discover_task(store: Store, report: RefreshReport, fetcher) -> list:
    links = discover_links(store, report, fetcher)
    if not links:
        raise DownloadFailed(report.error)
    report.error = None
    return links


@task(retries=NETWORK_RETRIES, retry_delay_seconds=RETRY_DELAYS, cache_policy=NO_CACHE)
def fetch_task(store: Store, fetcher, link, attempts: list):
    """Fetch one workbook link; raise (so Prefect retries) when blocked or failed."""
    try:
        obs = fetch_one(store, fetcher, link)
    except Exception as exc:  # a store error: record it as this link's outcome, then retry
        obs = Observation(
            link.url,
            link.file_name,
            ledger.FAILED,
            error=f"{link.url}: {type(exc).__name__}: {exc}",
        )
        attempts.append(obs)
        raise
    attempts.append(obs)
    if obs.outcome in (ledger.BLOCKED, ledger.FAILED):
        raise DownloadFailed(obs.error or f"{link.url}: {obs.outcome}")
    return obs


@task(cache_policy=NO_CACHE)
def report_task(store: Store, report: RefreshReport) -> str:
    report.summary = summarize(store, report)
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
    retry_delays: list[int] | None = None,
    moa: bool = True,
    moa_limit: int | None = None,
    moa_delay: float | None = None,
) -> dict:
    """Discover ICE's workbook links, fetch both lists, store new versions, report; then
    harvest the MOA PDFs the newest participating version links (the `ice287g-moa` flow)."""
    store = Store(data_dir)
    delays = RETRY_DELAYS if retry_delays is None else retry_delays
    with session(store, source) as (report, fetcher):
        found = discover_task.with_options(retry_delay_seconds=delays)(
            store, report, fetcher, return_state=True
        )
        links = found.result() if found.is_completed() else []
        for link in links:
            attempts: list = []
            fetch_task.with_options(retry_delay_seconds=delays)(
                store, fetcher, link, attempts, return_state=True
            )
            report.observations.append(attempts[-1])
            report.bytes_downloaded += attempts[-1].bytes
        report_task(store, report)
        published = publish_task(store, report)
    print(report.summary)
    result = {
        "summary": report.summary,
        "new_versions": len(report.new_versions),
        "bytes_downloaded": report.bytes_downloaded,
        **published.result(report),
    }
    plan = harvest_after(store, source, moa, moa_limit, moa_delay)
    if plan:
        result["moa"] = moa_flow(data_dir=data_dir, **plan)
    return result


@flow(name="ice287g-backfill", log_prints=True)
def backfill_flow(paths: list[str], data_dir: str | None = None) -> dict:
    """Ingest archived workbooks (files and folders) in one run."""
    from ice287g.jobs.ingest import ingest_paths

    outcomes = ingest_paths(Store(data_dir), paths)
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

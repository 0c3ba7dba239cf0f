"""Prefect flow of the MOA harvest. Thin: the work is in ``ice287g.jobs.harvest``.

``moa_flow`` runs on demand (``ice287g moa fetch --prefect``, or a deployment) and as a subflow
after each refresh (``flows.refresh``, which imports this module; never the reverse).
Individual dead links are data (recorded in the ledger, reported by ``ice287g moa check``), so
no task retries here: the fetcher already retries transient errors, and whatever is left is
tried again on the next run.
"""

from __future__ import annotations

from flows.settings import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from ice287g.jobs.harvest import (  # noqa: E402
    DEFAULT_DELAY,
    DEFAULT_LIMIT,
    HarvestReport,
    fetch_missing,
    read_new,
    session,
)
from ice287g.store.catalog import Store  # noqa: E402


@task(cache_policy=NO_CACHE)
def fetch_task(
    store: Store, limit: int, delay: float, source_host: str | None, mirror: str | None
) -> HarvestReport:
    report = fetch_missing(store, limit=limit, delay=delay, source_host=source_host, mirror=mirror)
    print(report.summary_line())
    return report


@task(cache_policy=NO_CACHE)
def read_task(store: Store, report: HarvestReport, ocr: bool, workers: int) -> int:
    return len(read_new(store, report, ocr=ocr, workers=workers))


@task(cache_policy=NO_CACHE)
def report_task(report: HarvestReport) -> str:
    markdown = report.markdown()
    create_markdown_artifact(
        key="ice287g-moa",
        markdown=markdown,
        description="MOA harvest: downloads by outcome, what was not stored, documents read",
    )
    return markdown


@flow(name="ice287g-moa", log_prints=True)
def moa_flow(
    data_dir: str | None = None,
    limit: int = DEFAULT_LIMIT,
    delay: float = DEFAULT_DELAY,
    source_host: str | None = None,
    mirror: str | None = None,
    ocr: bool = False,
    workers: int = 1,
) -> dict:
    """Download the MOA/addendum PDFs not stored yet (at most ``limit``), read them, report."""
    store = Store(data_dir)
    with session(store):
        report = fetch_task(store, limit, delay, source_host, mirror)
        read_task(store, report, ocr, workers)
    report_task(report)
    return {
        "ok": report.ok,
        "attempts": dict(report.counts),
        "remaining": report.remaining,
        "documents_read": len(report.documents),
        "failures": report.failures,
        "summary": report.summary_line(),
        "stopped": report.stopped_line() if report.stopped else None,
    }

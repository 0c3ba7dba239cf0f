"""Publish the record as a static site: the page, the data files and the feed.

    from ice287g.publish import publish
    publish("site/")                                   # a folder
    publish("s3://bucket/287g", endpoint_url="http://127.0.0.1:9000")

``build`` writes the site into a staging folder (``data/`` tables, SQLite, datapackage, the
page's assets, ``feed.xml``, ``index.html``); ``sync`` copies what changed to the destination
in a reader-safe order. ``publish_after_refresh`` is the nightly step: it publishes to
``$ICE287G_PUBLISH_TO`` only after a sound refresh.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ice287g.errors import UserError

__all__ = ["publish", "publish_after_refresh", "PublishError", "PublishReport"]

PUBLISH_TO = "ICE287G_PUBLISH_TO"
PUBLISH_BASE_URL = "ICE287G_PUBLISH_BASE_URL"
PUBLISH_ENDPOINT_URL = "ICE287G_PUBLISH_ENDPOINT_URL"


class PublishError(UserError, RuntimeError):
    """The site cannot be built or written (a clear one-line reason)."""


@dataclass
class PublishReport:
    dest: str
    files: int
    site_bytes: int
    uploaded: list[str]
    unchanged: list[str]
    deleted: list[str]
    bytes_uploaded: int
    seconds: float

    def line(self) -> str:
        return (
            f"published {self.dest}: {self.files} files ({self.site_bytes / 1e6:.1f} MB), "
            f"{len(self.uploaded)} uploaded ({self.bytes_uploaded / 1e6:.1f} MB), "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted, "
            f"in {self.seconds:.1f} s"
        )


def publish(
    dest: str,
    data_dir=None,
    base_url: str | None = None,
    endpoint_url: str | None = None,
    storage_options: dict | None = None,
) -> PublishReport:
    """Build the site from the store and publish it to `dest` (a folder or fsspec URL)."""
    from ice287g.publish.build import build_site
    from ice287g.publish.sync import sync
    from ice287g.query import _store

    store = _store(data_dir)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ice287g-site-") as tmp:
        site = build_site(store, Path(tmp), base_url)
        report = sync(site.root, dest, endpoint_url, storage_options)
        site_bytes = site.bytes
    return PublishReport(
        dest=dest,
        files=len(site.files) + 1,  # and the manifest
        site_bytes=site_bytes,
        uploaded=report.uploaded,
        unchanged=report.unchanged,
        deleted=report.deleted,
        bytes_uploaded=report.bytes_uploaded,
        seconds=time.perf_counter() - t0,
    )


@dataclass
class NightlyOutcome:
    """What the nightly publish step did: a line for the report (empty when no destination
    is configured) and the failure, if publishing failed."""

    line: str = ""
    failures: list[str] = field(default_factory=list)


def publish_after_refresh(store, report) -> NightlyOutcome:
    """Publish to ``$ICE287G_PUBLISH_TO`` after a refresh (nothing when it is not set).

    A failed refresh, or one that stored a suspect version, publishes nothing: the site
    keeps the last good publication.
    """
    dest = os.environ.get(PUBLISH_TO)
    if not dest:
        return NightlyOutcome()
    if not report.ok:
        return NightlyOutcome(f"not published to {dest}: the refresh failed")
    new = {o.sha256 for o in report.new_versions if o.sha256}
    if new:
        from ice287g.query import catalog

        cat = catalog(store)
        bad = cat[cat["sha256"].isin(new) & cat["suspect"]]
        if len(bad):
            v = bad.iloc[0]
            return NightlyOutcome(
                f"not published to {dest}: the new {v['list']} version {v['date']} is suspect "
                f"({v['suspect_reason']})",
            )
    try:
        done = publish(
            dest,
            store,
            base_url=os.environ.get(PUBLISH_BASE_URL),
            endpoint_url=os.environ.get(PUBLISH_ENDPOINT_URL),
        )
    except PublishError as exc:
        return NightlyOutcome(f"publish failed: {exc}", [f"publish: {exc}"])
    return NightlyOutcome(done.line())

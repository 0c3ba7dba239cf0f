"""Publish the record as a static site: the page, the data files and the feed.

    from ice287g.publish import publish
    publish("site/")                                   # a folder
    publish("s3://bucket/287g", endpoint_url="http://127.0.0.1:9000")

``build`` writes the site into a staging folder (``data/`` tables, SQLite, datapackage, the
page's assets, ``feed.xml``, ``index.html``); ``sync`` copies what changed to the destination
in a reader-safe order. The nightly step (publish to ``$ICE287G_PUBLISH_TO`` only after a
sound refresh) is ``ice287g.jobs.refresh.publish_after``.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ice287g.errors import UserError

__all__ = ["publish", "PublishError", "PublishReport"]

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
    from ice287g.query.versions import store_of

    store = store_of(data_dir)
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

"""What is derived from the stored versions, brought up to date after new versions arrive.

The store's identity (``ice287g.query.identity``: agreements, their life stories, every
spelling), cached under ``<data_dir>/derived/``. The rows of each month that
``counts --agency`` reads (``ice287g.query.agency_rows``) and the site's cached pieces
(``publish``) check themselves when they are read. A new version at the end of
its list extends the cached identity (its rows are read, not the older versions'), so a
nightly refresh costs about the same in year ten as in year one, and the reads after it only
read. The cache is keyed to the catalog: a reader that finds it stale or missing rebuilds it
(`repair` and `rebuild` start from scratch), so a failed update here costs time, never
correctness; it is logged, and the versions stay stored.
"""

from __future__ import annotations

import logging
import shutil
import time

from ice287g.store import Store

log = logging.getLogger(__name__)
# Derived folders `repair` clears, and when they are built again.
CLEARED = {
    "publish": "the next publish builds the site's pieces again",  # ``ice287g.publish.pieces``
    "rows": "the next `counts --agency` builds them again",  # ``query.agency_rows``
}


def update(store: Store) -> float | None:
    """Bring the derived state up to date with the catalog; the seconds it took, or None
    when it failed (logged: the next read rebuilds it)."""
    from ice287g.query import identity

    started = time.perf_counter()
    try:
        identity.load(store)
    except Exception as exc:  # noqa: BLE001 - stored versions stand; readers rebuild
        log.warning("derived state not updated (the next read rebuilds it): %s", exc)
        return None
    return time.perf_counter() - started


def rebuild(store: Store) -> list[str]:
    """Derive everything again from scratch (``repair``): the lines to print."""
    from ice287g.query import identity

    lines = []
    for name, when in CLEARED.items():
        folder = store.root / "derived" / name
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            lines.append(f"derived/{name}/: cleared ({when})")
    started = time.perf_counter()
    try:
        ident = identity.load(store, refresh=True)
    except Exception as exc:  # noqa: BLE001 - named, and left for the next read to retry
        return [*lines, f"derived/identity.pickle: not rebuilt ({exc})"]
    versions, runs = len(ident.observations.versions), len(ident.observations.runs)
    seconds = time.perf_counter() - started
    return [
        *lines,
        f"derived/identity.pickle: resolved again from {versions} versions ({runs} runs) "
        f"in {seconds:.1f} s",
    ]

"""Read-only questions asked of the store: versions, diff, history, status, MOA check, export,
plot.

The names below come from :mod:`ice287g.query.versions` on first use, so that a job needing
only a light module of this package (``status.version_warnings`` in ingest) does not load
pandas.
"""

from __future__ import annotations

__all__ = [
    "COUNT_KEYS",
    "LISTS",
    "QueryError",
    "catalog",
    "counts",
    "latest",
    "select_versions",
    "snapshots",
    "version_on",
]


def __getattr__(name: str):
    if name in __all__:
        from ice287g.query import versions

        return getattr(versions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Read-only questions asked of the store: versions, diff, history, MOA check, export, plot."""

from ice287g.query.versions import (
    COUNT_KEYS,
    LISTS,
    QueryError,
    catalog,
    counts,
    latest,
    select_versions,
    snapshots,
    version_on,
)

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

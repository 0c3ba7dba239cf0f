"""Versioned public record of ICE's 287(g) agreements.

    from ice287g import snapshots, latest, counts, diff, history, agreements
    latest(as_of="2025-04-04")            # rows in effect on a date
    counts(by=["model"], since="2025-03-01")
    diff("2025-04-04", "2025-07-01")      # what changed between two dates
    history("taylor county", state="FL")  # one agency's life story
    terminations(since="2025-06-01")      # real removals (renames are not removals)
    aliases("Boca Raton PD", state="FL")  # every spelling of an agency
    load_identity().candidates()          # the store's resolved identity: pairs for review

The identity stage itself (pure: ``resolve(versions, rows)``) is ``ice287g.identity``.

Every function takes ``data_dir=`` (default ./data or $ICE287G_DATA_DIR) and returns a
pandas DataFrame with pandas dtypes: datetime64 dates, nullable Int64 integers, categorical
list/model/state/agency_type (``ice287g.query.api``).
"""

from __future__ import annotations

__all__ = [
    "snapshots",
    "latest",
    "counts",
    "diff",
    "history",
    "agreements",
    "terminations",
    "aliases",
    "load_identity",
    "counties",
    "status",
]


def __getattr__(name: str):
    # Lazy, so `import ice287g` (and the CLI) stays light until a query is asked.
    if name in __all__:
        from ice287g.query import api

        return getattr(api, name)
    if name == "catalog":
        from ice287g import query

        return query.catalog
    if name == "load_identity":
        from ice287g.query.identity import load

        return load
    raise AttributeError(name)

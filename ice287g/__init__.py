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
pandas DataFrame.
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
    if name in ("snapshots", "latest", "counts", "catalog"):
        from ice287g import query

        return getattr(query, name)
    if name == "status":
        from ice287g.query.status import status

        return status
    if name == "diff":
        from ice287g.query.diff import diff

        return diff
    if name in ("agreements", "terminations", "aliases"):
        from ice287g.query import identity as _identity

        return getattr(_identity, name)
    if name == "load_identity":
        from ice287g.query.identity import load

        return load
    if name == "history":
        from ice287g.query.history import history

        return history
    if name == "counties":
        from ice287g.query.counties import counties

        return counties
    raise AttributeError(name)

"""Versioned public record of ICE's 287(g) agreements.

    from ice287g import snapshots, latest, counts, diff, history, agreements
    latest(as_of="2025-04-04")            # rows in effect on a date
    counts(by=["model"], since="2025-03-01")
    diff("2025-04-04", "2025-07-01")      # what changed between two dates
    history("taylor county", state="FL")  # one agency's timeline

Every function takes ``data_dir=`` (default ./data or $ICE287G_DATA_DIR) and returns a
pandas DataFrame.
"""

from __future__ import annotations

__all__ = ["snapshots", "latest", "counts", "diff", "history", "agreements", "counties", "status"]


def __getattr__(name: str):
    # Lazy, so `import ice287g` (and the CLI) stays light until a query is asked.
    if name in ("snapshots", "latest", "counts", "catalog"):
        from ice287g import query

        return getattr(query, name)
    if name == "status":
        from ice287g.drift import status

        return status
    if name == "diff":
        from ice287g.changes import diff

        return diff
    if name in ("history", "agreements", "counties"):
        # `ice287g.history` is also the module's name; the module itself is callable.
        import ice287g.history as _history

        return _history if name == "history" else getattr(_history, name)
    raise AttributeError(name)

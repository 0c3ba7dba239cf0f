"""Replaying a diff: the property tests check that applying diff(a, b) to a's agreements
gives b's."""

from __future__ import annotations

import pandas as pd

from ice287g.identity import Identity


def agreements_of(ident: Identity, a: pd.DataFrame, b: pd.DataFrame) -> tuple[set[str], set[str]]:
    """The stable agreement ids listed in rows `a` and in rows `b`, by `ident` (the two
    resolved together: ``query.diff.two_versions(a, b)``)."""

    def ids(rows):
        return {ident.agreement_of(k) for k in rows["agreement_id"].dropna()}

    return ids(a), ids(b)


def apply_diff(ids: set[str], changes: pd.DataFrame) -> set[str]:
    """Agreement ids of the first version -> those of the second, by the diff's records (a
    rename keeps its agreement's id)."""
    out = set(ids)
    for rec in changes.to_dict(orient="records"):
        if rec["change"] == "removed":
            out.discard(rec["agreement_id"])
        elif rec["change"] == "added":
            out.add(rec["agreement_id"])
    return out

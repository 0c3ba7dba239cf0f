"""Replaying a diff: the property tests check that applying diff(a, b) to a's ids gives b's."""

from __future__ import annotations

import pandas as pd

from ice287g.query.diff import old_id


def apply_diff(ids: set[str], changes: pd.DataFrame) -> set[str]:
    """Agreement ids of the first version -> those of the second, by the diff's records."""
    out = set(ids)
    for rec in changes.to_dict(orient="records"):
        if rec["change"] == "removed":
            out.discard(rec["agreement_id"])
        elif rec["change"] == "added":
            out.add(rec["agreement_id"])
        elif rec["field"] == "agency":
            out.discard(old_id(rec))
            out.add(rec["agreement_id"])
    return out

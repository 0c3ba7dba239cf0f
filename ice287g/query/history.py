"""Agreement history in resolved identities: one agency's life story, and every agreement.

The tables come from the store's identity (:mod:`ice287g.query.identity`, cached under
``<data_dir>/derived/``): every spelling ICE ever printed finds its agency, and a relabel is
a ``renamed`` event, not a removal and an addition. Events: ``listed``, ``renamed``,
``moa_posted``, ``re_signed``, ``changed``, ``model_added``, ``model_switched``,
``removed``, ``returned``.
"""

from __future__ import annotations

import pandas as pd

from ice287g.identity import columns
from ice287g.normalize.apply import agency_key
from ice287g.normalize.names import matching_keys
from ice287g.query.identity import agreements, load
from ice287g.query.versions import QueryError, parse_state

AGREEMENT_FIELDS = columns.AGREEMENT_FIELDS
EVENT_FIELDS = columns.EVENT_FIELDS
AGREEMENT_COLUMNS = columns.names(AGREEMENT_FIELDS)
EVENT_COLUMNS = columns.names(EVENT_FIELDS)
TIMELINE_COLUMNS = [
    "date",
    "list",
    "event",
    "model",
    "field",
    "before",
    "after",
    "agency",
    "agreement_id",
    "evidence",
]


class AmbiguousQuery(QueryError):
    """Several agencies match; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: pd.DataFrame):
        super().__init__(message)
        self.candidates = candidates


def find_agencies(query: str, spellings: pd.DataFrame, state: str | None = None) -> list[str]:
    """agency_ids whose spellings (any ever printed) match `query` (see
    ``names.matching_keys``)."""
    if state:
        spellings = spellings[spellings["state"] == parse_state(state)]
    keys = [agency_key(n) if isinstance(n, str) else "" for n in spellings["name"]]
    found = matching_keys(agency_key(query), keys)
    return sorted({a for a, k in zip(spellings["agency_id"], keys) if k in found})


def history(
    query: str | None = None, state: str | None = None, data_dir=None, include_suspect: bool = False
) -> pd.DataFrame:
    """Life story of one agency (all its agreements, both lists) or, without a query, of all.

    Raises ``AmbiguousQuery`` (a QueryError) when several agencies match, ``QueryError``
    when none does. The frame's attrs carry ``agency_id``, ``agreements`` (their rows of
    the agreements table) when one agency was asked for.
    """
    ident = load(data_dir, include_suspect)
    events = ident.events()
    if query is None:
        out = events if not state else events[events["state"] == parse_state(state)]
        return out.reset_index(drop=True)
    spellings = ident.aliases()
    found = find_agencies(query, spellings, state)
    if not found:
        raise QueryError(f"no agency matches {query!r}" + (f" in {state}" if state else ""))
    if len(found) > 1:
        hits = spellings[spellings["agency_id"].isin(found)]
        cand = (
            hits.groupby("agency_id")
            .agg(
                state=("state", "first"),
                agency=("name", "last"),
                spellings=("name", lambda s: "; ".join(sorted(set(s.dropna())))),
            )
            .reset_index()
        )
        raise AmbiguousQuery(
            f"{len(found)} agencies match {query!r}: narrow the name or add --state",
            cand[["agency_id", "state", "agency", "spellings"]],
        )
    agency = found[0]
    mine = ident.agreements()
    mine = mine[mine["agency_id"] == agency]
    ids = set(mine["agreement_id"])
    out = events[(events["agency_id"] == agency) | events["agreement_id"].isin(ids)]
    out = out.reset_index(drop=True)
    out.attrs["agency_id"] = agency
    out.attrs["agreements"] = mine.reset_index(drop=True)
    return out


__all__ = [
    "AGREEMENT_COLUMNS",
    "EVENT_COLUMNS",
    "TIMELINE_COLUMNS",
    "AmbiguousQuery",
    "agreements",
    "find_agencies",
    "history",
    "load",
]

"""The agreement timeline, built from every stored version: events and one record per agreement.

The history is the chain of diffs (``diff.diff_records``) between consecutive versions of
each list (suspect versions skipped unless asked), read with only the columns it needs:

- ``events`` (the timeline): one record per agreement appearance, disappearance, return and
  field change, dated by the version where it was first seen;
- ``agreements``: one record per agreement ever on the participating list.

Spelling fixes are followed: when a diff pairs a removed and an added agreement as a rename,
both ids belong to one agreement, known by the id it has in the newest version that lists
it (the older ids are kept in ``former_ids``). Caching and the questions asked of the result
are :mod:`ice287g.query.history`.
"""

from __future__ import annotations

import pandas as pd

from ice287g.query.diff import (
    DIFF_COLUMNS,
    READ_COLUMNS,
    Record,
    comparable_fields,
    diff_records,
    old_id,
    records,
)

AGREEMENT_FIELDS: list[tuple[str, str, str]] = [
    ("agreement_id", "string", "Agreement key `ST:name:MODEL` in the newest version that lists it"),
    ("agency_id", "string", "Agency key `ST:name` (case, spacing, punctuation ignored)"),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name as spelled in the newest version that lists it"),
    ("model", "string", "Support model: `JEM`, `TFM`, `WSO` or `TTFM`"),
    ("agency_type", "string", "Agency type in the newest version that lists it"),
    ("county", "string", "County in the newest version that lists it"),
    ("first_seen", "date", "Date of the first version of the participating list with it"),
    ("last_seen", "date", "Date of the last version with it"),
    ("status", "string", "`active` (in the newest version) or `removed`"),
    ("versions_seen", "integer", "Number of versions that list it"),
    ("gaps", "integer", "Times it disappeared from the list and came back"),
    (
        "gap_ranges",
        "string",
        "The dates of the versions it was missing from, as `first/last` ranges joined with `; `",
    ),
    ("moa_first_available", "date", "Date of the first version with a link to its MOA"),
    ("signed", "date", "Signing date in the newest version that lists it"),
    ("moa_url", "string", "MOA link in the newest version that lists it"),
    ("former_ids", "string", "Earlier agreement ids (spelling fixes), joined with `; `"),
    ("pending_first_seen", "date", "First date the agency was on the pending list"),
    (
        "participating_first_seen",
        "date",
        "First date on the participating list (set when the agency was on the pending list)",
    ),
    ("days_waited", "integer", "Days from pending_first_seen to participating_first_seen"),
    (
        "pending_match",
        "string",
        "How the pending entry was found: `agreement` (same agency "
        "and model) or `agency` (same agency, any model, listed as "
        "pending before the agreement appeared)",
    ),
]
EVENT_FIELDS: list[tuple[str, str, str]] = [
    ("date", "date", "Date of the version where the event is first seen"),
    ("seq", "integer", "Order of that version within its day"),
    ("list", "string", "`participating` or `pending`"),
    ("sha256", "string", "SHA-256 of that version's workbook"),
    (
        "event",
        "string",
        "`present` (in the first stored version of the list), `added`, "
        "`removed`, `returned` (added again after a gap) or `changed`",
    ),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name as listed in that version"),
    ("model", "string", "Support model"),
    ("agreement_id", "string", "Agreement key in that version"),
    ("field", "string", "For `changed`: the field (see `diff`)"),
    ("before", "string", "For `changed`: the value before"),
    ("after", "string", "For `changed`: the value after"),
    ("history_id", "string", "The agreement's id in the agreements table (spellings followed)"),
    ("history_agency_id", "string", "The agency's key in the agreements table"),
]
AGREEMENT_COLUMNS = [n for n, _, _ in AGREEMENT_FIELDS]
EVENT_COLUMNS = [n for n, _, _ in EVENT_FIELDS]


class _Union:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, x: str, y: str) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def build(store, versions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agreements, events) from the given catalog rows (both lists)."""
    union = _Union()
    events: list[dict] = []
    seen: dict[str, dict[str, _Seen]] = {"participating": {}, "pending": {}}
    dates: dict[str, list] = {}
    for lst in ("participating", "pending"):
        rows = versions[versions["list"] == lst].reset_index(drop=True)
        dates[lst] = list(rows["date"])
        acc = seen[lst]
        prev, prev_cols = None, None
        for i, v in enumerate(rows.itertuples()):
            recs = records(store.read_snapshot(v.snapshot, columns=READ_COLUMNS))
            meta = {"date": v.date, "seq": v.seq, "list": lst, "sha256": v.sha256}
            if prev is None:
                changes = [
                    {
                        "change": "present",
                        "state": r.state,
                        "agency": r.agency,
                        "model": r.model,
                        "agreement_id": aid,
                        "field": None,
                        "before": None,
                        "after": None,
                    }
                    for aid, r in sorted(recs.items())
                ]
            else:
                changes = diff_records(prev, recs, comparable_fields(prev_cols, v.columns))
            for rec in changes:
                rec.update(meta)
                if rec["field"] == "agency":
                    old = old_id(rec)
                    if old != rec["agreement_id"]:
                        union.union(old, rec["agreement_id"])
            events.extend(changes)
            for aid, rec in recs.items():
                item = acc.get(aid)
                if item is None:
                    item = acc[aid] = _Seen()
                item.add(i, rec)
            prev, prev_cols = recs, v.columns
    canon = _canonical(seen, union)
    ev = _label_events(
        pd.DataFrame(events, columns=[*EVENT_COLUMNS[:4], *DIFF_COLUMNS]), union, canon
    )
    agreements = _agreements(seen, dates, union, canon)
    return agreements, ev


class _Seen:
    """Where one agreement id was seen in one list: version indexes, first MOA link, and its
    newest record."""

    __slots__ = ("idx", "moa", "rec")

    def __init__(self):
        self.idx: list[int] = []
        self.moa: int | None = None
        self.rec: Record | None = None

    def add(self, i: int, rec: Record) -> None:
        self.idx.append(i)
        self.rec = rec
        if self.moa is None and rec.moa_status == "available":
            self.moa = i


def _canonical(seen: dict[str, dict[str, _Seen]], union: _Union) -> dict[str, str]:
    """root -> the id of the group in the newest version listing it (participating first)."""
    canon: dict[str, str] = {}
    for lst in ("pending", "participating"):  # participating last, so it wins
        best: dict[str, tuple] = {}
        for aid, item in seen[lst].items():
            root = union.find(aid)
            key = (item.idx[-1], aid)
            if root not in best or key > best[root]:
                best[root] = key
        canon.update({root: key[1] for root, key in best.items()})
    return canon


def _label_events(ev: pd.DataFrame, union: _Union, canon: dict[str, str]) -> pd.DataFrame:
    if ev.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    ev["history_id"] = [canon.get(union.find(x), x) for x in ev["agreement_id"]]
    ev["history_agency_id"] = [h.rsplit(":", 1)[0] for h in ev["history_id"]]
    event = list(ev["change"])
    met: set[tuple[str, str]] = set()
    for i, (lst, change, hid) in enumerate(zip(ev["list"], ev["change"], ev["history_id"])):
        if change == "added" and (lst, hid) in met:
            event[i] = "returned"
        met.add((lst, hid))
    ev["event"] = event
    order = {"present": 0, "added": 1, "returned": 1, "removed": 2, "changed": 3}
    ev = ev.assign(_o=ev["event"].map(order))
    ev = ev.sort_values(
        ["date", "list", "seq", "history_agency_id", "_o", "agreement_id"], kind="mergesort"
    )
    return ev[EVENT_COLUMNS].reset_index(drop=True)


def _agreements(
    seen: dict[str, dict[str, _Seen]], dates: dict[str, list], union: _Union, canon: dict[str, str]
) -> pd.DataFrame:
    part = seen["participating"]
    if not part:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    pdates = dates["participating"]
    newest = len(pdates) - 1
    groups: dict[str, list[str]] = {}
    for aid in part:
        groups.setdefault(canon[union.find(aid)], []).append(aid)
    # Pending: first date per group, and per agency key (for the any-model fallback).
    pend_group: dict[str, list] = {}
    pend_agency: dict[str, list] = {}
    for aid, item in seen["pending"].items():
        days = [dates["pending"][i] for i in item.idx]
        pend_group.setdefault(canon.get(union.find(aid), aid), []).extend(days)
        pend_agency.setdefault(item.rec.agency_id, []).extend(days)
    out = []
    for hid, members in groups.items():
        items = [part[m] for m in members]
        idx = sorted(set().union(*(it.idx for it in items)))
        last = max(members, key=lambda m: (part[m].idx[-1], m == hid))
        rec = part[last].rec
        moas = [it.moa for it in items if it.moa is not None]
        breaks = [
            (idx[k] + 1, idx[k + 1] - 1) for k in range(len(idx) - 1) if idx[k + 1] > idx[k] + 1
        ]
        first = pdates[idx[0]]
        # Waiting time: pending listings up to the first participating one only (ICE also
        # re-lists some active agreements as pending later; that is not a wait).
        match, pending = None, [d for d in pend_group.get(hid, ()) if d <= first]
        if pending:
            match = "agreement"
        else:
            agency_ids = {part[m].rec.agency_id for m in members}
            pending = [d for a in agency_ids for d in pend_agency.get(a, ()) if d <= first]
            match = "agency" if pending else None
        pending_first = min(pending) if pending else None
        out.append(
            {
                "agreement_id": hid,
                "agency_id": rec.agency_id,
                "state": rec.state,
                "agency": rec.agency,
                "model": rec.model,
                "agency_type": rec.agency_type,
                "county": rec.county,
                "first_seen": first,
                "last_seen": pdates[idx[-1]],
                "status": "active" if idx[-1] == newest else "removed",
                "versions_seen": len(idx),
                "gaps": len(breaks),
                "gap_ranges": "; ".join(f"{pdates[a]}/{pdates[b]}" for a, b in breaks) or None,
                "moa_first_available": pdates[min(moas)] if moas else None,
                "signed": rec.signed,
                "moa_url": rec.moa_url,
                "former_ids": "; ".join(sorted(m for m in members if m != hid)) or None,
                "pending_first_seen": pending_first,
                "participating_first_seen": first if pending_first else None,
                "days_waited": (first - pending_first).days if pending_first else None,
                "pending_match": match,
            }
        )
    df = pd.DataFrame(out, columns=AGREEMENT_COLUMNS)
    df = df.sort_values(["state", "agency", "model"], kind="mergesort").reset_index(drop=True)
    df["days_waited"] = df["days_waited"].astype("Int64")
    return df

"""Each agreement's life story, told in resolved identities: events, the agreements table,
terminations, and the difference between two versions.

Pure: ``Observations`` and ``Links`` in, frames out. One rule compares two rows of an
agreement (``row_changes``); the events between consecutive versions and the diff between
any two versions both use it, so they always speak the same words:

- ``renamed``: the agency's name as printed changed (before / after), whatever linked the
  spellings (the ``evidence`` column says which tier);
- ``moa_posted``: the MOA link appeared (before: ``pending`` or ``missing``; after: URL);
- ``re_signed``: a signing date at least ``RESIGN_MIN_DAYS`` later (a renewal; a date moved
  by a few days is a correction, reported as ``changed`` ``signed``);
- ``changed``: any other compared field (``observe.FIELDS``), when both versions carry its
  column.

Events only: ``listed`` (first listing), ``removed`` (absent from the next version; every
version read is a sound one, suspect versions being left out by the adapter), ``returned``,
``model_added`` (a new agreement of an agency that keeps its others) and ``model_switched``
(an agency's agreement of one model ends on the version where one of another model begins:
both agreements get the event; the one that ended is ``superseded``, not removed).

When ICE lists one agreement twice (two spellings side by side), the spelling that stays
listed longest stands for it, so a duplicate that drops out is not a rename back and forth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pandas as pd

from ice287g.identity import columns
from ice287g.identity.link import Links
from ice287g.identity.listings import Listings
from ice287g.identity.observe import FIELDS, LISTS, Observations
from ice287g.identity.runs import covering

# A signing date this many days or more after the previous one is a renewal (re_signed).
RESIGN_MIN_DAYS = 30

EVENT_COLUMNS = columns.names(columns.EVENT_FIELDS)
DIFF_COLUMNS = columns.names(columns.DIFF_FIELDS)
AGREEMENT_COLUMNS = columns.names(columns.AGREEMENT_FIELDS)
# The events' columns ``agreements`` reads (returns, supersessions).
AGREEMENT_EVENT_COLUMNS = ["list", "event", "agreement_id", "detail"]
TERMINATION_COLUMNS = columns.names(columns.TERMINATION_FIELDS)
ALIAS_COLUMNS = columns.names(columns.ALIAS_FIELDS)
CHANGES = ("added", "removed", "renamed", "re_signed", "moa_posted", "changed")  # report order
_CHANGE_ORDER = {c: i for i, c in enumerate(CHANGES)}


# --- comparing two rows of one agreement --------------------------------------------------------
def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def row_changes(a: dict, b: dict, fields) -> list[tuple[str, str, str | None, str | None]]:
    """(change, field, before, after) from row `a` to row `b` of one agreement, for the
    `fields` both versions carry."""
    out = []
    for f in FIELDS:
        if f not in fields or a.get(f) == b.get(f):
            continue
        before, after = a.get(f), b.get(f)
        if f == "agency":
            out.append(("renamed", f, before, after))
        elif f == "signed":
            later = before and after and (after - before).days >= RESIGN_MIN_DAYS
            out.append(("re_signed" if later else "changed", f, _text(before), _text(after)))
        elif f == "moa_status":
            if after == "available" and b.get("moa_url"):
                out.append(("moa_posted", "moa_url", before, b.get("moa_url")))
            else:
                out.append(("changed", f, before, after))
        elif f == "moa_url" and a.get("moa_status") != "available":
            continue  # reported with the posting (or the status change) above
        else:
            out.append(("changed", f, _text(before), _text(after)))
    return out


# --- the agreements table -----------------------------------------------------------------------
def agreements(ob: Observations, links: Links, lists: Listings, ev: pd.DataFrame) -> pd.DataFrame:
    """One record per agreement ever on the participating list (``AGREEMENT_COLUMNS``)."""
    rows = lists.rows
    part = rows[rows["li"] == 0]
    if part.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    versions = ob.versions.set_index(["li", "pos"])
    dates = versions["date"].to_dict()
    shas = versions["sha256"].to_dict()
    vrec = ob.records
    newest = ob.last_pos(LISTS[0])
    span = part.assign(size=part["end"] - part["start"] + 1).groupby("gid")
    span = pd.DataFrame(
        {"min": span["start"].min(), "max": span["end"].max(), "size": span["size"].sum()}
    )
    last_rows = dict(zip(span.index, part.drop_duplicates("gid", keep="last").to_dict("records")))
    first_rows = dict(zip(span.index, part.drop_duplicates("gid").to_dict("records")))
    available = np.array([vrec[v]["moa_status"] == "available" for v in range(len(vrec))])
    posted = part[available[part["vid"].to_numpy()]].groupby("gid")["start"].min().to_dict()
    # Spellings, keys and the tiers that joined them, per agreement.
    nodes = ob.nodes
    node_names, node_first = nodes["names"].tolist(), nodes["first"].tolist()
    members: dict[int, list[int]] = defaultdict(list)
    for nid in sorted(range(len(nodes)), key=lambda i: (node_first[i], lists.node[i])):
        members[int(lists.gid[nid])].append(nid)
    tiers = _tiers_by_agreement(links)
    e = ev[AGREEMENT_EVENT_COLUMNS]
    part_ev = e["list"] == LISTS[0]
    returns = e[part_ev & (e["event"] == "returned")].groupby("agreement_id").size().to_dict()
    switched = e[part_ev & (e["event"] == "model_switched")]
    switched = switched[switched["detail"].str.startswith("replaced by", na=False)]
    superseded = dict(zip(switched["agreement_id"], switched["detail"].str[len("replaced by ") :]))
    pending = _pending_links(rows, lists, dates, first_rows)
    out = []
    for gid_, pmin, pmax, n in zip(
        span.index.tolist(), span["min"].tolist(), span["max"].tolist(), span["size"].tolist()
    ):
        aid = lists.ids[gid_]
        r = lists.record(0, last_rows[gid_], vrec)
        v = vrec[r["vid"]]
        active = pmax == newest
        status = "active" if active else ("superseded" if aid in superseded else "removed")
        spell = list(dict.fromkeys(a for nid in members[gid_] for a in node_names[nid]))
        pend = pending.get(gid_, (None, None, None))
        out.append(
            {
                "agreement_id": aid,
                "agency_id": r["agency_id"],
                "state": r["state"],
                "agency": v["agency"],
                "model": r["model"],
                "status": status,
                "first_listed": dates[(0, pmin)],
                "last_listed": dates[(0, pmax)],
                "removed_on": None if active else dates[(0, pmax + 1)],
                "last_sha256": shas[(0, pmax)],
                "versions_listed": n,
                "returns": int(returns.get(aid, 0)),
                "names": "; ".join(spell),
                "keys": "; ".join(lists.node[nid] for nid in members[gid_]),
                "evidence": "; ".join(tiers.get(aid, ["exact"])),
                "signed": v["signed"],
                "first_signed": vrec[first_rows[gid_]["vid"]]["signed"],
                "moa_url": v["moa_url"],
                "moa_posted": dates[(0, posted[gid_])] if gid_ in posted else None,
                "addendum_url": v["addendum_url"],
                "county": v["county"],
                "agency_type": v["agency_type"],
                "pending_first_listed": pend[0],
                "days_waited": pend[1],
                "pending_match": pend[2],
                "superseded_by": superseded.get(aid) if status == "superseded" else None,
            }
        )
    df = pd.DataFrame(out, columns=AGREEMENT_COLUMNS)
    df["days_waited"] = df["days_waited"].astype("Int64")
    df = df.sort_values(["state", "agency", "model", "agreement_id"], kind="mergesort")
    return df.reset_index(drop=True)


def _tiers_by_agreement(links: Links) -> dict[str, list[str]]:
    m = links.merges[links.merges["level"] == "agreement"]
    out: dict[str, list[str]] = defaultdict(list)
    for a, tier in zip(m["a"], m["tier"]):
        g = links.group[a]
        if tier not in out[g]:
            out[g].append(tier)
    return {g: ["exact", *t] for g, t in out.items()}


def _pending_links(rows, lists: Listings, dates, first_rows) -> dict[int, tuple]:
    """gid -> (first pending date, days waited, match) for agreements that were on the
    pending list before their first participating listing: as the same agreement, else as
    the same agency under any model. A later re-listing as pending is not a wait."""
    pend = rows[rows["li"] == 1]
    if pend.empty:
        return {}
    # The first pending date is all that matters: a wait began on it when it is on or
    # before the first participating listing (then so is the earliest of all).
    first = pend.assign(agency=lists.agency[pend["nid"].to_numpy()])
    by_gid = first.groupby("gid")["start"].min().to_dict()
    by_agency = first.groupby("agency")["start"].min().to_dict()
    out = {}
    for g, r in first_rows.items():
        start = dates[(0, r["start"])]
        for match, pos in (
            ("agreement", by_gid.get(g)),
            ("agency", by_agency.get(lists.agency[r["nid"]])),
        ):
            if pos is not None and dates[(1, pos)] <= start:
                out[g] = (dates[(1, pos)], (start - dates[(1, pos)]).days, match)
                break
    return out


def terminations(
    agreements_df: pd.DataFrame, since=None, until=None, state: str | None = None
) -> pd.DataFrame:
    """Real removals: agreements whose last listing ended (status ``removed``: not merged
    into another spelling, not superseded by another model, not back since), with the
    removal dated between `since` and `until`, the last version that listed each, and its
    MOA URL."""
    df = agreements_df[agreements_df["status"] == "removed"]
    if since is not None:
        df = df[df["removed_on"] >= since]
    if until is not None:
        df = df[df["removed_on"] <= until]
    if state:
        df = df[df["state"] == state]
    return df.sort_values(["removed_on", "state", "agency"], kind="mergesort")[
        TERMINATION_COLUMNS
    ].reset_index(drop=True)


# --- every spelling -----------------------------------------------------------------------------
def spellings(ob: Observations, links: Links, lists: Listings) -> pd.DataFrame:
    """Every agency name ever printed, with the agreement and agency it belongs to
    (``ALIAS_COLUMNS``): one record per (spelling, exact key)."""
    # (vid, li) -> the first and last position listing that row: one record per variant
    # and list, however many runs the years have cut it into.
    span = ob.runs.groupby(["vid", "li"]).agg(lo=("start", "min"), hi=("end", "max"))
    v = ob.versions
    dates = dict(zip(zip(v["li"].tolist(), v["pos"].tolist()), v["date"].tolist()))
    agency = ob.variants["agency"].tolist()
    nid_of = ob.variants["nid"].tolist()
    seen: dict[tuple, list] = {}
    for (vid, li), lo, hi in zip(span.index.tolist(), span["lo"].tolist(), span["hi"].tolist()):
        key = (nid_of[vid], agency[vid])
        first, last = dates[(li, lo)], dates[(li, hi)]
        rec = seen.setdefault(key, [first, last, set()])
        rec[0], rec[1] = min(rec[0], first), max(rec[1], last)
        rec[2].add(li)
    out = []
    for (nid, name), (first, last, lis) in seen.items():
        node = lists.node[nid]
        out.append(
            {
                "state": lists.state[nid],
                "name": name,
                "agency_id": lists.agency[nid],
                "agreement_id": links.group[node],
                "model": lists.model[nid],
                "key": node,
                "lists": "; ".join(LISTS[i] for i in sorted(lis)),
                "first_listed": first,
                "last_listed": last,
                "evidence": links.evidence.get(node, "exact"),
            }
        )
    df = pd.DataFrame(out, columns=ALIAS_COLUMNS)
    return df.sort_values(
        ["state", "agency_id", "first_listed", "name", "key"], kind="mergesort"
    ).reset_index(drop=True)


# --- the difference between two versions ----------------------------------------------------------
def diff(ob: Observations, links: Links, lists: Listings, sha_a: str, sha_b: str) -> pd.DataFrame:
    """What changed from version `sha_a` to version `sha_b` of one list, agreement by
    agreement in resolved identities (``DIFF_COLUMNS``): ``added``, ``removed``,
    ``renamed``, ``re_signed``, ``moa_posted``, ``changed``."""
    versions = ob.versions.set_index("sha256")
    va, vb = versions.loc[sha_a], versions.loc[sha_b]
    if va["li"] != vb["li"]:
        raise ValueError(f"{sha_a[:12]} and {sha_b[:12]} are versions of different lists")
    rows = lists.rows[lists.rows["li"] == va["li"]]
    # gid -> the run standing for it in each version (one per agreement and version)
    a = {r["gid"]: r for r in covering(rows, va["li"], va["pos"]).to_dict("records")}
    b = {r["gid"]: r for r in covering(rows, vb["li"], vb["pos"]).to_dict("records")}
    vrec = ob.records
    fields = va["fields"] & vb["fields"]
    out = []

    def record(change, gid_, side, field=None, before=None, after=None, evidence=None):
        r = lists.record(0, side[gid_], vrec)
        out.append(
            {
                "change": change,
                "state": r["state"],
                "agency": r["agency"],
                "model": r["model"],
                "agreement_id": r["agreement_id"],
                "agency_id": r["agency_id"],
                "field": field,
                "before": before,
                "after": after,
                "evidence": evidence,
            }
        )

    for gid_ in sorted(b.keys() - a.keys()):
        record("added", gid_, b)
    for gid_ in sorted(a.keys() - b.keys()):
        record("removed", gid_, a)
    for gid_ in sorted(a.keys() & b.keys()):
        ra, rb = a[gid_], b[gid_]
        if ra["vid"] == rb["vid"]:
            continue
        for change, field, before, after in row_changes(vrec[ra["vid"]], vrec[rb["vid"]], fields):
            ev = None
            if change == "renamed":
                ev = links.path(lists.node[ra["nid"]], lists.node[rb["nid"]])
            record(change, gid_, b, field, before, after, ev)
    df = pd.DataFrame(out, columns=DIFF_COLUMNS, dtype=object)
    df["_o"] = df["change"].map(_CHANGE_ORDER).fillna(9)
    df["_f"] = df["field"].map({f: i for i, f in enumerate(FIELDS)}).fillna(-1)
    df = df.sort_values(["_o", "state", "agreement_id", "_f"], kind="mergesort")
    return df.drop(columns=["_o", "_f"]).reset_index(drop=True)

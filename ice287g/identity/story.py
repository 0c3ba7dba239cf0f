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
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ice287g.identity import columns
from ice287g.identity.link import Links
from ice287g.identity.observe import FIELDS, LISTS, Observations, covering

# A signing date this many days or more after the previous one is a renewal (re_signed).
RESIGN_MIN_DAYS = 30

EVENT_COLUMNS = columns.names(columns.EVENT_FIELDS)
DIFF_COLUMNS = columns.names(columns.DIFF_FIELDS)
AGREEMENT_COLUMNS = columns.names(columns.AGREEMENT_FIELDS)
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


# --- who stands for an agreement in each version -----------------------------------------------
@dataclass
class Listings:
    """Who stands for each agreement in each version. ``rows``: runs of consecutive
    versions of one list in which one row stands for an agreement: integer codes ``li``,
    ``gid``, ``nid``, ``vid``, ``start``, ``end`` (positions, inclusive), sorted by list,
    agreement, start. ``ids``: gid -> agreement id; per node (nid): ``gid``, ``agency``
    (the resolved agency id), ``node``, ``state``, ``model``."""

    rows: pd.DataFrame
    ids: np.ndarray
    gid: np.ndarray
    agency: np.ndarray
    node: np.ndarray
    state: np.ndarray
    model: np.ndarray
    crowded: frozenset = frozenset()  # gids listed under two keys at once (see listings)

    def record(self, i: int, r: dict, variants: dict) -> dict:
        nid = r["nid"]
        return {
            "list": LISTS[r["li"]],
            "li": r["li"],
            "pos": r["start"],
            "vid": r["vid"],
            "nid": nid,
            "node": self.node[nid],
            "agreement_id": self.ids[r["gid"]],
            "agency_id": self.agency[nid],
            "state": self.state[nid],
            "model": self.model[nid],
            "agency": variants[r["vid"]]["agency"],
        }


def listings(ob: Observations, links: Links) -> Listings:
    """The node standing for each agreement in each version. When ICE lists one agreement
    twice (two spellings side by side), the spelling listed longest stands for it: latest
    last listing, then earliest first listing, then the key."""
    nodes = ob.nodes
    node = nodes["node"].to_numpy(object)
    ids = np.array(sorted(set(links.group.values())), dtype=object)
    gid = np.searchsorted(ids, np.array([links.group[n] for n in node], dtype=object))
    last, first = nodes["last"].tolist(), nodes["first"].tolist()
    order = sorted(range(len(nodes)), key=lambda i: (-last[i].toordinal(), first[i], node[i]))
    rank = np.empty(len(nodes), dtype="int64")
    rank[order] = np.arange(len(nodes))
    r = ob.runs
    nid = r["nid"].to_numpy()
    rows = pd.DataFrame(
        {
            "li": r["li"].to_numpy(),
            "gid": gid[nid],
            "nid": nid,
            "vid": r["vid"].to_numpy(),
            "start": r["start"].to_numpy(),
            "end": r["end"].to_numpy(),
        }
    )
    rows, crowded = _one_per_version(rows.sort_values(["li", "gid", "start"]), rank)
    agency = np.array([links.agency.get(k, k) for k in nodes["agency_key"]], dtype=object)
    return Listings(
        rows,
        ids,
        gid,
        agency,
        node,
        nodes["state"].to_numpy(object),
        nodes["model"].to_numpy(object),
        crowded,
    )


def _one_per_version(rows: pd.DataFrame, rank: np.ndarray) -> pd.DataFrame:
    """Runs (sorted by list, agreement, start) cut so that in each version one node stands
    for its agreement: where runs of one agreement overlap (two spellings side by side),
    the best-ranked node (lowest `rank`) covering each version. Also the gids where runs
    overlap: a later version can change which node stands for them at earlier ones."""
    li, gid = rows["li"].to_numpy(), rows["gid"].to_numpy()
    start, end = rows["start"].to_numpy(), rows["end"].to_numpy()
    same = np.r_[False, (li[1:] == li[:-1]) & (gid[1:] == gid[:-1])]
    reach = pd.Series(end).groupby([li, gid]).cummax().to_numpy()
    overlap = same & (start <= np.r_[-1, reach[:-1]])
    if not overlap.any():
        return rows.reset_index(drop=True), frozenset()
    key = pd.Series(list(zip(li.tolist(), gid.tolist())), index=rows.index)
    crowded = set(key[overlap])
    mask = key.isin(crowded).to_numpy()
    cut = [_sweep(group, rank) for _, group in rows[mask].groupby(["li", "gid"], sort=False)]
    out = pd.concat([rows[~mask], *cut], ignore_index=True)
    crowded_gids = frozenset(g for _, g in crowded)
    return out.sort_values(["li", "gid", "start"]).reset_index(drop=True), crowded_gids


def _sweep(runs: pd.DataFrame, rank: np.ndarray) -> pd.DataFrame:
    """One agreement's overlapping runs as disjoint runs of the best-ranked node."""
    recs = runs.to_dict("records")
    points = sorted({r["start"] for r in recs} | {r["end"] + 1 for r in recs})
    out: list[dict] = []
    for a, b in zip(points, points[1:]):
        here = [r for r in recs if r["start"] <= a and r["end"] >= b - 1]
        if not here:
            continue
        best = min(here, key=lambda r: rank[r["nid"]])
        last = out[-1] if out else None
        if (
            last
            and last["nid"] == best["nid"]
            and last["vid"] == best["vid"]
            and last["end"] == a - 1
        ):
            last["end"] = b - 1
        else:
            out.append({**best, "start": a, "end": b - 1})
    return pd.DataFrame(out, columns=runs.columns)


# --- events -------------------------------------------------------------------------------------
def events(ob: Observations, links: Links, lists: Listings | None = None) -> pd.DataFrame:
    """Every event of every agreement on both lists (``EVENT_COLUMNS``), in time order.
    `lists`: ``listings(ob, links)`` when already at hand."""
    return event_table(ob, links, lists)[EVENT_COLUMNS]


def event_table(ob: Observations, links: Links, lists: Listings | None = None) -> pd.DataFrame:
    """``events`` with each event's list index and position (``EVENT_TABLE_COLUMNS``), as
    kept for ``events_after``."""
    lists = listings(ob, links) if lists is None else lists
    return order_events(pd.DataFrame(_events(ob, links, lists), columns=EVENT_TABLE_COLUMNS))


def events_after(
    table: pd.DataFrame,
    old: Links,
    since: tuple[int, ...],
    ob: Observations,
    links: Links,
    lists: Listings,
) -> pd.DataFrame:
    """The event table of `ob` and `links` from `table`, the event table of the versions
    before positions `since` (per list) linked by `old`: the agreements whose spellings,
    joins or agencies changed (and every agreement of their agencies) are told again from
    their beginning, the others only from `since`. Equal to ``event_table``."""
    changed = _changed_agreements(old, links)
    agencies = {links.agency.get(k, k) for k in _agency_keys(old, changed)}
    agencies |= {old.agency.get(k, k) for k in _agency_keys(old, changed)}
    agencies |= {links.agency.get(k, k) for k in _agency_keys(links, changed)}
    whole = set(changed) | {lists.ids[g] for g in lists.crowded}
    for node, gid in links.group.items():
        key = node.rsplit(":", 1)[0]
        if links.agency.get(key, key) in agencies or old.agency.get(key, key) in agencies:
            whole.add(gid)
    keep = table[~table["agreement_id"].isin(whole) & ~table["agency_id"].isin(agencies)]
    new = pd.DataFrame(_events(ob, links, lists, since, whole), columns=EVENT_TABLE_COLUMNS)
    return order_events(pd.concat([keep, new], ignore_index=True))


def _signatures(links: Links) -> dict[str, tuple]:
    """Agreement id -> what its events depend on besides its rows: its keys, the joins
    among them and their agencies."""
    members: dict[str, list[str]] = defaultdict(list)
    for node, gid in links.group.items():
        members[gid].append(node)
    m = links.merges[links.merges["level"] == "agreement"]
    joins: dict[str, list[tuple]] = defaultdict(list)
    for a, b, tier, detail in zip(m["a"], m["b"], m["tier"], m["detail"]):
        joins[links.group[a]].append((a, b, tier, detail))
    return {
        g: (
            tuple(sorted(ns)),
            tuple(sorted(joins.get(g, ()))),
            tuple(sorted(links.agency.get(k, k) for k in (n.rsplit(":", 1)[0] for n in ns))),
        )
        for g, ns in members.items()
    }


def _changed_agreements(old: Links, new: Links) -> set[str]:
    a, b = _signatures(old), _signatures(new)
    return {g for g in a.keys() | b.keys() if a.get(g) != b.get(g)}


def _agency_keys(links: Links, agreements: set[str]) -> set[str]:
    return {n.rsplit(":", 1)[0] for n, g in links.group.items() if g in agreements}


# Events as kept between updates: with the list's index and the event's position in it.
EVENT_TABLE_COLUMNS = [*EVENT_COLUMNS, "_li", "_pos"]
_EVENT_ORDER = {"listed": 0, "returned": 1, "model_added": 2, "model_switched": 2, "removed": 3}


def order_events(ev: pd.DataFrame) -> pd.DataFrame:
    """Events in time order (stable: an agreement's events on one version keep the order
    they were told in)."""
    text = [c for c in EVENT_COLUMNS if c not in ("date", "seq")]
    ev = ev.astype(dict.fromkeys(text, "str"))  # one dtype however the table was put together
    o = ev["event"].map(_EVENT_ORDER).fillna(4)
    ev = ev.assign(_o=o).sort_values(
        ["date", "list", "seq", "state", "agreement_id", "_o"], kind="mergesort"
    )
    return ev.drop(columns="_o").reset_index(drop=True)


def _events(
    ob: Observations,
    links: Links,
    lists: Listings,
    since: tuple[int, ...] | None = None,
    whole: set[str] | None = None,
) -> list[dict]:
    """Event records (``EVENT_TABLE_COLUMNS``). `since`: per list, the first position to
    tell (None: all); the agreements in `whole` are told from their beginning."""
    vrec = ob.records
    versions = ob.versions.set_index(["li", "pos"])
    meta = versions[["date", "seq", "sha256"]].to_dict(orient="index")
    fields_at = versions["fields"].to_dict()
    last = [ob.last_pos(lst) for lst in LISTS]
    out: list[dict] = []

    def emit(r: dict, pos: int, event: str, change=(None, None, None), **more) -> dict:
        e = {
            **meta[(r["li"], pos)],
            "list": r["list"],
            "event": event,
            "agreement_id": r["agreement_id"],
            "agency_id": r["agency_id"],
            "state": r["state"],
            "agency": r["agency"],
            "model": r["model"],
            "field": change[0],
            "before": change[1],
            "after": change[2],
            "evidence": None,
            "detail": None,
            "_li": r["li"],
            "_pos": pos,
            **more,
        }
        out.append(e)
        return e

    rows = lists.rows
    li, gid = rows["li"].to_numpy(), rows["gid"].to_numpy()
    start, end = rows["start"].to_numpy(), rows["end"].to_numpy()
    n = len(rows)
    first = np.ones(n, dtype=bool)
    first[1:] = (li[1:] != li[:-1]) | (gid[1:] != gid[:-1])
    final = np.r_[first[1:], True] if n else first
    gap = ~first & (start - np.r_[0, end[:-1]] > 1)
    if since is None:
        told = np.zeros(n, dtype="int64")  # per run: the first position to tell
    else:
        told = np.asarray(since, dtype="int64")[li]
        if whole:
            told[np.isin(lists.ids[gid], list(whole))] = 0
    # The runs with something to tell (and the run before each, for what changed).
    take = np.flatnonzero(end >= told - 1)
    need = np.unique(np.r_[take, take[~first[take]] - 1]) if n else take
    raw = rows.iloc[need].to_dict(orient="records")
    recs = {i: lists.record(i, r, vrec) for i, r in zip(need.tolist(), raw)}
    for i in take.tolist():
        r, p, t = recs[i], int(start[i]), int(told[i])
        if first[i]:
            if p >= t:
                emit(r, p, "listed")
        else:
            prev, prev_end = recs[i - 1], int(end[i - 1])
            if gap[i] and prev_end + 1 >= t:
                emit(prev, prev_end + 1, "removed")
            if gap[i] and p >= t:
                emit(r, p, "returned")
            # Every other run begins where the row standing for its agreement changed.
            if prev["vid"] != r["vid"] and p >= t:
                fields = fields_at[(r["li"], prev_end)] & fields_at[(r["li"], p)]
                for change, field, before, after in row_changes(
                    vrec[prev["vid"]], vrec[r["vid"]], fields
                ):
                    ev = links.path(prev["node"], r["node"]) if change == "renamed" else None
                    emit(r, p, change, (field, before, after), evidence=ev)
        if final[i] and end[i] < last[r["li"]] and end[i] + 1 >= t:
            emit(r, int(end[i]) + 1, "removed")
    _model_events(out, lists, vrec, emit, told)
    return out


def _model_events(out: list[dict], lists: Listings, vrec: dict, emit, told) -> None:
    """``model_added`` / ``model_switched`` for each agreement's first participating listing,
    from the agency's agreements on the version before and on that version (for the
    listings at or after the run's `told` position)."""
    part = (lists.rows["li"] == 0).to_numpy()
    rows = lists.rows[part]
    firsts = rows.drop_duplicates("gid")  # rows are sorted by agreement, start
    firsts = firsts[firsts["start"].to_numpy() >= told[part][rows.index.get_indexer(firsts.index)]]
    # Only the agencies of a first listing matter: their runs, by agency.
    agency_of = lists.agency[rows["nid"].to_numpy()]
    near = np.isin(agency_of, lists.agency[firsts["nid"].to_numpy()])
    runs_of: dict[str, list[tuple[int, int, int, str]]] = defaultdict(list)
    for a, lo, hi, g, m in zip(
        agency_of[near].tolist(),
        rows["start"].to_numpy()[near].tolist(),
        rows["end"].to_numpy()[near].tolist(),
        rows["gid"].to_numpy()[near].tolist(),
        lists.model[rows["nid"].to_numpy()[near]].tolist(),
    ):
        runs_of[a].append((lo, hi, g, m))

    def at(agency: str, p: int) -> dict[int, str]:  # the agency's agreements listed at p
        return {g: m for lo, hi, g, m in runs_of.get(agency, ()) if lo <= p <= hi}

    removals = {
        (e["agreement_id"], e["_pos"]): e
        for e in out
        if e["event"] == "removed" and e["list"] == LISTS[0]
    }
    for i, raw in zip(firsts.index.tolist(), firsts.to_dict(orient="records")):
        r = lists.record(i, raw, vrec)
        p, me = r["pos"], raw["gid"]
        if p == 0:
            continue
        before, now = at(r["agency_id"], p - 1), at(r["agency_id"], p)
        ended = sorted(g for g, m in before.items() if g not in now and m != r["model"])
        kept = sorted({before[g] for g in before if g in now and g != me})
        if ended:
            old = lists.ids[ended[0]]
            m_old = before[ended[0]]
            emit(r, p, "model_switched", ("model", m_old, r["model"]), detail=f"replaces {old}")
            gone = removals.get((old, p))
            if gone is not None:
                gone.update(
                    event="model_switched",
                    field="model",
                    before=m_old,
                    after=r["model"],
                    detail=f"replaced by {r['agreement_id']}",
                )
        elif kept:
            after = "; ".join(sorted({*kept, r["model"]}))
            emit(r, p, "model_added", ("model", "; ".join(kept), after))


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
    e = ev[["list", "event", "agreement_id", "detail"]]
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
    pdate = [dates[(1, p)] for p in pend["start"].tolist()]  # a run's first date
    by_gid: dict[int, list] = defaultdict(list)
    by_agency: dict[str, list] = defaultdict(list)
    for g, nid, d in zip(pend["gid"].tolist(), pend["nid"].tolist(), pdate):
        by_gid[g].append(d)
        by_agency[lists.agency[nid]].append(d)
    out = {}
    for g, r in first_rows.items():
        start = dates[(0, r["start"])]
        match, days = "agreement", [d for d in by_gid.get(g, ()) if d <= start]
        if not days:
            agency = lists.agency[r["nid"]]
            match, days = "agency", [d for d in by_agency.get(agency, ()) if d <= start]
        if days:
            out[g] = (min(days), (start - min(days)).days, match)
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
    dates = ob.versions.set_index(["li", "pos"])["date"].to_dict()
    span = ob.runs.groupby(["vid", "li"]).agg(min=("start", "min"), max=("end", "max"))
    span = span.reset_index()
    agency = ob.variants["agency"].tolist()
    nid_of = ob.variants["nid"].tolist()
    seen: dict[tuple, list] = {}
    for vid, li, lo, hi in zip(
        span["vid"].tolist(), span["li"].tolist(), span["min"].tolist(), span["max"].tolist()
    ):
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
    a = covering(rows, va["li"], va["pos"]).set_index("gid")
    b = covering(rows, vb["li"], vb["pos"]).set_index("gid")
    vrec = ob.records
    fields = va["fields"] & vb["fields"]
    out = []

    def record(change, gid_, side, field=None, before=None, after=None, evidence=None):
        r = lists.record(0, side.loc[gid_].to_dict() | {"gid": gid_}, vrec)
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

    for gid_ in b.index.difference(a.index):
        record("added", gid_, b)
    for gid_ in a.index.difference(b.index):
        record("removed", gid_, a)
    for gid_ in a.index.intersection(b.index):
        ra, rb = a.loc[gid_], b.loc[gid_]
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

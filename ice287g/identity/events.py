"""Every agreement's life story as events, told from scratch or only from the new versions.

Pure: ``Observations``, ``Links`` and ``Listings`` in, an event table out. The words are
``story``'s (``row_changes``): ``listed``, ``renamed``, ``moa_posted``, ``re_signed``,
``changed``, ``removed``, ``returned``, ``model_added``, ``model_switched``.

``event_table`` tells everything; ``events_after`` brings a table up to date after newer
versions were added (``Identity.extend``): events at earlier positions stay as they were,
except for the agreements whose joins, agencies or standing spelling changed, which are told
again whole. Both give the same table (a property test holds them to it).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa

from ice287g.identity.link import Links
from ice287g.identity.listings import Listings, listings
from ice287g.identity.observe import LISTS, Observations
from ice287g.identity.story import EVENT_COLUMNS, row_changes
from ice287g.normalize.apply import UNKNOWN_MODEL


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
    # An agreement listed twice in one version (crowded) is told again whole as well; so is
    # every agreement of the agency of one told whole, since an agreement's first listing
    # turns another's removal on that version into ``model_switched``.
    changed = _changed_agreements(old, links) | {lists.ids[g] for g in lists.crowded}
    keys = _agency_keys(old, changed) | _agency_keys(links, changed)
    agencies = {ids.get(k, k) for k in keys for ids in (old.agency, links.agency)}
    whole = set(changed)
    for node, gid in links.group.items():
        key = node.rsplit(":", 1)[0]
        if links.agency.get(key, key) in agencies or old.agency.get(key, key) in agencies:
            whole.add(gid)
    drop = table["agreement_id"].isin(whole) | table["agency_id"].isin(agencies)
    new = _typed(pd.DataFrame(_events(ob, links, lists, since, whole), columns=EVENT_TABLE_COLUMNS))
    both = pd.concat([_typed(table), new], ignore_index=True)
    return order_events(both, keep=np.r_[~drop.to_numpy(bool), np.ones(len(new), dtype=bool)])


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


def order_events(ev: pd.DataFrame, keep: np.ndarray | None = None) -> pd.DataFrame:
    """Events in time order (stable: an agreement's events on one version keep the order
    they were told in); `keep`: a mask of the rows to keep, the others dropped.

    The order is found on the sort keys alone and the table is taken once in it: at ten
    years the table holds about 80,000 events, and a nightly update pays for each pass over
    all its columns."""
    ev = _typed(ev)
    rows = np.arange(len(ev)) if keep is None else np.flatnonzero(keep)
    keys = ev[["date", "list", "seq", "state", "agreement_id"]].take(rows)
    codes, words = pd.factorize(ev["event"].take(rows))
    rank = np.array([_EVENT_ORDER.get(w, 4) for w in words], dtype="int64")
    keys["_o"] = rank[codes] if len(codes) else np.array([], dtype="int64")
    keys.index = rows
    order = keys.sort_values([*keys.columns], kind="mergesort").index.to_numpy()
    return ev.take(order).reset_index(drop=True)


_TEXT = [c for c in EVENT_COLUMNS if c not in ("date", "seq")]


def _typed(ev: pd.DataFrame) -> pd.DataFrame:
    """One dtype per column however the table was put together (text as ``str``)."""
    wrong = [c for c in _TEXT if ev[c].dtype != "str"]
    return ev.astype(dict.fromkeys(wrong, "str")) if wrong else ev


def packed(table: pd.DataFrame) -> pa.Table:
    """An event table as kept on disk (``unpacked`` gives it back, equal and of the same
    dtypes): its text dictionary-encoded. At ten years of history the table holds about
    80,000 events but only a few thousand distinct versions, agreements and names, and a
    quarter of the bytes is quicker to write, read and allocate than the text itself."""
    t = pa.Table.from_pandas(table, preserve_index=False)
    text = (pa.types.is_string, pa.types.is_large_string)
    return pa.table(
        [c.dictionary_encode() if any(f(c.type) for f in text) else c for c in t.columns],
        names=t.column_names,
    )


def unpacked(table: pa.Table) -> pd.DataFrame:
    """The event table ``packed`` holds."""
    columns = [
        c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns
    ]
    return pa.table(columns, names=table.column_names).to_pandas()


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
    v = ob.versions
    at = list(zip(v["li"].tolist(), v["pos"].tolist()))
    meta = {
        place: {"date": day, "seq": seq, "sha256": sha}
        for place, day, seq, sha in zip(at, v["date"], v["seq"].tolist(), v["sha256"].tolist())
    }
    fields_at = dict(zip(at, v["fields"].tolist()))
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


def _named(model) -> str:
    """A model as the text of a ``model_added`` event (a row without one: ``unknown``)."""
    return model if isinstance(model, str) else UNKNOWN_MODEL


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
        kept = sorted({_named(before[g]) for g in before if g in now and g != me})
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
            after = "; ".join(sorted({*kept, _named(r["model"])}))
            emit(r, p, "model_added", ("model", "; ".join(kept), after))

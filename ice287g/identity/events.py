"""Every agreement's life story as events, told from scratch or only from the new versions.

Pure: ``Observations``, ``Links`` and ``Listings`` in, an event table out. The words are
``story``'s (``row_changes``): ``listed``, ``renamed``, ``moa_posted``, ``re_signed``,
``changed``, ``removed``, ``returned``, ``model_added``, ``model_switched``.

``event_table`` tells everything; ``events_after`` brings a table up to date after newer
versions were added (``Identity.extend``): events at earlier positions stay as they were,
except for the agreements whose joins, agencies or standing spelling changed, which are told
again whole. Both give the same table (a property test holds them to it).

The table is kept as Arrow with its text dictionary-encoded (``EVENT_SCHEMA``;
``ice287g.arrow.dataframe`` gives the DataFrame): at ten years of history it holds about
80,000 events but only a few thousand distinct versions, agreements and names, so an update
filters, joins and orders integer codes instead of copying the text of every event, and
the store's cache holds a quarter of the bytes. Each event keeps a 64-bit hash of its
values (``_h``), by which a year of events is told from another (``year_digests``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa

from ice287g.arrow import dataframe, sorted_codes, year_runs
from ice287g.identity.link import Links
from ice287g.identity.listings import Listings, listings
from ice287g.identity.observe import LISTS, Observations
from ice287g.identity.story import EVENT_COLUMNS, row_changes
from ice287g.normalize.apply import UNKNOWN_MODEL


def events(ob: Observations, links: Links, lists: Listings | None = None) -> pd.DataFrame:
    """Every event of every agreement on both lists (``EVENT_COLUMNS``), in time order.
    `lists`: ``listings(ob, links)`` when already at hand."""
    return dataframe(event_table(ob, links, lists))[EVENT_COLUMNS]


def event_table(ob: Observations, links: Links, lists: Listings | None = None) -> pa.Table:
    """``events`` with each event's list index and position (``EVENT_TABLE_COLUMNS``), as
    kept (``EVENT_SCHEMA``) for ``events_after``."""
    lists = listings(ob, links) if lists is None else lists
    return ordered(packed(pd.DataFrame(_events(ob, links, lists), columns=EVENT_TABLE_COLUMNS)))


def events_after(
    table: pa.Table,
    old: Links,
    since: tuple[int, ...],
    ob: Observations,
    links: Links,
    lists: Listings,
) -> pa.Table:
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
    drop = _among(table, "agreement_id", whole) | _among(table, "agency_id", agencies)
    new = packed(pd.DataFrame(_events(ob, links, lists, since, whole), columns=EVENT_TABLE_COLUMNS))
    both = pa.concat_tables([table.filter(pa.array(~drop)), new])
    return ordered(both.unify_dictionaries().combine_chunks())


def _among(table: pa.Table, column: str, values: set[str]) -> np.ndarray:
    """A mask of the rows whose `column` (dictionary-encoded) is one of `values`."""
    codes = table.column(column).combine_chunks()
    words = codes.dictionary.to_pylist()
    hit = np.array([w in values for w in words] + [False], dtype=bool)  # the last: missing
    at = codes.indices.fill_null(len(words)).to_numpy()
    return hit[at]


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
_NUMBERS = ("seq", "_li", "_pos")
_TEXT = [c for c in EVENT_COLUMNS if c not in ("date", "seq")]
_PLAIN = pa.schema(
    [
        (c, pa.date32() if c == "date" else pa.int64() if c in _NUMBERS else pa.large_string())
        for c in EVENT_TABLE_COLUMNS
    ]
)
# As kept: the text dictionary-encoded, and ``_h``, a 64-bit hash of each event's values
# (``EVENT_COLUMNS``), by which a year of events is told from another without reading them.
EVENT_SCHEMA = pa.schema(
    [
        *(
            pa.field(f.name, pa.dictionary(pa.int32(), f.type) if f.name in _TEXT else f.type)
            for f in _PLAIN
        ),
        pa.field("_h", pa.uint64()),
    ]
)
_EVENT_ORDER = {"listed": 0, "returned": 1, "model_added": 2, "model_switched": 2, "removed": 3}


def packed(records: pd.DataFrame) -> pa.Table:
    """Event records (``EVENT_TABLE_COLUMNS``, in any dtypes) as kept: ``EVENT_SCHEMA``."""
    t = pa.Table.from_pandas(records[EVENT_TABLE_COLUMNS], schema=_PLAIN, preserve_index=False)
    hashes = pd.util.hash_pandas_object(dataframe(t.select(EVENT_COLUMNS)), index=False)
    columns = [c.dictionary_encode() if c.type == pa.large_string() else c for c in t.columns]
    return pa.table([*columns, pa.array(hashes.to_numpy(), pa.uint64())], schema=EVENT_SCHEMA)


def year_digests(table: pa.Table) -> dict[int, str]:
    """Calendar year -> a digest of its events (their values, in order), from the hashes
    kept with them (``_h``): a year's digest changes exactly when its events do."""
    hashes = table.column("_h").combine_chunks().to_numpy(zero_copy_only=False)
    return {
        year: hashlib.sha256(np.ascontiguousarray(hashes[a : a + n]).tobytes()).hexdigest()
        for year, a, n in year_runs(table.column("date"))
    }


def ordered(table: pa.Table) -> pa.Table:
    """The events in time order: by date, list, seq, state, agreement and kind (a listing
    before a return, a model event, a removal), then in the order they were told (an
    agreement's events on one version keep their order). Text compares as Arrow sorts it
    (by code point), a missing value after every other."""
    keys = [_ranks(table.column(c)) for c in ("date", "list", "seq", "state", "agreement_id")]
    event = table.column("event").combine_chunks()
    kind = [_EVENT_ORDER.get(w, 4) for w in event.dictionary.to_pylist()] + [4]
    keys.append(np.asarray(kind, dtype="int64")[event.indices.fill_null(len(kind) - 1).to_numpy()])
    return table.take(np.lexsort(keys[::-1]))


def _ranks(column: pa.ChunkedArray) -> np.ndarray:
    """Integers that order like the column's values (equal values alike), a missing value
    last."""
    values = column.combine_chunks()
    if pa.types.is_dictionary(values.type):
        return sorted_codes(values)[0]
    if pa.types.is_date32(values.type):
        values = values.view(pa.int32())
    return values.cast(pa.int64()).fill_null(np.iinfo("int64").max).to_numpy()


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

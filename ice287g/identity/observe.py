"""Versions and their rows -> observations: one record per listing (list, version, exact key).

Pure: frames in, frames out. The input is what the store holds (see ``ice287g.query.identity``):

- ``versions``: one record per version: ``list``, ``date``, ``seq``, ``sha256`` and, when
  known, ``columns`` (the workbook's header cells; a field is compared between two versions
  only when both have its column, ``FIELD_COLUMN``).
- ``rows``: snapshot rows with ``sha256`` (their version) and ``ROW_COLUMNS``.

A *node* is today's exact key, ``agreement_id`` (state, normalized name, model): tier (a).
When ICE lists one key twice in a version, the most informative row stands for it (MOA
available > pending > missing, then a known county, a known type, then the values
themselves), never the row order, so a re-sorted sheet changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from ice287g.identity.runs import same_keys, segments, stitch
from parsers.lists import LISTS
from parsers.workbook import header_key

ROW_COLUMNS = (
    "agreement_id",
    "agency_id",
    "state",
    "agency",
    "model",
    "signed",
    "moa_status",
    "moa_url",
    "addendum_url",
    "county",
    "county_fips",
    "agency_type",
)
# Fields compared from one version to the next, in report order, and the header a version
# must carry for its value to mean anything (COUNTY appeared on 2025-03-17, ADDENDUM on
# 2025-07-01: a new column is not a change of every agreement).
FIELDS = ("agency", "signed", "county", "agency_type", "moa_status", "moa_url", "addendum_url")
FIELD_COLUMN = {
    "county": "COUNTY",
    "addendum_url": "ADDENDUM",
    "signed": "SIGNED",
    "moa_status": "MOA",
    "moa_url": "MOA",
}
_MOA_RANK = {"available": 0, "pending": 1, "missing": 2}


@dataclass
class Observations:
    """What was listed where, as runs of versions: the size grows with what changes, not
    with the number of versions (ICE repeats nearly every row from one version to the next,
    so the 150,000 rows of 2025 are 3,700 variants in a few thousand runs).

    - ``versions``: one row per version, ordered, with ``li`` (the list's index in
      ``LISTS``), ``pos`` (its place in its list, 0 = first) and ``fields`` (the FIELDS it
      can be compared on).
    - ``variants``: each distinct row (``ROW_COLUMNS``) once, indexed by ``vid``, with
      ``nid``.
    - ``nodes``: one row per node (exact key ``node``), indexed by ``nid`` (see ``_nodes``).
    - ``runs``: the row standing for each node (``vid``), as runs of consecutive versions
      of one list: ``li``, ``nid``, ``vid``, ``start``, ``end`` (positions, inclusive),
      sorted by list, node and start.
    - ``seen``: every row ICE printed, duplicates of a key included, as runs: ``li``,
      ``vid``, ``start``, ``end`` (the node facts count them).
    - ``masks``: list -> node -> bitmask of the positions listing it.
    """

    versions: pd.DataFrame
    variants: pd.DataFrame
    nodes: pd.DataFrame
    runs: pd.DataFrame
    seen: pd.DataFrame
    masks: dict[str, dict[str, int]] = field(default_factory=dict)

    @cached_property
    def index(self) -> dict[tuple, int]:
        """A variant's values (``ROW_COLUMNS``, missing as None) -> its vid."""
        rows = self.variants[list(ROW_COLUMNS)].itertuples(index=False, name=None)
        return {tuple(_key(x) for x in t): i for i, t in enumerate(rows)}

    @cached_property
    def records(self) -> dict[int, dict]:
        """vid -> the variant's values as a dict."""
        return self.variants.to_dict(orient="index")

    def last_pos(self, lst: str) -> int:
        v = self.versions
        pos = v["pos"].to_numpy()[v["list"].to_numpy(object) == lst]
        return int(pos.max()) if len(pos) else -1

    def extend(self, versions: pd.DataFrame, rows: pd.DataFrame) -> Observations | None:
        """These observations with `versions` (and their `rows`) added, or None when one of
        them is not newer than every stored version of its list (a version published
        earlier shifts positions: observe everything again). Costs the new rows and the
        runs, never the versions already seen."""
        return extend(self, versions, rows)


def order_versions(versions: pd.DataFrame) -> pd.DataFrame:
    """The versions by list, date, seq (then sha256, so ties cannot depend on input order),
    one per sha256, with their list index, position in their list, and the fields they can
    be compared on."""
    v = versions.copy()
    if "columns" not in v.columns:
        v["columns"] = None
    v = v[v["list"].isin(LISTS)].drop_duplicates("sha256")
    v = v.sort_values(["list", "date", "seq", "sha256"])
    li = [LISTS.index(lst) for lst in v["list"].tolist()]
    seen = [0] * len(LISTS)
    pos = []
    for i in li:
        pos.append(seen[i])
        seen[i] += 1
    v["li"] = np.array(li, dtype="int64")
    v["pos"] = np.array(pos, dtype="int64")
    v["fields"] = [fields_of(cols) for cols in v["columns"]]
    return v.reset_index(drop=True)


def fields_of(columns) -> frozenset[str]:
    """The FIELDS a version with these header cells can be compared on."""
    if columns is None or (isinstance(columns, float) and np.isnan(columns)):
        return frozenset(FIELDS)  # headers unknown: compare everything
    have = {header_key(c) for c in columns}
    return frozenset(f for f in FIELDS if FIELD_COLUMN.get(f) is None or FIELD_COLUMN[f] in have)


def observe(versions: pd.DataFrame, rows: pd.DataFrame) -> Observations:
    """Observations of `rows` (snapshot rows with ``sha256``) in `versions`."""
    v = order_versions(versions)
    r = _usable(rows, v)
    cols = list(ROW_COLUMNS)
    vid = r.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(vid, return_index=True)[1]  # each variant's first row
    variants = _variants(r.iloc[first])
    node_ids = np.array(sorted(set(variants["agreement_id"])), dtype=object)
    variants["nid"] = np.searchsorted(node_ids, variants["agreement_id"].to_numpy(object))
    li, pos = _places(v, r["sha256"])
    obs = pd.DataFrame(
        {
            "li": li,
            "pos": pos,
            "nid": variants["nid"].to_numpy()[vid],
            "vid": vid.astype("int64"),
        }
    )
    seen = segments(obs, ["li", "vid"])
    runs = segments(_best_rows(obs, variants), ["li", "nid", "vid"])
    return _assemble(v, variants, node_ids, runs, seen)


def _places(v: pd.DataFrame, shas: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(list index, position) of the version of each of `shas` (all among versions `v`)."""
    at = dict(zip(v["sha256"].tolist(), zip(v["li"].tolist(), v["pos"].tolist())))
    places = [at[sha] for sha in shas.tolist()]
    li = np.array([p[0] for p in places], dtype="int64")
    return li, np.array([p[1] for p in places], dtype="int64")


def _usable(rows: pd.DataFrame, v: pd.DataFrame) -> pd.DataFrame:
    """The rows of versions `v` that have an exact key, every ROW_COLUMNS present."""
    r = rows.reset_index(drop=True)
    for c in ROW_COLUMNS:
        if c not in r.columns:
            r[c] = None
    return r[r["agreement_id"].notna() & r["sha256"].isin(v["sha256"])].reset_index(drop=True)


def _variants(r: pd.DataFrame) -> pd.DataFrame:
    """Distinct rows as variants: ROW_COLUMNS as Python objects (None for missing, dates
    for signing dates), indexed by ``vid``."""
    values = {}
    for c in ROW_COLUMNS:
        values[c] = column = r[c].to_numpy(object).copy()
        column[pd.isna(column)] = None
    variants = pd.DataFrame(values, dtype=object)
    variants["signed"] = [_day(x) for x in variants["signed"]]
    variants.index.name = "vid"
    return variants


def _assemble(v, variants, node_ids, runs, seen, masks=None) -> Observations:
    runs = runs.sort_values(["li", "nid", "start"]).reset_index(drop=True)
    nodes = _nodes(seen, variants, v, node_ids)  # every row's facts, duplicates included
    masks = _masks(runs, node_ids) if masks is None else masks
    return Observations(v, variants, nodes, runs, seen, masks)


def extend(ob: Observations, versions: pd.DataFrame, rows: pd.DataFrame) -> Observations | None:
    """``Observations.extend``."""
    v = order_versions(versions)
    v = v[~v["sha256"].isin(ob.versions["sha256"])]
    if v.empty:
        return ob
    if not newer(ob.versions, v):
        return None
    old = ob.versions
    for lst, group in v.groupby("list"):
        base = int((old["list"] == lst).sum())
        v.loc[group.index, "pos"] = np.arange(base, base + len(group), dtype="int64")
    allv = pd.concat([old, v], ignore_index=True)
    allv = allv.sort_values(["li", "pos"]).reset_index(drop=True)
    r = _usable(rows, v)
    cols = list(ROW_COLUMNS)
    # Variants: the known ones by their values, the others appended.
    known = dict(ob.index)
    fresh = _variants(r.drop_duplicates(cols))
    fresh_keys = [tuple(_key(x) for x in t) for t in fresh[cols].itertuples(index=False, name=None)]
    add = [i for i, k in enumerate(fresh_keys) if k not in known]
    variants = pd.concat([ob.variants.drop(columns="nid"), fresh.iloc[add]], ignore_index=True)
    variants.index.name = "vid"
    for n, i in enumerate(add):
        known[fresh_keys[i]] = len(ob.variants) + n
    row_vid = _variants(r)[cols].itertuples(index=False, name=None)
    vid = np.array([known[tuple(_key(x) for x in t)] for t in row_vid], dtype="int64")
    # Nodes: renumbered in key order, as ``observe`` numbers them.
    old_ids = ob.nodes["node"].to_numpy(object) if len(ob.nodes) else np.array([], dtype=object)
    node_ids = np.array(sorted(set(old_ids) | set(variants["agreement_id"])), dtype=object)
    variants["nid"] = np.searchsorted(node_ids, variants["agreement_id"].to_numpy(object))
    renumber = np.searchsorted(node_ids, ob.variants["agreement_id"].to_numpy(object))
    li, pos = _places(v, r["sha256"])
    obs = pd.DataFrame(
        {
            "li": li,
            "pos": pos,
            "nid": variants["nid"].to_numpy()[vid] if len(vid) else np.array([], dtype="int64"),
            "vid": vid,
        }
    )
    runs = ob.runs.copy()
    runs["nid"] = renumber[runs["vid"].to_numpy()] if len(runs) else runs["nid"]
    first = v.groupby("li")["pos"].min().to_dict()
    seen = stitch(
        ob.seen,
        segments(obs, ["li", "vid"]),
        ["li", "vid"],
        first,
    )
    best = _best_rows(obs, variants)
    runs = stitch(runs, segments(best, ["li", "nid", "vid"]), ["li", "nid", "vid"], first)
    masks = {lst: dict(m) for lst, m in ob.masks.items()}
    for li, pos, nid in zip(best["li"].tolist(), best["pos"].tolist(), best["nid"].tolist()):
        m = masks.setdefault(LISTS[li], {})
        m[node_ids[nid]] = m.get(node_ids[nid], 0) | (1 << pos)
    out = _assemble(allv, variants, node_ids, runs, seen, masks)
    out.__dict__["index"] = known
    return out


def newer(have: pd.DataFrame, versions: pd.DataFrame) -> bool:
    """Whether every one of `versions` comes after every version of its list in `have`
    (both ordered as ``order_versions`` orders them), so that adding them shifts nothing."""
    for lst, group in order_versions(versions).groupby("list"):
        mine = have[have["list"] == lst]
        if mine.empty:
            continue
        last, first = mine.iloc[-1], group.iloc[0]
        order = ("date", "seq", "sha256")
        if tuple(first[k] for k in order) <= tuple(last[k] for k in order):
            return False
    return True


def _key(value):
    """A cell as a hashable, comparable value (NaN and None alike)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _day(value):
    if value is None:
        return None
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _best_rows(obs: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """One row per (list, pos, node): the most informative, ties broken by the values."""
    keys = ["li", "pos", "nid"]
    cols = [obs[k].to_numpy() for k in keys]
    order = np.lexsort(cols[::-1])
    same = same_keys([c[order] for c in cols])
    if not same.any():
        return obs
    dup = np.zeros(len(obs), dtype=bool)  # rows whose (list, pos, node) is listed twice
    dup[order[1:][same]] = dup[order[:-1][same]] = True
    cols = list(ROW_COLUMNS)
    moa, county, typ = (cols.index(c) for c in ("moa_status", "county", "agency_type"))
    vids = np.unique(obs.loc[dup, "vid"].to_numpy())
    records = dict(zip(vids.tolist(), variants.loc[vids, cols].itertuples(index=False, name=None)))
    rank = {
        v: i
        for i, v in enumerate(
            sorted(
                records,
                key=lambda v: (
                    _MOA_RANK.get(records[v][moa], 3),
                    records[v][county] is None,
                    records[v][typ] is None,
                    tuple("" if x is None else str(x) for x in records[v]),
                ),
            )
        )
    }
    d = obs[dup].assign(_rank=[rank[v] for v in obs.loc[dup, "vid"].tolist()])
    best = d.sort_values([*keys, "_rank"]).drop_duplicates(keys).drop(columns="_rank")
    return pd.concat([obs[~dup], best])


def _nodes(
    seen: pd.DataFrame, variants: pd.DataFrame, versions: pd.DataFrame, node_ids: np.ndarray
) -> pd.DataFrame:
    """One row per node (exact key), indexed by ``nid``: ``node``, ``state``, ``model``,
    ``agency_key`` (exact agency key), ``name`` (the spelling listed most often) and
    ``names`` (every spelling, most listed first), ``signed`` and ``urls`` (every signing
    date and MOA/addendum URL it was listed with), ``first`` (sort key of its first
    listing: date, seq, list index) and ``last`` (date of its last listing). From `seen`,
    every row ICE printed."""
    columns = ["node", "state", "model", "agency_key", "name", "names", "signed", "urls"]
    if seen.empty:
        return pd.DataFrame(columns=[*columns, "first", "last"])
    stride = int(versions["pos"].max()) + 1
    vkey = versions["li"].to_numpy() * stride + versions["pos"].to_numpy()
    ordinal = np.zeros(len(LISTS) * stride, dtype="int64")
    seq = np.zeros(len(LISTS) * stride, dtype="int64")
    ordinal[vkey] = [d.toordinal() for d in versions["date"]]
    seq[vkey] = versions["seq"].to_numpy()
    li = seen["li"].to_numpy()
    start, end, vid = (seen[c].to_numpy() for c in ("start", "end", "vid"))
    ks, ke = li * stride + start, li * stride + end
    nid_of = variants["nid"].to_numpy()[vid]
    # Per variant: the versions listing it and its last day; per node: its first listing
    # (date, seq, list index).
    used, where = np.unique(vid, return_inverse=True)
    count = np.zeros(len(used), dtype="int64")
    np.add.at(count, where, end - start + 1)
    last = np.full(len(used), np.iinfo("int64").min, dtype="int64")
    np.maximum.at(last, where, ordinal[ke])
    first_of: dict[int, tuple] = {}
    for nid, first in zip(
        nid_of.tolist(), zip(ordinal[ks].tolist(), seq[ks].tolist(), li.tolist())
    ):
        if nid not in first_of or first < first_of[nid]:
            first_of[nid] = first
    cols = ("nid", "state", "model", "agency_id", "agency", "signed", "moa_url", "addendum_url")
    picked = used.tolist()
    values = [variants[c].to_numpy(object)[picked].tolist() for c in cols]
    facts: dict[int, list] = {}
    spellings: dict[int, dict[str, list]] = defaultdict(dict)
    for nid, state, model, key, agency, signed, moa, addendum, n, lastday in zip(
        *values, count.tolist(), last.tolist()
    ):
        f = facts.setdefault(nid, [state, model, key, set(), set(), 0])
        if signed is not None:
            f[3].add(signed)
        f[4].update(u for u in (moa, addendum) if u)
        f[5] = max(f[5], lastday)
        sp = spellings[nid].setdefault(agency, [0, 0])
        sp[0] += n
        sp[1] = max(sp[1], lastday)
    out = []
    for nid in sorted(facts):
        state, model, key, signed, urls, lastday = facts[nid]
        ranked = sorted(spellings[nid].items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        names = tuple(a for a, _ in ranked)
        fr = first_of[nid]
        out.append(
            (
                node_ids[nid],
                state,
                model,
                key,
                names[0],
                names,
                frozenset(signed),
                frozenset(urls),
                (date.fromordinal(fr[0]), fr[1], fr[2]),
                date.fromordinal(lastday),
            )
        )
    nodes = pd.DataFrame(out, columns=[*columns, "first", "last"], index=sorted(facts))
    nodes.index.name = "nid"
    return nodes


def _masks(runs: pd.DataFrame, node_ids: np.ndarray) -> dict[str, dict[str, int]]:
    """list -> node -> bitmask of the positions of that list where the node is listed."""
    out: dict[str, dict[str, int]] = {lst: {} for lst in LISTS}
    for li, nid, start, end in zip(
        runs["li"].tolist(), runs["nid"].tolist(), runs["start"].tolist(), runs["end"].tolist()
    ):
        m = out[LISTS[li]]
        node = node_ids[nid]
        m[node] = m.get(node, 0) | (((1 << (end - start + 1)) - 1) << start)
    return out

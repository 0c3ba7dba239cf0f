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

from parsers.workbook import header_key

LISTS = ("participating", "pending")
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
    """What was listed where.

    - ``versions``: one row per version, ordered, with ``li`` (the list's index in
      ``LISTS``), ``pos`` (its place in its list, 0 = first) and ``fields`` (the FIELDS it
      can be compared on).
    - ``variants``: each distinct row (``ROW_COLUMNS``) once, indexed by ``vid``, with
      ``nid``: ICE repeats nearly every row from one version to the next, so the 150,000
      rows of 2025 are 3,700 variants.
    - ``nodes``: one row per node (exact key ``node``), indexed by ``nid`` (see ``_nodes``).
    - ``obs``: one row per (list, pos, node), integer codes only: ``li``, ``pos``, ``nid``
      and ``vid`` (the row that stands for the node in that version).
    - ``masks``: list -> node -> bitmask of the positions listing it.
    """

    versions: pd.DataFrame
    variants: pd.DataFrame
    nodes: pd.DataFrame
    obs: pd.DataFrame
    masks: dict[str, dict[str, int]] = field(default_factory=dict)

    @cached_property
    def records(self) -> dict[int, dict]:
        """vid -> the variant's values as a dict."""
        return self.variants.to_dict(orient="index")

    def last_pos(self, lst: str) -> int:
        v = self.versions
        return int(v.loc[v["list"] == lst, "pos"].max()) if (v["list"] == lst).any() else -1

    def rows(self, li: int, pos: int) -> pd.DataFrame:
        """The rows standing for each node in one version, with ``node`` and ``nid``."""
        o = self.obs[(self.obs["li"] == li) & (self.obs["pos"] == pos)]
        values = self.variants.loc[o["vid"].to_numpy()].reset_index(drop=True)
        values.insert(0, "node", self.nodes["node"].to_numpy()[o["nid"].to_numpy()])
        values.insert(1, "nid", o["nid"].to_numpy())
        values.insert(2, "vid", o["vid"].to_numpy())
        return values


def order_versions(versions: pd.DataFrame) -> pd.DataFrame:
    """The versions by list, date, seq (then sha256, so ties cannot depend on input order),
    one per sha256, with their list index, position in their list, and the fields they can
    be compared on."""
    v = versions.copy()
    if "columns" not in v.columns:
        v["columns"] = None
    v = v[v["list"].isin(LISTS)].drop_duplicates("sha256")
    v = v.sort_values(["list", "date", "seq", "sha256"])
    v["li"] = v["list"].map({lst: i for i, lst in enumerate(LISTS)}).astype("int64")
    v["pos"] = v.groupby("list").cumcount().astype("int64")
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
    r = rows.reset_index(drop=True)
    for c in ROW_COLUMNS:
        if c not in r.columns:
            r[c] = None
    r = r[r["agreement_id"].notna() & r["sha256"].isin(v["sha256"])]
    cols = list(ROW_COLUMNS)
    vid = r.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(r))).groupby(vid).first().to_numpy()
    variants = r.iloc[first][cols].astype(object).reset_index(drop=True)
    variants = variants.where(variants.notna(), None)
    variants["signed"] = [_day(x) for x in variants["signed"]]
    node_ids = np.array(sorted(set(variants["agreement_id"])), dtype=object)
    variants["nid"] = np.searchsorted(node_ids, variants["agreement_id"].to_numpy(object))
    variants.index.name = "vid"
    at = v.set_index("sha256")
    obs = pd.DataFrame(
        {
            "li": r["sha256"].map(at["li"]).to_numpy().astype("int64"),
            "pos": r["sha256"].map(at["pos"]).to_numpy().astype("int64"),
            "nid": variants["nid"].to_numpy()[vid],
            "vid": vid.astype("int64"),
        }
    )
    nodes = _nodes(obs, variants, v, node_ids)  # every row's facts, duplicates included
    obs = _best_rows(obs, variants)
    obs = obs.sort_values(["li", "pos", "nid"]).reset_index(drop=True)
    return Observations(v, variants, nodes, obs, _masks(obs, node_ids))


def _day(value):
    if value is None:
        return None
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _best_rows(obs: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """One row per (list, pos, node): the most informative, ties broken by the values."""
    keys = ["li", "pos", "nid"]
    dup = obs.duplicated(keys, keep=False)
    if not dup.any():
        return obs
    cols = list(ROW_COLUMNS)
    moa, county, typ = (cols.index(c) for c in ("moa_status", "county", "agency_type"))
    records = list(variants[cols].itertuples(index=False, name=None))
    ranked = sorted(
        range(len(records)),
        key=lambda i: (
            _MOA_RANK.get(records[i][moa], 3),
            records[i][county] is None,
            records[i][typ] is None,
            tuple("" if x is None else str(x) for x in records[i]),
        ),
    )
    rank = np.empty(len(variants), dtype="int64")
    rank[ranked] = np.arange(len(variants))
    d = obs[dup].assign(_rank=rank[obs.loc[dup, "vid"].to_numpy()])
    best = d.sort_values([*keys, "_rank"]).drop_duplicates(keys).drop(columns="_rank")
    return pd.concat([obs[~dup], best])


def _nodes(
    obs: pd.DataFrame, variants: pd.DataFrame, versions: pd.DataFrame, node_ids: np.ndarray
) -> pd.DataFrame:
    """One row per node (exact key), indexed by ``nid``: ``node``, ``state``, ``model``,
    ``agency_key`` (exact agency key), ``name`` (the spelling listed most often) and
    ``names`` (every spelling, most listed first), ``signed`` and ``urls`` (every signing
    date and MOA/addendum URL it was listed with), ``first`` (sort key of its first
    listing: date, seq, list index) and ``last`` (date of its last listing)."""
    columns = ["node", "state", "model", "agency_key", "name", "names", "signed", "urls"]
    if obs.empty:
        return pd.DataFrame(columns=[*columns, "first", "last"])
    stride = int(versions["pos"].max()) + 1
    vkey = versions["li"].to_numpy() * stride + versions["pos"].to_numpy()
    ordinal = np.zeros(len(LISTS) * stride, dtype="int64")
    seq = np.zeros(len(LISTS) * stride, dtype="int64")
    ordinal[vkey] = [d.toordinal() for d in versions["date"]]
    seq[vkey] = versions["seq"].to_numpy()
    k = obs["li"].to_numpy() * stride + obs["pos"].to_numpy()
    o = obs.assign(day=ordinal[k], seq=seq[k])
    per_vid = o.groupby("vid").agg(n=("pos", "size"), last=("day", "max"))
    used = variants.loc[per_vid.index].assign(n=per_vid["n"], lastday=per_vid["last"])
    first = o.sort_values(["nid", "day", "seq", "li"]).drop_duplicates("nid").set_index("nid")
    facts: dict[int, list] = {}
    spellings: dict[int, dict[str, list]] = defaultdict(dict)
    for nid, state, model, key, agency, signed, moa, addendum, n, lastday in zip(
        used["nid"].tolist(),
        used["state"].tolist(),
        used["model"].tolist(),
        used["agency_id"].tolist(),
        used["agency"].tolist(),
        used["signed"].tolist(),
        used["moa_url"].tolist(),
        used["addendum_url"].tolist(),
        used["n"].tolist(),
        used["lastday"].tolist(),
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
        fr = first.loc[nid]
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
                (date.fromordinal(int(fr["day"])), int(fr["seq"]), int(fr["li"])),
                date.fromordinal(lastday),
            )
        )
    nodes = pd.DataFrame(out, columns=[*columns, "first", "last"], index=sorted(facts))
    nodes.index.name = "nid"
    return nodes


def _masks(obs: pd.DataFrame, node_ids: np.ndarray) -> dict[str, dict[str, int]]:
    """list -> node -> bitmask of the positions of that list where the node is listed."""
    out: dict[str, dict[str, int]] = {lst: {} for lst in LISTS}
    for li, nid, pos in zip(obs["li"].tolist(), obs["nid"].tolist(), obs["pos"].tolist()):
        m = out[LISTS[li]]
        node = node_ids[nid]
        m[node] = m.get(node, 0) | (1 << pos)
    return out

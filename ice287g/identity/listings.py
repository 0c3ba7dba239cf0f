"""Who stands for each agreement in each version: ``Listings``, the runs of one row per
agreement and version that the events, the agreements table and the diff read.

Pure: ``Observations`` and ``Links`` in. When ICE lists one agreement twice (two spellings
side by side), the spelling that stays listed longest stands for it, so a duplicate that
drops out is not a rename back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ice287g.identity.link import Links
from ice287g.identity.observe import LISTS, Observations


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

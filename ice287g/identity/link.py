"""Which exact keys are one agreement, and which agreements one agency: the tiers.

Pure: ``Observations`` in, ``Links`` out. A node is an exact key (tier a). Nodes are joined
by evidence, strongest first, each join recorded with its tier (``TIERS``):

- ``alias`` (e): a ``same`` verdict of the reviewed alias table. A ``distinct`` verdict
  forbids every join between the two names; verdicts win over every rule.
- ``moa_url`` (b): same state and model, the same MOA or addendum URL, and either similar
  names or a signing date in common (a URL alone is not enough: ICE has linked one
  agency's PDF on another's row).
- ``signed_name`` (c): same state, model and signing date, and similar names
  (``names.compare``).
- ``relabel`` (d): on one version a listing disappears and, on the very next version, one
  with the same state, model and signing date appears. When several do on one day, only
  pairs with similar names that have no other similar partner are joined. The pending list
  has no signing dates: there a similar name takes the signing date's place.
- ``pending_name``: a pending listing with no participating listing under its own key, and
  a participating one of the same state and model with a similar name.

Two nodes listed side by side in one version are two listings. They are joined only by a
verdict, or as a duplicate listing: tier b or c evidence *and* similar names ("City of St.
Cloud Police Department" beside "St. Cloud Police Department"). No join ever crosses states
or models (evidence is only looked for within a state and model), and nodes without a state
or model are joined by their exact key only.

Agencies (``agencies``): the exact agency keys of two joined nodes are one agency when the names are
similar, or by a verdict; otherwise the agreement moved between agencies (Escambia County
Sheriff's Office's WSO agreement, relisted under the Board of County Commissioners).

A pair the rules will not join alone, but that looks like one agency, is a *candidate*
(``review``), listed for review with the reason and never joined silently.

Ids: a group's id is the exact key of its first listing (earliest version, participating
before pending on a tie, then the key): stable as versions are added, since a later version
can only add keys to a group (the id of a group absorbed by an older one stays queryable as
an alias).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from ice287g.identity import columns
from ice287g.identity.agencies import agencies_of
from ice287g.identity.observe import LISTS, Observations
from ice287g.identity.review import candidates_frame, review_pairs, similar

TIERS: dict[str, str] = {
    "exact": "(a) the same exact key: the name with case, spacing and punctuation ignored",
    "alias": "(e) a `same` verdict in the reviewed alias table",
    "moa_url": "(b) same state and model, the same MOA or addendum URL",
    "signed_name": "(c) same state, model and signing date, similar names",
    "relabel": "(d) one listing disappears as one with the same state, model and signing "
    "date appears on the next version",
    "pending_name": "a pending listing and a participating one of the same state and model "
    "with similar names",
}
ORDER = ("alias", "moa_url", "signed_name", "relabel", "pending_name")
MERGE_COLUMNS = columns.names(columns.MERGE_FIELDS)


@dataclass
class Links:
    """``group``: node -> agreement id; ``agency``: exact agency key -> agency id;
    ``evidence``: node -> tier by which it joined its group (``exact`` for the id's own
    node); ``merges`` and ``candidates`` as frames (``MERGE_COLUMNS``,
    ``CANDIDATE_COLUMNS``)."""

    group: dict[str, str]
    agency: dict[str, str]
    evidence: dict[str, str]
    merges: pd.DataFrame
    candidates: pd.DataFrame
    unused_aliases: pd.DataFrame = field(default_factory=pd.DataFrame)
    _graph: dict | None = field(default=None, repr=False)

    def path(self, a: str, b: str) -> str:
        """The tiers that link nodes `a` and `b` (``exact`` for one node; tiers along the
        chain of joins otherwise, e.g. ``moa_url+relabel``); empty when they are not one
        agreement."""
        if a == b:
            return "exact"
        if self.group.get(a) != self.group.get(b) or a not in self.group:
            return ""
        if self._graph is None:
            graph: dict[str, list[tuple[str, str]]] = defaultdict(list)
            m = self.merges[self.merges["level"] == "agreement"]
            for x, y, tier in zip(m["a"], m["b"], m["tier"]):
                graph[x].append((y, tier))
                graph[y].append((x, tier))
            self._graph = graph
        seen, frontier = {a: []}, [a]
        while frontier:
            nxt = []
            for x in frontier:
                for y, tier in sorted(self._graph.get(x, ())):
                    if y not in seen:
                        seen[y] = [*seen[x], tier]
                        nxt.append(y)
            frontier = nxt
        return "+".join(dict.fromkeys(seen.get(b, [])))


@dataclass(order=True)
class _Edge:
    rank: tuple
    tier: str = field(compare=False)
    a: str = field(compare=False)
    b: str = field(compare=False)
    detail: str = field(compare=False, default="")


class _Groups:
    """Union-find over nodes that keeps each group's listing masks and forbidden nodes."""

    def __init__(self, nodes: list[str], masks: dict[str, dict[str, int]]):
        self.parent = {n: n for n in nodes}
        self.members = {n: [n] for n in nodes}
        lists = sorted(masks)
        self.masks = {n: tuple(masks[lst].get(n, 0) for lst in lists) for n in nodes}
        self.forbid: dict[str, set[str]] = defaultdict(set)

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def forbidden(self, rx: str, ry: str) -> bool:
        fx = self.forbid.get(rx)
        return bool(fx) and any(m in fx for m in self.members[ry])

    def side_by_side(self, rx: str, ry: str) -> bool:
        return any(a & b for a, b in zip(self.masks[rx], self.masks[ry]))

    def union(self, rx: str, ry: str) -> None:
        keep, drop = sorted((rx, ry))
        self.parent[drop] = keep
        self.members[keep] += self.members.pop(drop)
        self.masks[keep] = tuple(a | b for a, b in zip(self.masks[keep], self.masks.pop(drop)))
        self.forbid[keep] |= self.forbid.pop(drop, set())


def link(ob: Observations, aliases: pd.DataFrame | None = None) -> Links:
    """Join the nodes of `ob` by the tiers, with the verdicts of `aliases` (``aliases.load``)."""
    nodes = ob.nodes.set_index("node")
    info = nodes.to_dict(orient="index")
    eligible = {n for n, f in info.items() if _known(f["state"]) and _known(f["model"])}
    buckets: dict[tuple, list[str]] = defaultdict(list)
    for n in sorted(eligible):
        buckets[(info[n]["state"], info[n]["model"])].append(n)
    groups = _Groups(sorted(info), ob.masks)
    candidates: dict[tuple[str, str], str] = {}

    def candidate(a: str, b: str, reason: str) -> None:
        candidates.setdefault(tuple(sorted((a, b))), reason)

    aliases = aliases if aliases is not None else pd.DataFrame(columns=["verdict"])
    alias_edges, agency_same, agency_distinct, verdict_pairs, unused = _alias_rules(
        aliases, info, eligible, groups
    )
    edges = [
        *alias_edges,
        *_url_edges(buckets, info, candidate),
        *_signed_edges(buckets, info),
        *_relabel_edges(ob, info, eligible, candidate),
        *_pending_edges(buckets, info, ob.masks, candidate),
    ]
    merges = []
    evidence: dict[str, tuple[str, str]] = {}
    for e in sorted(edges):
        rx, ry = groups.find(e.a), groups.find(e.b)
        if rx == ry or groups.forbidden(rx, ry) or groups.forbidden(ry, rx):
            continue
        detail = e.detail
        if e.tier != "alias" and groups.side_by_side(rx, ry):
            duplicate = e.tier in ("moa_url", "signed_name") and similar(e.a, e.b, info).same_words
            if not duplicate:
                candidate(e.a, e.b, f"listed side by side; {_reason(e)}")
                continue
            detail = f"{detail}; a duplicate listing (both listed in one version)"
        groups.union(rx, ry)
        evidence.setdefault(e.b, (e.tier, e.a))
        evidence.setdefault(e.a, (e.tier, e.b))
        merges.append(_merge_record("agreement", e.tier, e.a, e.b, detail, info))
    # Groups and their ids: the exact key of the first listing.
    group: dict[str, str] = {}
    by_root: dict[str, list[str]] = defaultdict(list)
    for n in info:
        by_root[groups.find(n)].append(n)
    for members in by_root.values():
        gid = min(members, key=lambda m: (info[m]["first"], m))
        for m in members:
            group[m] = gid
    node_evidence = {
        n: ("exact" if group[n] == n else evidence.get(n, ("exact", ""))[0]) for n in info
    }
    agency, agency_merges = agencies_of(info, group, merges, agency_same, agency_distinct)
    merges_df = pd.DataFrame(merges + agency_merges, columns=MERGE_COLUMNS)
    review_pairs(buckets, info, ob.masks, group, candidate)
    return Links(
        group,
        agency,
        node_evidence,
        merges_df,
        candidates_frame(candidates, info, group, verdict_pairs),
        unused,
    )


def _reason(e: _Edge) -> str:
    return f"{e.tier} evidence" + (f" ({e.detail})" if e.detail else "")


def _merge_record(level: str, tier: str, a: str, b: str, detail: str, info) -> dict:
    fa, fb = info[a], info[b]
    return {
        "level": level,
        "tier": tier,
        "state": fa["state"],
        "model": fa["model"] if level == "agreement" else None,
        "a": a if level == "agreement" else fa["agency_key"],
        "b": b if level == "agreement" else fb["agency_key"],
        "name_a": fa["name"],
        "name_b": fb["name"],
        "detail": detail,
    }


# --- evidence ----------------------------------------------------------------------------------
def _known(value) -> bool:
    """A state or model to join on: text, not missing (None or NaN) and not ``unknown``."""
    return isinstance(value, str) and value not in ("", "unknown")


def _alias_rules(aliases: pd.DataFrame, info, eligible, groups: _Groups):
    """Edges of `same` verdicts; `distinct` verdicts as forbidden node pairs; agency-level
    verdicts; every judged pair (to keep it off the candidate list); verdicts that match no
    listing."""
    by_key: dict[str, list[str]] = defaultdict(list)
    for n in sorted(eligible):
        by_key[info[n]["agency_key"]].append(n)
    edges, agency_same, agency_distinct, judged, unused = [], [], [], set(), []
    for rec in aliases.to_dict(orient="records") if len(aliases) else []:
        left, right = by_key.get(rec["key_a"], []), by_key.get(rec["key_b"], [])
        model = rec.get("model") or None
        pairs = [
            (x, y)
            for x in left
            for y in right
            if info[x]["model"] == info[y]["model"] and model in (None, info[x]["model"])
        ]
        if not model:
            judged.add(tuple(sorted((rec["key_a"], rec["key_b"]))))
            (agency_same if rec["verdict"] == "same" else agency_distinct).append(
                (rec["key_a"], rec["key_b"], rec.get("note") or "")
            )
        if not pairs and not (left and right and not model):
            unused.append(rec)
        for x, y in pairs:
            judged.add(tuple(sorted((x, y))))
            if rec["verdict"] == "same":
                edges.append(_Edge((0, x, y), "alias", x, y, rec.get("note") or ""))
            else:
                groups.forbid[x].add(y)
                groups.forbid[y].add(x)
    unused_df = pd.DataFrame(unused, columns=list(aliases.columns))
    return edges, agency_same, agency_distinct, judged, unused_df


def _sharing(buckets, info, fact: str):
    """(value, x, y) for every pair of nodes of one state and model whose `fact` (a set:
    ``urls`` or ``signed``) holds that value."""
    for members in buckets.values():
        by_value: dict = defaultdict(list)
        for n in members:
            for value in info[n][fact]:
                by_value[value].append(n)
        for value, holders in sorted(by_value.items()):
            for x, y in combinations(sorted(set(holders)), 2):
                yield value, x, y


def _url_edges(buckets, info, candidate) -> list[_Edge]:
    out = []
    for url, x, y in _sharing(buckets, info, "urls"):
        match = similar(x, y, info)
        same_day = info[x]["signed"] & info[y]["signed"]
        pdf = url.rsplit("/", 1)[-1]
        if match.similar or same_day:
            why = "similar names" if match.similar else f"signed {min(same_day)}"
            out.append(_Edge((1, -match.score, x, y), "moa_url", x, y, f"{pdf}; {why}"))
        else:
            candidate(
                x, y, f"same MOA URL ({pdf}), but {match.reason} and no signing date in common"
            )
    return out


def _signed_edges(buckets, info) -> list[_Edge]:
    out = []
    for day, x, y in _sharing(buckets, info, "signed"):
        match = similar(x, y, info)
        if match.similar:
            out.append(_Edge((2, -match.score, x, y), "signed_name", x, y, f"signed {day}"))
    return out


def _relabel_edges(ob: Observations, info, eligible, candidate) -> list[_Edge]:
    """Listings that end on one version while one of the same state and model starts on the
    next: with the same signing date on the participating list; with a similar name on the
    pending list (which has no signing dates)."""
    out = []
    for lst in LISTS:
        out += _relabels(ob, lst, info, eligible, candidate)
    return out


def _relabels(ob: Observations, lst: str, info, eligible, candidate) -> list[_Edge]:
    last = ob.last_pos(lst)
    if last < 1:
        return []
    dated = lst == "participating"
    runs = ob.runs[ob.runs["li"] == LISTS.index(lst)]  # sorted by node (key order), start
    nid, start, end = (runs[c].to_numpy() for c in ("nid", "start", "end"))
    # A listing is a chain of runs of one node, each beginning where the last one ended.
    same = np.r_[False, (nid[1:] == nid[:-1]) & (start[1:] == end[:-1] + 1)]
    begins, ends = ~same, np.r_[~same[1:], True]
    node_of = ob.nodes["node"].to_numpy()[nid]
    signed = ob.variants["signed"].to_numpy()[runs["vid"].to_numpy()] if dated else None
    ok = ob.nodes["node"].isin(eligible).to_numpy()
    keep = ok[nid] & (~pd.isna(signed) if dated else True)
    state = ob.nodes["state"].to_numpy(object)[nid]
    model = ob.nodes["model"].to_numpy(object)[nid]
    day = signed if dated else np.full(len(runs), "-", dtype=object)
    ended = keep & ends & (end < last)  # the last position of a listing
    began = keep & begins & (start > 0)  # the first position of a listing
    # Only a boundary where listings of one state and model both ended and began can hold
    # a relabel: the others are dropped here, in bulk (every year of history adds listings
    # that ended, and a nightly update should not walk them one by one).
    kind = ob.nodes.groupby(["state", "model"], dropna=False, sort=False).ngroup().to_numpy()
    kinds = int(kind.max()) + 1 if len(kind) else 1
    where_ended, where_began = end * kinds + kind[nid], (start - 1) * kinds + kind[nid]
    both = np.intersect1d(where_ended[ended], where_began[began])
    ended &= np.isin(where_ended, both)
    began &= np.isin(where_began, both)
    # (position, state, model, day) -> the nodes whose listing ended there / began just
    # after it, in key order; only the boundaries where both happened matter.
    gone: dict[tuple, list[str]] = defaultdict(list)
    new: dict[tuple, list[str]] = defaultdict(list)
    for at, mask, into in ((end, ended, gone), (start - 1, began, new)):
        found = zip(node_of[mask], at[mask].tolist(), state[mask], model[mask], day[mask])
        for n, p, st, md, d in sorted(found, key=lambda t: t[0]):
            into[(p, st, md, d)].append(n)
    v = ob.versions
    v = v[v["list"] == lst]
    dates = dict(zip(v["pos"].tolist(), v["date"].tolist()))
    out = []
    for key in sorted(gone.keys() & new.keys()):
        g, nw = gone[key], new[key]
        when = f"on {dates[key[0] + 1]}" + (f", signed {key[3]}" if dated else f" ({lst} list)")
        if dated and len(g) == 1 and len(nw) == 1:
            out.append(_Edge((3, 0.0, g[0], nw[0]), "relabel", g[0], nw[0], when))
            continue
        sim = {(x, y) for x in g for y in nw if similar(x, y, info).similar}
        for x, y in sorted(sim):
            if sum(1 for p in sim if p[0] == x) == 1 and sum(1 for p in sim if p[1] == y) == 1:
                out.append(_Edge((3, -1.0, x, y), "relabel", x, y, when + "; similar names"))
        if not dated:
            continue
        for x in g:
            for y in nw:
                if (x, y) not in sim and similar(x, y, info).score == 1.0:
                    candidate(
                        x, y, f"relabel ambiguous ({len(g)} listings ended, {len(nw)} began {when})"
                    )
    return out


def _pending_edges(buckets, info, masks, candidate) -> list[_Edge]:
    """Pending listings whose key never reached the participating list, joined to the
    participating listing with a similar name (the best one; a tie is a candidate)."""
    part, pend = masks.get("participating", {}), masks.get("pending", {})
    out = []
    for members in buckets.values():
        signed = [n for n in members if part.get(n)]
        waiting = [n for n in members if pend.get(n) and not part.get(n)]
        for w in waiting:
            scored = [(similar(w, s, info), s) for s in signed]
            best = sorted(((-m.score, s) for m, s in scored if m.similar))
            if not best:
                continue
            if len(best) > 1 and best[0][0] == best[1][0]:
                for _, s in best:
                    candidate(w, s, "pending listing like several participating ones")
                continue
            s = best[0][1]
            out.append(_Edge((4, best[0][0], w, s), "pending_name", w, s, "similar names"))
    return out

"""Pairs of agreements that look like one agency but that no rule may join alone: the
candidates listed for review (``identity --candidates``), never joined silently."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import pandas as pd

from ice287g.identity import columns
from ice287g.normalize import names

# A listing that ends within this many days after a similar one began was handed over to it.
HANDOVER_DAYS = 30
CANDIDATE_COLUMNS = columns.names(columns.CANDIDATE_FIELDS)


def similar(a: str, b: str, info) -> names.Match:
    """How alike the names of nodes `a` and `b` are (``names.compare``)."""
    return names.compare(info[a]["name"], info[b]["name"], info[a]["state"])


def review_pairs(buckets, info, masks, group, candidate) -> None:
    """Pairs of agreements of one state and model that look like one: similar names listed
    one after the other (or the very same words side by side); one name inside the other,
    listed one after the other with a signing date in common; or one listing handed over to
    a similar one within ``HANDOVER_DAYS``. Judged on whole agreements (every spelling, every
    listing), shown by their closest pair of spellings."""
    lists = sorted(masks)
    for members in buckets.values():
        agreements: dict[str, list[str]] = defaultdict(list)
        for n in members:
            agreements[group[n]].append(n)
        facts = {g: _group_facts(ns, info, masks, lists) for g, ns in agreements.items()}
        for gx, gy in _blocked_pairs(agreements, info):
            (x, y), match = _closest(agreements[gx], agreements[gy], info)
            fx, fy = facts[gx], facts[gy]
            together = any(a & b for a, b in zip(fx["masks"], fy["masks"]))
            common = fx["signed"] & fy["signed"]
            if match.same_words or (match.similar and not together):
                candidate(x, y, "similar names, but no MOA URL, signing date or relabel joins them")
            elif match.score == 1.0 and common and not together:
                candidate(
                    x, y, f"one name within the other, both signed {min(common)}; {match.reason}"
                )
            elif match.score == 1.0 and together and _handover(fx, fy):
                candidate(
                    x,
                    y,
                    f"one listing gave way to the other within {HANDOVER_DAYS} days "
                    f"(a new agreement, or the same one re-signed?); {match.reason}",
                )


def _blocked_pairs(agreements: dict[str, list[str]], info) -> list[tuple[str, str]]:
    """Pairs of agreements that share the start or the end of a word (a typo seldom hits
    both), so that a large state and model is not compared pair by pair."""
    blocks: dict[str, set[str]] = defaultdict(set)
    for g, ns in agreements.items():
        for n in ns:
            p = names.parts(info[n]["name"], info[n]["state"])
            ws = p.distinctive or p.generic
            for w in ws or ("",):
                blocks[w[:3]].add(g)
                blocks["~" + w[-3:]].add(g)
    pairs = set()
    for members in blocks.values():
        pairs.update(combinations(sorted(members), 2))
    return sorted(pairs)


def _group_facts(nodes, info, masks, lists) -> dict:
    return {
        "first": min(info[n]["first"] for n in nodes),
        "last": max(info[n]["last"] for n in nodes),
        "signed": frozenset().union(*(info[n]["signed"] for n in nodes)),
        "masks": [_or(masks[lst].get(n, 0) for n in nodes) for lst in lists],
    }


def _or(values) -> int:
    out = 0
    for v in values:
        out |= v
    return out


def _closest(xs, ys, info) -> tuple[tuple[str, str], names.Match]:
    """The pair of nodes whose names match best (similar first, then by score)."""
    best = None
    for x in xs:
        for y in ys:
            m = similar(x, y, info)
            key = (m.same_words, m.similar, m.score)
            if best is None or key > best[0]:
                best = (key, (x, y), m)
    return best[1], best[2]


def _handover(fx, fy) -> bool:
    """One began while the other was listed, and the other ended soon after."""
    old, new = sorted((fx, fy), key=lambda f: f["first"])
    start = new["first"][0]
    return old["last"] < new["last"] and 0 <= (old["last"] - start).days <= HANDOVER_DAYS


def candidates_frame(candidates, info, group, judged) -> pd.DataFrame:
    rows = []
    for (a, b), reason in sorted(candidates.items()):
        if group[a] == group[b]:
            continue
        fa, fb = info[a], info[b]
        pair_keys = tuple(sorted((fa["agency_key"], fb["agency_key"])))
        if tuple(sorted((a, b))) in judged or pair_keys in judged:
            continue
        rows.append(
            {
                "state": fa["state"],
                "model": fa["model"],
                "a": a,
                "b": b,
                "name_a": fa["name"],
                "name_b": fb["name"],
                "score": round(similar(a, b, info).score, 2),
                "reason": reason,
                "first_a": fa["first"][0],
                "last_a": fa["last"],
                "first_b": fb["first"][0],
                "last_b": fb["last"],
            }
        )
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)

"""Which exact agency keys are one agency: keys joined by a reviewed verdict, or by a
joined agreement whose two names are similar (see ``link``)."""

from __future__ import annotations

from collections import defaultdict

from ice287g.normalize import names


def agencies_of(info, group, merges, agency_same, agency_distinct):
    """Exact agency key -> agency id: keys joined by a verdict, or by a joined agreement
    whose two names are similar."""
    keys = sorted({f["agency_key"] for f in info.values() if f["agency_key"]})
    parent = {k: k for k in keys}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    members = {k: {k} for k in keys}
    distinct = defaultdict(set)
    for a, b, _ in agency_distinct:
        distinct[a].add(b)
        distinct[b].add(a)
    out = []

    def join(a, b, tier, detail, na, nb, state):
        if a not in parent or b not in parent:
            return
        ra, rb = find(a), find(b)
        if ra == rb or any(d in members[rb] for m in members[ra] for d in distinct[m]):
            return
        keep, drop = sorted((ra, rb))
        parent[drop] = keep
        members[keep] |= members.pop(drop)
        out.append(
            {
                "level": "agency",
                "tier": tier,
                "state": state,
                "model": None,
                "a": a,
                "b": b,
                "name_a": na,
                "name_b": nb,
                "detail": detail,
            }
        )

    first_name = {}
    for _, f in sorted(info.items(), key=lambda kv: (kv[1]["first"], kv[0])):
        first_name.setdefault(f["agency_key"], f["name"])
    for a, b, note in agency_same:
        state = a.split(":", 1)[0]
        join(a, b, "alias", note, first_name.get(a, a), first_name.get(b, b), state)
    for m in merges:  # a joined agreement joins its agencies when the names are similar
        fa, fb = info[m["a"]], info[m["b"]]
        if fa["agency_key"] != fb["agency_key"] and names.similar(
            fa["name"], fb["name"], fa["state"]
        ):
            join(
                fa["agency_key"],
                fb["agency_key"],
                m["tier"],
                m["detail"],
                fa["name"],
                fb["name"],
                fa["state"],
            )
    first_of: dict[str, tuple] = {}
    for f in info.values():
        k = f["agency_key"]
        if k and (k not in first_of or f["first"] < first_of[k]):
            first_of[k] = f["first"]
    roots: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        roots[find(k)].append(k)
    agency = {}
    for ks in roots.values():
        aid = min(ks, key=lambda k: (first_of[k], k))
        for k in ks:
            agency[k] = aid
    return agency, out

"""Identity across versions: one agency, one agreement, whatever ICE calls it this week.

The stage after normalization (see DESIGN.md): exact keys (``agreement_id`` as the
normalizer builds it) are joined into agreements, and agency keys into agencies, by
evidence in tiers, each join recorded with its tier (``TIERS``); what no rule may join
alone is listed for review. From there every agreement gets a life story.

    from ice287g.identity import resolve
    from ice287g.query.identity import load
    ident = resolve(versions, rows)            # plain frames (pure)
    ident = load("data")                       # a store, cached (suspect versions left out)
    ident.agreements(status="removed")         # status, first/last listed, names, evidence
    ident.events("FL:bocaratonpolicedepartment:TFM")   # listed, renamed, moa_posted, ...
    ident.terminations(since="2025-06-01", until="2025-12-31", state="FL")
    ident.diff(ident.version_on("2025-06-01"), ident.version_on("2025-12-31"))
    ident.aliases("Boca Raton PD", state="FL")  # every spelling of that agency
    ident.candidates()                         # pairs waiting for a verdict (aliases.csv)
    ident.merges(tier="relabel")               # every join with its evidence

    ident = ident.extend(new_versions, new_rows)  # newer versions: costs what they touch

Agency names are compared by ``ice287g.normalize.names`` (the one copy). Modules:
``observe`` (versions and rows -> observations kept as runs of versions), ``link`` (the
tiers), ``agencies`` (agency keys -> agencies), ``review`` (candidates for review),
``listings`` (who stands for an agreement in each version), ``events`` (the life stories,
told whole or from the new versions on), ``story`` (the words of a change, agreements,
terminations, spellings, diff), ``resolve`` (``Identity``, ``Resolver``), ``aliases`` (the
reviewed table, ``aliases.csv``), ``columns`` (what every output column means). The stage
never reads the store: ``ice287g.query.identity`` does, and caches it.
"""

from __future__ import annotations

from ice287g.identity.link import TIERS
from ice287g.identity.resolve import Identity, Resolver, resolve

__all__ = ["Identity", "Resolver", "TIERS", "resolve"]

"""The identity of every agreement and agency across versions: ``resolve`` and ``Identity``.

``resolve(versions, rows)`` is pure (frames in, an ``Identity`` out); reading a store and
caching the result is the query stage's (``ice287g.query.identity.load``);
``Identity.extend`` adds newer versions to a resolved identity at the cost of what they
touch, and ``Resolver`` keeps an identity current version by version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

from ice287g.arrow import dataframe
from ice287g.identity import aliases as alias_table
from ice287g.identity import story
from ice287g.identity.events import event_table, events_after, year_digests
from ice287g.identity.link import TIERS, Links, link
from ice287g.identity.listings import Listings, listings
from ice287g.identity.observe import LISTS, Observations, observe
from ice287g.identity.runs import covering


@dataclass
class Identity:
    """Resolved identities of one set of versions. Every answer is a DataFrame."""

    observations: Observations
    links: Links
    verdicts: pd.DataFrame | None = None  # the alias table the links applied

    @cached_property
    def _listings(self) -> Listings:
        return listings(self.observations, self.links)

    @cached_property
    def _event_arrow(self) -> pa.Table:  # the event table as kept (``events.EVENT_SCHEMA``)
        return event_table(self.observations, self.links, self._listings)

    @cached_property
    def _event_table(self) -> pd.DataFrame:  # derived from it, never cached on disk
        return dataframe(self._event_arrow)

    @property
    def _events(self) -> pd.DataFrame:  # a view of the table, not kept twice
        return self._event_table[story.EVENT_COLUMNS]

    @cached_property
    def _agreements(self) -> pd.DataFrame:
        told = dataframe(self._event_arrow.select(story.AGREEMENT_EVENT_COLUMNS))
        return story.agreements(self.observations, self.links, self._listings, told)

    @cached_property
    def _spellings(self) -> pd.DataFrame:
        return story.spellings(self.observations, self.links, self._listings)

    def __getstate__(self) -> dict:
        """Pickled (the store's cache) without the event table's DataFrame: its Arrow
        form (``_event_arrow``) is what is kept."""
        state = self.__dict__.copy()
        state.pop("_event_table", None)
        return state

    def prepare(self) -> Identity:
        """Build every table now (before caching, so a cached identity only answers)."""
        for name in ("_listings", "_event_arrow", "_agreements", "_spellings"):
            getattr(self, name)
        return self

    def extend(self, versions: pd.DataFrame, rows: pd.DataFrame) -> Identity | None:
        """This identity with `versions` (and their `rows`) added, or None when one of them
        is older than the newest stored version of its list (then ``resolve`` everything).
        Costs the new rows, the joins (within each state and model) and the events of the
        agreements they touch: not the versions already resolved."""
        ob = self.observations.extend(versions, rows)
        if ob is None:
            return None
        if ob is self.observations:
            return self
        table = alias_table.load() if self.verdicts is None else self.verdicts
        new = Identity(ob, link(ob, table), table)
        if "_event_arrow" in self.__dict__:  # told already: tell only what is new
            since = tuple(self.observations.last_pos(lst) + 1 for lst in LISTS)
            new.__dict__["_event_arrow"] = events_after(
                self._event_arrow, self.links, since, ob, new.links, new._listings
            )
        return new

    # --- tables ----------------------------------------------------------------------------
    def agreements(self, state: str | None = None, status: str | None = None) -> pd.DataFrame:
        """One record per agreement ever on the participating list (``AGREEMENT_COLUMNS``):
        ``status`` is ``active``, ``removed`` or ``superseded``."""
        df = self._agreements
        if state:
            df = df[df["state"] == state]
        if status:
            df = df[df["status"] == status]
        return df.reset_index(drop=True)

    def events(
        self, agreement_id: str | None = None, state: str | None = None, list: str | None = None
    ) -> pd.DataFrame:
        """The life story of every agreement (``EVENT_COLUMNS``), in time order."""
        df = self._events
        if agreement_id:
            df = df[df["agreement_id"] == self.agreement_of(agreement_id)]
        if state:
            df = df[df["state"] == state]
        if list:
            df = df[df["list"] == list]
        return df.reset_index(drop=True)

    def aliases(self, name: str | None = None, state: str | None = None) -> pd.DataFrame:
        """Every spelling ever printed with its agency and agreement (``ALIAS_COLUMNS``);
        `name` keeps the spellings of the agencies that name (any spelling, case,
        punctuation and abbreviations aside: "Parmer County SO") belongs to."""
        df = self._spellings
        if state:
            df = df[df["state"] == state]
        if name:
            from ice287g.normalize.apply import agency_key
            from ice287g.normalize.names import words

            key, ws = agency_key(name), words(name)
            hits = df[[agency_key(n) == key or words(n) == ws for n in df["name"]]]
            df = df[df["agency_id"].isin(set(hits["agency_id"]))]
        return df.reset_index(drop=True)

    def merges(self, level: str | None = None, tier: str | None = None) -> pd.DataFrame:
        """Every join the rules made, with its tier and evidence (``MERGE_COLUMNS``)."""
        df = self.links.merges
        if level:
            df = df[df["level"] == level]
        if tier:
            df = df[df["tier"] == tier]
        return df.reset_index(drop=True)

    def candidates(self) -> pd.DataFrame:
        """Pairs that look like one agency but that no rule may join alone: for review,
        never merged (``CANDIDATE_COLUMNS``). A verdict in the alias table settles each."""
        return self.links.candidates.reset_index(drop=True)

    def tier_counts(self) -> pd.DataFrame:
        """Joins per level and tier; ``exact`` counts the spellings folded into an exact key
        beyond the first."""
        m = self.links.merges.groupby(["level", "tier"]).size().rename("merges").reset_index()
        extra = sum(len(n) - 1 for n in self.observations.nodes["names"])
        exact = pd.DataFrame([{"level": "spelling", "tier": "exact", "merges": extra}])
        return pd.concat([exact, m], ignore_index=True)

    # --- questions -------------------------------------------------------------------------
    def terminations(
        self,
        since: str | date | None = None,
        until: str | date | None = None,
        state: str | None = None,
    ) -> pd.DataFrame:
        """Real removals dated `since`..`until` (``TERMINATION_COLUMNS``)."""
        return story.terminations(self._agreements, _day(since), _day(until), state)

    def diff(self, a: str, b: str) -> pd.DataFrame:
        """What changed from version `a` to version `b` (sha256 of two versions of one list,
        both among this identity's versions), in resolved identities (``DIFF_COLUMNS``)."""
        return story.diff(self.observations, self.links, self._listings, a, b)

    def events_arrow(self):
        """``events()`` of every agreement as an Arrow table (``EVENT_COLUMNS``, text
        dictionary-encoded, as kept): for a caller that writes them out, without the
        DataFrame's copy of every event's text."""
        return self._event_arrow.select(story.EVENT_COLUMNS)

    def event_year_digests(self) -> dict[int, str]:
        """Calendar year -> a digest of that year's events (``events.year_digests``)."""
        return year_digests(self._event_arrow)

    def listed(self, sha: str) -> pd.DataFrame:
        """The agreements listed in version `sha`, one row each (the listing that stands for
        it, as ``diff`` compares them): ``agreement_id`` (stable), ``agency_id`` and the
        row's values (``observe.ROW_COLUMNS`` but the exact key)."""
        from ice287g.identity.observe import ROW_COLUMNS

        v = self.observations.versions.set_index("sha256").loc[sha]
        rows = covering(self._listings.rows, v["li"], v["pos"])
        values = self.observations.variants
        cols = [c for c in ROW_COLUMNS if c not in ("agreement_id", "agency_id")]
        var = values.loc[rows["vid"].to_numpy(), cols].reset_index(drop=True)
        var.insert(0, "agency_id", self._listings.agency[rows["nid"].to_numpy()])
        var.insert(0, "agreement_id", self._listings.ids[rows["gid"].to_numpy()])
        return var.sort_values("agreement_id").reset_index(drop=True)

    def listed_runs(self) -> pd.DataFrame:
        """What ``listed`` answers for every version at once, as runs: ``list``, ``start``,
        ``end`` (positions in ``observations.versions`` of that list, inclusive), then the
        columns of ``listed``. Grows with what changes, not with the number of versions."""
        return pd.concat([self.listed_run_positions(), self.listed_run_values()], axis=1)

    def listed_run_positions(self) -> pd.DataFrame:
        """``listed_runs``' ``list``, ``start`` and ``end`` (no value of a row is copied)."""
        rows = self._listings.rows
        return pd.DataFrame(
            {
                "list": [LISTS[i] for i in rows["li"].tolist()],
                "start": rows["start"].to_numpy(),
                "end": rows["end"].to_numpy(),
            }
        )

    def listed_run_values(self, which=None, columns: list[str] | None = None) -> pd.DataFrame:
        """``listed_runs``' values (``agreement_id``, ``agency_id`` and the row's, or those
        of `columns`) of the runs at positions `which` (every run when None), in that
        order: a caller that needs a few runs' text copies only theirs."""
        from ice287g.identity.observe import ROW_COLUMNS

        rows = self._listings.rows
        if which is not None:
            rows = rows.iloc[which]
        cols = [c for c in ROW_COLUMNS if c not in ("agreement_id", "agency_id")]
        if columns is not None:
            cols = [c for c in cols if c in columns]
        var = self.observations.variants.loc[rows["vid"].to_numpy(), cols].reset_index(drop=True)
        if columns is None or "agency_id" in columns:
            var.insert(0, "agency_id", self._listings.agency[rows["nid"].to_numpy()])
        if columns is None or "agreement_id" in columns:
            var.insert(0, "agreement_id", self._listings.ids[rows["gid"].to_numpy()])
        return var if columns is None else var[columns]

    def listed_run_hashes(self) -> np.ndarray:
        """A 64-bit hash of the values of each row of ``listed_runs`` (its agreement id,
        agency id and listed values; not its list or positions), in the same order: from
        each distinct row and id hashed once, not from the runs' text."""
        from ice287g.identity.observe import ROW_COLUMNS

        rows = self._listings.rows
        cols = [c for c in ROW_COLUMNS if c not in ("agreement_id", "agency_id")]
        values = self.observations.variants[cols]
        parts = (
            pd.util.hash_pandas_object(values, index=False).to_numpy()[rows["vid"].to_numpy()],
            pd.util.hash_array(self._listings.agency.astype(object))[rows["nid"].to_numpy()],
            pd.util.hash_array(self._listings.ids.astype(object))[rows["gid"].to_numpy()],
        )
        out = np.zeros(len(rows), dtype="uint64")
        with np.errstate(over="ignore"):
            for part in parts:
                out = out * np.uint64(1_000_003) ^ part
        return out

    def agreement_count(self, sha: str) -> int:
        """Agreements listed in version `sha` (each once, however many spellings)."""
        v = self.observations.versions.set_index("sha256").loc[sha]
        return len(covering(self._listings.rows, v["li"], v["pos"]))

    def version_on(self, day: str | date, list: str = "participating") -> str | None:
        """sha256 of the version of `list` in effect on `day` among this identity's versions
        (the last one published on or before it)."""
        v = self.observations.versions
        v = v[(v["list"] == list) & (v["date"] <= _day(day))]
        return None if v.empty else v.iloc[-1]["sha256"]

    def agreement_of(self, key: str) -> str:
        """The agreement id of an exact key (``ST:name:MODEL``, old or current)."""
        return self.links.group.get(key, key)

    def agency_of(self, key: str) -> str:
        """The agency id of an exact agency key (``ST:name``)."""
        return self.links.agency.get(key, key)


def _day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def resolve(
    versions: pd.DataFrame, rows: pd.DataFrame, aliases: pd.DataFrame | None = None
) -> Identity:
    """Resolve identities across `versions` (``list``, ``date``, ``seq``, ``sha256``, and
    ``columns`` when known) from their snapshot `rows` (with ``sha256``). `aliases`: the
    verdicts to apply (default: the reviewed table, ``aliases.load()``). The result depends
    only on the set of versions and rows, never on their order."""
    table = alias_table.load() if aliases is None else aliases
    ob = observe(versions, rows)
    return Identity(ob, link(ob, table), table)


@dataclass
class Resolver:
    """Identity kept current version by version: ``add`` versions as they are stored, ask
    for the ``identity()`` when needed. The answer equals ``resolve`` of everything added,
    in any order.

    A version newer than every version of its list already added extends the identity
    (``Identity.extend``: its rows, the joins, and the events of what it touches). One
    published before the newest of its list shifts positions, so the next ``identity()``
    resolves everything again. ``extended`` and ``resolved`` count the two.
    """

    aliases: pd.DataFrame | None = None
    _versions: list[pd.DataFrame] = field(default_factory=list)
    _rows: list[pd.DataFrame] = field(default_factory=list)
    _current: Identity | None = None
    _stale: bool = False
    extended: int = 0
    resolved: int = 0

    def add(self, versions: pd.DataFrame, rows: pd.DataFrame) -> None:
        """Take one or more versions and their rows (same shapes as ``resolve``)."""
        rows = rows[rows["sha256"].isin(set(versions["sha256"]))]
        self._versions.append(versions)
        self._rows.append(rows)
        if self._current is None or self._stale:
            self._stale = True
            return
        ident = self._current.extend(versions, rows)
        if ident is None:
            self._stale = True
        else:
            self._current = ident.prepare()
            self.extended += 1

    def identity(self) -> Identity:
        if self._current is None or self._stale:
            if not self._versions:
                raise ValueError("no version added yet")
            self._current = resolve(
                pd.concat(self._versions, ignore_index=True),
                pd.concat(self._rows, ignore_index=True),
                self.aliases,
            ).prepare()
            self._stale = False
            self.resolved += 1
        return self._current


__all__ = ["Identity", "Resolver", "resolve", "TIERS", "LISTS"]

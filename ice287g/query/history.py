"""Agreement history: the timeline (:mod:`ice287g.query.timeline`) cached, and the questions
asked of it (one agency's story, every agreement).

Both tables are cached under ``<data_dir>/derived/`` (written atomically), keyed by the
list of versions they were built from, so they are rebuilt only when the catalog changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from ice287g.normalize.apply import agency_key
from ice287g.normalize.names import matching_keys
from ice287g.query.timeline import (
    AGREEMENT_COLUMNS,
    AGREEMENT_FIELDS,
    EVENT_COLUMNS,
    EVENT_FIELDS,
    build,
)
from ice287g.query.versions import QueryError, catalog, parse_state, store_of

HISTORY_FORMAT = "1"  # bump when the way the history is built changes
META_KEY = b"ice287g.history"

TIMELINE_COLUMNS = [
    "date",
    "list",
    "event",
    "model",
    "field",
    "before",
    "after",
    "agency",
    "agreement_id",
]


class AmbiguousQuery(QueryError):
    """Several agencies match; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: pd.DataFrame):
        super().__init__(message)
        self.candidates = candidates


# --- cache -------------------------------------------------------------------------------------
def _versions(cat: pd.DataFrame, include_suspect: bool) -> pd.DataFrame:
    if not include_suspect:
        cat = cat[~cat["suspect"]]
    return cat.sort_values(["list", "date", "seq"]).reset_index(drop=True)


def cache_key(versions: pd.DataFrame) -> str:
    text = (
        HISTORY_FORMAT
        + "\n"
        + "\n".join(f"{r.list} {r.date} {r.seq} {r.sha256}" for r in versions.itertuples())
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _paths(store, include_suspect: bool) -> tuple[Path, Path]:
    suffix = "-with-suspect" if include_suspect else ""
    base = store.root / "derived"
    return base / f"history{suffix}.parquet", base / f"history-events{suffix}.parquet"


def _read_cached(path: Path, key: str) -> pd.DataFrame | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        if json.loads(meta.get(META_KEY, b"{}")).get("key") != key:
            return None
        return pq.read_table(path).to_pandas(date_as_object=True)
    except (OSError, ValueError):
        return None


def _write_cached(path: Path, df: pd.DataFrame, key: str, fields) -> None:
    import pyarrow as pa

    from ice287g.store.files import atomic_write, parquet_bytes

    table = pa.Table.from_pandas(df, schema=_arrow_schema(fields), preserve_index=False)
    table = table.replace_schema_metadata({META_KEY: json.dumps({"key": key}).encode()})
    try:
        atomic_write(path, parquet_bytes(table), sync=False)
    except OSError:
        pass  # a read-only store still answers, from memory


def _arrow_schema(fields):
    import pyarrow as pa

    types = {"string": pa.string(), "date": pa.date32(), "integer": pa.int64()}
    return pa.schema([pa.field(n, types[t]) for n, t, _ in fields])


def load(
    data_dir=None, include_suspect: bool = False, refresh: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agreements, events), from the cache when it matches the catalog, else rebuilt."""
    store = store_of(data_dir)
    versions = _versions(catalog(store), include_suspect)
    key = cache_key(versions)
    agreements_path, events_path = _paths(store, include_suspect)
    if not refresh:
        agreements = _read_cached(agreements_path, key)
        events = _read_cached(events_path, key) if agreements is not None else None
        if agreements is not None and events is not None:
            agreements["days_waited"] = agreements["days_waited"].astype("Int64")
            return agreements, events
    agreements, events = build(store, versions)
    if versions.empty:
        return agreements, events  # nothing to cache (and no store to write into)
    _write_cached(agreements_path, agreements, key, AGREEMENT_FIELDS)
    _write_cached(events_path, events, key, EVENT_FIELDS)
    return agreements, events


# --- questions ---------------------------------------------------------------------------------
def agreements(
    state: str | None = None,
    status: str | None = None,
    data_dir=None,
    include_suspect: bool = False,
) -> pd.DataFrame:
    """One record per agreement ever on the participating list (see AGREEMENT_FIELDS)."""
    if status not in (None, "active", "removed"):
        raise QueryError(f"unknown status {status!r}: use active or removed")
    df, _ = load(data_dir, include_suspect)
    if state:
        df = df[df["state"] == parse_state(state)]
    if status:
        df = df[df["status"] == status]
    return df.reset_index(drop=True)


def agencies_index(events: pd.DataFrame) -> pd.DataFrame:
    """Every agency of the history with every spelling it was listed under."""
    names = events[["history_agency_id", "state", "agency"]].drop_duplicates()
    names = names.assign(key=[agency_key(a) if isinstance(a, str) else "" for a in names["agency"]])
    return names


def find_agencies(query: str, events: pd.DataFrame, state: str | None = None) -> list[str]:
    """history_agency_ids whose names match `query` (see ``names.matching_keys``)."""
    names = agencies_index(events)
    if state:
        names = names[names["state"] == parse_state(state)]
    keys = matching_keys(agency_key(query), names["key"])
    return sorted(set(names[names["key"].isin(keys)]["history_agency_id"]))


def history(
    query: str | None = None, state: str | None = None, data_dir=None, include_suspect: bool = False
) -> pd.DataFrame:
    """Timeline of one agency (all its agreements, both lists) or, without a query, of all.

    Raises ``AmbiguousQuery`` (a QueryError) when several agencies match, ``QueryError``
    when none does. The frame's attrs carry ``agency_id``, ``agreements`` (their rows of
    the agreements table) when one agency was asked for.
    """
    table, events = load(data_dir, include_suspect)
    if query is None:
        out = events if not state else events[events["state"] == parse_state(state)]
        return out.reset_index(drop=True)
    found = find_agencies(query, events, state)
    if not found:
        raise QueryError(f"no agency matches {query!r}" + (f" in {state}" if state else ""))
    if len(found) > 1:
        names = agencies_index(events)
        names = names[names["history_agency_id"].isin(found)]
        latest = table.drop_duplicates("agency_id").set_index("agency_id")["agency"]
        cand = (
            names.groupby("history_agency_id")
            .agg(
                state=("state", "first"),
                spellings=("agency", lambda s: "; ".join(sorted(set(s.dropna())))),
            )
            .reset_index()
            .rename(columns={"history_agency_id": "agency_id"})
        )
        cand.insert(2, "agency", cand["agency_id"].map(latest))
        cand["agency"] = cand["agency"].fillna(cand["spellings"].str.split("; ").str[0])
        raise AmbiguousQuery(
            f"{len(found)} agencies match {query!r}: narrow the name or add --state",
            cand[["agency_id", "state", "agency", "spellings"]],
        )
    agency = found[0]
    out = events[events["history_agency_id"] == agency].reset_index(drop=True)
    out.attrs["agency_id"] = agency
    out.attrs["agreements"] = table[
        table["agreement_id"].str.rsplit(":", n=1).str[0] == agency
    ].reset_index(drop=True)
    return out


__all__ = [
    "AGREEMENT_COLUMNS",
    "EVENT_COLUMNS",
    "TIMELINE_COLUMNS",
    "AmbiguousQuery",
    "agreements",
    "find_agencies",
    "history",
    "load",
]

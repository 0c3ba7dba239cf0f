"""Agreement history rebuilt from every stored version, and the county review list.

The history is the chain of diffs (``changes.diff_frames``) between consecutive versions of
each list (suspect versions skipped unless asked), read with only the columns it needs:

- ``events`` (the timeline): one record per agreement appearance, disappearance, return and
  field change, dated by the version where it was first seen;
- ``agreements``: one record per agreement ever on the participating list.

Spelling fixes are followed: when a diff pairs a removed and an added agreement as a rename,
both ids belong to one agreement, known by the id it has in the newest version that lists
it (the older ids are kept in ``former_ids``).

Both tables are cached under ``<data_dir>/derived/`` (written atomically), keyed by the
list of versions they were built from, so they are rebuilt only when the catalog changes.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path

import pandas as pd

from ice287g.query.diff import (
    _AT,
    DIFF_COLUMNS,
    READ_COLUMNS,
    comparable_fields,
    diff_records,
    old_id,
    records,
)
from ice287g.query.versions import QueryError

HISTORY_FORMAT = "1"  # bump when the way the history is built changes
META_KEY = b"ice287g.query.history"

AGREEMENT_FIELDS: list[tuple[str, str, str]] = [
    ("agreement_id", "string", "Agreement key `ST:name:MODEL` in the newest version that lists it"),
    ("agency_id", "string", "Agency key `ST:name` (case, spacing, punctuation ignored)"),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name as spelled in the newest version that lists it"),
    ("model", "string", "Support model: `JEM`, `TFM`, `WSO` or `TTFM`"),
    ("agency_type", "string", "Agency type in the newest version that lists it"),
    ("county", "string", "County in the newest version that lists it"),
    ("first_seen", "date", "Date of the first version of the participating list with it"),
    ("last_seen", "date", "Date of the last version with it"),
    ("status", "string", "`active` (in the newest version) or `removed`"),
    ("versions_seen", "integer", "Number of versions that list it"),
    ("gaps", "integer", "Times it disappeared from the list and came back"),
    (
        "gap_ranges",
        "string",
        "The dates of the versions it was missing from, as `first/last` ranges joined with `; `",
    ),
    ("moa_first_available", "date", "Date of the first version with a link to its MOA"),
    ("signed", "date", "Signing date in the newest version that lists it"),
    ("moa_url", "string", "MOA link in the newest version that lists it"),
    ("former_ids", "string", "Earlier agreement ids (spelling fixes), joined with `; `"),
    ("pending_first_seen", "date", "First date the agency was on the pending list"),
    (
        "participating_first_seen",
        "date",
        "First date on the participating list (set when the agency was on the pending list)",
    ),
    ("days_waited", "integer", "Days from pending_first_seen to participating_first_seen"),
    (
        "pending_match",
        "string",
        "How the pending entry was found: `agreement` (same agency "
        "and model) or `agency` (same agency, any model, listed as "
        "pending before the agreement appeared)",
    ),
]
EVENT_FIELDS: list[tuple[str, str, str]] = [
    ("date", "date", "Date of the version where the event is first seen"),
    ("seq", "integer", "Order of that version within its day"),
    ("list", "string", "`participating` or `pending`"),
    ("sha256", "string", "SHA-256 of that version's workbook"),
    (
        "event",
        "string",
        "`present` (in the first stored version of the list), `added`, "
        "`removed`, `returned` (added again after a gap) or `changed`",
    ),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name as listed in that version"),
    ("model", "string", "Support model"),
    ("agreement_id", "string", "Agreement key in that version"),
    ("field", "string", "For `changed`: the field (see `diff`)"),
    ("before", "string", "For `changed`: the value before"),
    ("after", "string", "For `changed`: the value after"),
    ("history_id", "string", "The agreement's id in the agreements table (spellings followed)"),
    ("history_agency_id", "string", "The agency's key in the agreements table"),
]
AGREEMENT_COLUMNS = [n for n, _, _ in AGREEMENT_FIELDS]
EVENT_COLUMNS = [n for n, _, _ in EVENT_FIELDS]
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
# Name matching for `history QUERY`.
QUERY_CUTOFF = 0.8


class AmbiguousQuery(QueryError):
    """Several agencies match; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: pd.DataFrame):
        super().__init__(message)
        self.candidates = candidates


# --- building --------------------------------------------------------------------------------
class _Union:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, x: str, y: str) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


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


def build(store, versions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agreements, events) from the given catalog rows (both lists)."""
    union = _Union()
    events: list[dict] = []
    seen: dict[str, dict[str, _Seen]] = {"participating": {}, "pending": {}}
    dates: dict[str, list] = {}
    for lst in ("participating", "pending"):
        rows = versions[versions["list"] == lst].reset_index(drop=True)
        dates[lst] = list(rows["date"])
        acc = seen[lst]
        prev, prev_cols = None, None
        for i, v in enumerate(rows.itertuples()):
            recs = records(store.read_snapshot(v.snapshot, columns=READ_COLUMNS))
            meta = {"date": v.date, "seq": v.seq, "list": lst, "sha256": v.sha256}
            if prev is None:
                changes = [
                    {
                        "change": "present",
                        "state": r[0],
                        "agency": r[1],
                        "model": r[2],
                        "agreement_id": aid,
                        "field": None,
                        "before": None,
                        "after": None,
                    }
                    for aid, r in sorted(recs.items())
                ]
            else:
                changes = diff_records(prev, recs, comparable_fields(prev_cols, v.columns))
            for rec in changes:
                rec.update(meta)
                if rec["field"] == "agency":
                    old = old_id(rec)
                    if old != rec["agreement_id"]:
                        union.union(old, rec["agreement_id"])
            events.extend(changes)
            for aid, rec in recs.items():
                item = acc.get(aid)
                if item is None:
                    item = acc[aid] = _Seen()
                item.add(i, rec)
            prev, prev_cols = recs, v.columns
    canon = _canonical(seen, union)
    ev = _label_events(
        pd.DataFrame(events, columns=[*EVENT_COLUMNS[:4], *DIFF_COLUMNS]), union, canon
    )
    agreements = _agreements(seen, dates, union, canon)
    return agreements, ev


class _Seen:
    """Where one agreement id was seen in one list: version indexes, first MOA link, and its
    newest record."""

    __slots__ = ("idx", "moa", "rec")

    def __init__(self):
        self.idx: list[int] = []
        self.moa: int | None = None
        self.rec: tuple | None = None

    def add(self, i: int, rec: tuple) -> None:
        self.idx.append(i)
        self.rec = rec
        if self.moa is None and rec[_AT["moa_status"]] == "available":
            self.moa = i


def _canonical(seen: dict[str, dict[str, _Seen]], union: _Union) -> dict[str, str]:
    """root -> the id of the group in the newest version listing it (participating first)."""
    canon: dict[str, str] = {}
    for lst in ("pending", "participating"):  # participating last, so it wins
        best: dict[str, tuple] = {}
        for aid, item in seen[lst].items():
            root = union.find(aid)
            key = (item.idx[-1], aid)
            if root not in best or key > best[root]:
                best[root] = key
        canon.update({root: key[1] for root, key in best.items()})
    return canon


def _label_events(ev: pd.DataFrame, union: _Union, canon: dict[str, str]) -> pd.DataFrame:
    if ev.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    ev["history_id"] = [canon.get(union.find(x), x) for x in ev["agreement_id"]]
    ev["history_agency_id"] = [h.rsplit(":", 1)[0] for h in ev["history_id"]]
    event = list(ev["change"])
    met: set[tuple[str, str]] = set()
    for i, (lst, change, hid) in enumerate(zip(ev["list"], ev["change"], ev["history_id"])):
        if change == "added" and (lst, hid) in met:
            event[i] = "returned"
        met.add((lst, hid))
    ev["event"] = event
    order = {"present": 0, "added": 1, "returned": 1, "removed": 2, "changed": 3}
    ev = ev.assign(_o=ev["event"].map(order))
    ev = ev.sort_values(
        ["date", "list", "seq", "history_agency_id", "_o", "agreement_id"], kind="mergesort"
    )
    return ev[EVENT_COLUMNS].reset_index(drop=True)


def _agreements(
    seen: dict[str, dict[str, _Seen]], dates: dict[str, list], union: _Union, canon: dict[str, str]
) -> pd.DataFrame:
    part = seen["participating"]
    if not part:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    pdates = dates["participating"]
    newest = len(pdates) - 1
    groups: dict[str, list[str]] = {}
    for aid in part:
        groups.setdefault(canon[union.find(aid)], []).append(aid)
    # Pending: first date per group, and per agency key (for the any-model fallback).
    pend_group: dict[str, list] = {}
    pend_agency: dict[str, list] = {}
    for aid, item in seen["pending"].items():
        days = [dates["pending"][i] for i in item.idx]
        pend_group.setdefault(canon.get(union.find(aid), aid), []).extend(days)
        pend_agency.setdefault(item.rec[_AT["agency_id"]], []).extend(days)
    out = []
    for hid, members in groups.items():
        items = [part[m] for m in members]
        idx = sorted(set().union(*(it.idx for it in items)))
        last = max(members, key=lambda m: (part[m].idx[-1], m == hid))
        rec = part[last].rec
        moas = [it.moa for it in items if it.moa is not None]
        breaks = [
            (idx[k] + 1, idx[k + 1] - 1) for k in range(len(idx) - 1) if idx[k + 1] > idx[k] + 1
        ]
        first = pdates[idx[0]]
        # Waiting time: pending listings up to the first participating one only (ICE also
        # re-lists some active agreements as pending later; that is not a wait).
        match, pending = None, [d for d in pend_group.get(hid, ()) if d <= first]
        if pending:
            match = "agreement"
        else:
            agency_ids = {part[m].rec[_AT["agency_id"]] for m in members}
            pending = [d for a in agency_ids for d in pend_agency.get(a, ()) if d <= first]
            match = "agency" if pending else None
        pending_first = min(pending) if pending else None
        out.append(
            {
                "agreement_id": hid,
                "agency_id": rec[_AT["agency_id"]],
                "state": rec[_AT["state"]],
                "agency": rec[_AT["agency"]],
                "model": rec[_AT["model"]],
                "agency_type": rec[_AT["agency_type"]],
                "county": rec[_AT["county"]],
                "first_seen": first,
                "last_seen": pdates[idx[-1]],
                "status": "active" if idx[-1] == newest else "removed",
                "versions_seen": len(idx),
                "gaps": len(breaks),
                "gap_ranges": "; ".join(f"{pdates[a]}/{pdates[b]}" for a, b in breaks) or None,
                "moa_first_available": pdates[min(moas)] if moas else None,
                "signed": rec[_AT["signed"]],
                "moa_url": rec[_AT["moa_url"]],
                "former_ids": "; ".join(sorted(m for m in members if m != hid)) or None,
                "pending_first_seen": pending_first,
                "participating_first_seen": first if pending_first else None,
                "days_waited": (first - pending_first).days if pending_first else None,
                "pending_match": match,
            }
        )
    df = pd.DataFrame(out, columns=AGREEMENT_COLUMNS)
    df = df.sort_values(["state", "agency", "model"], kind="mergesort").reset_index(drop=True)
    df["days_waited"] = df["days_waited"].astype("Int64")
    return df


# --- cache -------------------------------------------------------------------------------------
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

    from ice287g.store.catalog import atomic_write, parquet_bytes

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
    from ice287g.query.versions import _store, catalog

    store = _store(data_dir)
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
        df = df[df["state"] == _state(state)]
    if status:
        df = df[df["status"] == status]
    return df.reset_index(drop=True)


def _state(text: str) -> str:
    from ice287g.normalize.apply import state_code
    from ice287g.query.versions import QueryError

    code, _ = state_code(text)
    if not code:
        raise QueryError(f"unknown state {text!r}")
    return code


def agencies_index(events: pd.DataFrame) -> pd.DataFrame:
    """Every agency of the history with every spelling it was listed under."""
    from ice287g.normalize.apply import agency_key

    names = events[["history_agency_id", "state", "agency"]].drop_duplicates()
    names = names.assign(key=[agency_key(a) if isinstance(a, str) else "" for a in names["agency"]])
    return names


def find_agencies(query: str, events: pd.DataFrame, state: str | None = None) -> list[str]:
    """history_agency_ids whose names match `query`: exact key, else key substring, else
    difflib-close keys (spelling tolerant)."""
    from ice287g.normalize.apply import agency_key

    names = agencies_index(events)
    if state:
        names = names[names["state"] == _state(state)]
    q = agency_key(query)
    if not q:
        return []
    for rule in (lambda k: k == q, lambda k: q in k):
        hit = names[names["key"].map(rule)]
        if len(hit):
            return sorted(set(hit["history_agency_id"]))
    keys = sorted(set(names["key"]))
    close = set(difflib.get_close_matches(q, keys, n=10, cutoff=QUERY_CUTOFF))
    return sorted(set(names[names["key"].isin(close)]["history_agency_id"]))


def history(
    query: str | None = None, state: str | None = None, data_dir=None, include_suspect: bool = False
) -> pd.DataFrame:
    """Timeline of one agency (all its agreements, both lists) or, without a query, of all.

    Raises ``AmbiguousQuery`` (a QueryError) when several agencies match, ``QueryError``
    when none does. The frame's attrs carry ``agency_id``, ``agreements`` (their rows of
    the agreements table) when one agency was asked for.
    """
    from ice287g.query.versions import QueryError

    table, events = load(data_dir, include_suspect)
    if query is None:
        out = events if not state else events[events["state"] == _state(state)]
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


# --- counties ----------------------------------------------------------------------------------
COUNTY_FIELDS: list[tuple[str, str, str]] = [
    ("state", "string", "USPS state code"),
    ("county_raw", "string", "COUNTY as typed"),
    ("county", "string", "County name after cleaning"),
    ("county_fips", "string", "5-digit FIPS code, empty when it does not resolve"),
    ("rows", "integer", "Rows with this value in the newest version that has it"),
    ("versions", "integer", "Versions (both lists) with this value"),
    ("first_seen", "date", "Date of the first version with it"),
    ("last_seen", "date", "Date of the last version with it"),
    ("agencies", "string", "Agencies listed with it in that newest version, joined with `; `"),
]


def counties(unresolved: bool = False, data_dir=None) -> pd.DataFrame:
    """Every distinct (state, county as typed) across all versions, with its FIPS code;
    `unresolved` keeps those whose county does not resolve to a FIPS code."""
    import pyarrow as pa

    from ice287g.query.versions import _store, catalog

    store = _store(data_dir)
    cat = catalog(store).sort_values(["date", "list", "seq"]).reset_index(drop=True)
    cols = ["state", "county_raw", "county", "county_fips", "agency"]
    tables = []
    for i, v in enumerate(cat.itertuples()):
        t = store.read_snapshot(v.snapshot, columns=cols)
        if t.num_rows:
            tables.append(t.append_column("vidx", pa.array([i] * t.num_rows, pa.int32())))
    names = [n for n, _, _ in COUNTY_FIELDS]
    if not tables:
        return pd.DataFrame(columns=names)
    df = pa.concat_tables(tables).to_pandas()
    df = df[df["county"].notna()]
    if unresolved:
        df = df[df["county_fips"].isna()]
    keys = ["state", "county_raw", "county"]
    df = df.fillna({"state": "", "county_fips": ""})
    dates = cat["date"]
    g = df.groupby(keys, dropna=False)
    last = g["vidx"].max().rename("last")
    newest = df.merge(last.reset_index(), on=keys)
    newest = newest[newest["vidx"] == newest["last"]]
    agg = newest.groupby(keys, dropna=False).agg(
        rows=("agency", "size"),
        agencies=("agency", lambda s: "; ".join(sorted(set(s.dropna())))),
        county_fips=("county_fips", "first"),
    )
    out = g["vidx"].agg(versions="nunique", first="min", last="max").join(agg).reset_index()
    out["first_seen"] = out["first"].map(dates)
    out["last_seen"] = out["last"].map(dates)
    out = out.replace({"state": {"": None}, "county_fips": {"": None}})
    out = out.sort_values(["state", "county", "county_raw"]).reset_index(drop=True)
    return out[names]


__all__ = ["agreements", "history", "counties", "load", "build", "AmbiguousQuery"]

"""Questions asked of the store: which versions exist, what was in effect on a date, counts.

"In effect on DATE" means the last version (by date, then order within the day) published on
or before DATE. Suspect versions (see ``store._derive``) are skipped by the time-series
questions unless asked for, since a one-day mass drop is an ICE publishing error, not a
change in the program.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ice287g.errors import UserError
from ice287g.schema import CANONICAL_COLUMNS
from ice287g.store import Store
from ice287g.store.catalog import TALLY_KEYS
from parsers.lists import LISTS

COUNT_KEYS = TALLY_KEYS


class QueryError(UserError, ValueError):
    pass


def store_of(data_dir: str | Path | Store | None) -> Store:
    """The store a ``data_dir=`` argument names (a Store, a path, or None for the default)."""
    return data_dir if isinstance(data_dir, Store) else Store(data_dir)


def as_date(value: str | date | None) -> date | None:
    """A user's date (YYYY-MM-DD) as a date; QueryError naming the value otherwise."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise QueryError(f"not a date (use YYYY-MM-DD): {value!r}") from None


def check_list(lst: str | None) -> None:
    if lst is not None and lst not in LISTS:
        raise QueryError(f"unknown list {lst!r}: use one of {', '.join(LISTS)}")


def parse_state(text: str) -> str:
    """A user's state (USPS code or name, spelling tolerant) as its USPS code."""
    from ice287g.normalize.apply import state_code

    code, _ = state_code(text)
    if code is None:
        raise QueryError(f"unknown state {text!r}: use a USPS code such as TX")
    return code


def filter_rows(df: pd.DataFrame, state: str | None = None, agency: str | None = None):
    """Rows of one state (USPS code or name) and/or of the agencies whose name matches
    `agency`: the same key, else part of it, else a close spelling (``names.matching_keys``,
    as ``history`` finds an agency). One filter for every --state/--agency option; the
    frame's ``attrs`` are kept."""
    if not state and not agency:
        return df
    keep = pd.Series(True, index=df.index)
    if state:
        keep &= df["state"] == parse_state(state)
    if agency:
        from ice287g.normalize.apply import agency_key
        from ice287g.normalize.names import matching_keys

        # Each distinct name keyed once; plain lists, not a Series of text (a tenth the cost).
        names = df["agency"].tolist()
        key_of = {n: agency_key(n) if isinstance(n, str) else "" for n in set(names)}
        keys = [key_of[n] for n in names]
        wanted = matching_keys(
            agency_key(agency), {k for k, kept in zip(keys, keep.tolist()) if kept}
        )
        keep &= pd.Series([k in wanted for k in keys], index=df.index, dtype=bool)
    out = df[keep].reset_index(drop=True)
    out.attrs = df.attrs
    return out


def catalog(data_dir=None) -> pd.DataFrame:
    """The catalog as a DataFrame, in publication order."""
    table = store_of(data_dir).catalog_table()
    return table.to_pandas(types_mapper=None, date_as_object=True)


def snapshots(list: str | None = None, data_dir=None, include_suspect: bool = True) -> pd.DataFrame:
    """One record per stored version: list, date, seq, sha256, rows, file name, flags, ..."""
    check_list(list)
    df = catalog(data_dir)
    if list:
        df = df[df["list"] == list]
    if not include_suspect:
        df = df[~df["suspect"]]
    return df.reset_index(drop=True)


def _where(cat: pd.DataFrame, lists, include_suspect: bool, since=None, until=None):
    """Positions of the catalog rows of `lists`, published `since`..`until` (each end
    included, None: open), suspect ones left out unless asked: decided on those columns
    only (a filter of the whole catalog copies each of its columns)."""
    mask = cat["list"].isin(lists).to_numpy(dtype=bool)
    if not include_suspect:
        mask = mask & ~cat["suspect"].to_numpy(dtype=bool)
    if since is not None:
        mask = mask & (cat["date"] >= since).to_numpy(dtype=bool)
    if until is not None:
        mask = mask & (cat["date"] <= until).to_numpy(dtype=bool)
    return np.flatnonzero(mask)


def version_on(
    cat: pd.DataFrame, lst: str, as_of: date | None, include_suspect: bool = True
) -> pd.Series | None:
    """The catalog row of the version of `lst` in effect on `as_of` (None: the newest),
    found from the columns it depends on (``_where``) and taken once."""
    at = _where(cat, [lst], include_suspect, until=as_of)
    if not len(at):
        return None
    day, seq = cat["date"].to_numpy(), cat["seq"].to_numpy()
    return cat.iloc[max(at.tolist(), key=lambda i: (day[i], seq[i]))]


def latest(
    list: str = "participating",
    as_of: str | date | None = None,
    data_dir=None,
    all_columns: bool = False,
    include_suspect: bool = True,
    state: str | None = None,
    agency: str | None = None,
) -> pd.DataFrame:
    """Rows of the version in effect on `as_of` (default: the newest), canonical columns;
    only one `state` and/or the agencies matching `agency` when given (``filter_rows``).

    The frame's ``attrs`` carry the version (list, date, seq, sha256, suspect).
    """
    check_list(list)
    store = store_of(data_dir)
    day = as_date(as_of)
    cat = catalog(store)
    version = version_on(cat, list, day, include_suspect)
    if version is None:
        when = f" on or before {day}" if day else ""
        hint = "" if len(cat) else " (run `ice287g refresh` or `ice287g backfill` first)"
        raise QueryError(f"no {list} version{when} in {store.root}{hint}")
    table = store.read_snapshot(version["snapshot"])
    df = table.to_pandas(date_as_object=True)
    if not all_columns:
        df = df[CANONICAL_COLUMNS]
    df.attrs["version"] = {
        k: version[k]
        for k in ("list", "date", "seq", "sha256", "suspect", "suspect_reason", "file_name")
    }
    for k in ("flags", "columns", "list_evidence"):  # list cells (missing in older catalogs)
        df.attrs["version"][k] = [] if version[k] is None else [*version[k]]
    return filter_rows(df, state, agency)


def select_versions(
    cat: pd.DataFrame,
    list: str | None = None,
    as_of: date | None = None,
    since: date | None = None,
    until: date | None = None,
    all_versions: bool = False,
    include_suspect: bool = False,
) -> pd.DataFrame:
    """Catalog rows chosen for a time series: as of one date, or a range, one per day."""
    lists = [list] if list else LISTS
    if as_of is not None:
        chosen = [version_on(cat, lst, as_of, include_suspect) for lst in lists]
        return pd.DataFrame([c for c in chosen if c is not None])
    # The rows are chosen and ordered on the few columns that decide, then taken once: a
    # filter or a sort of the whole catalog copies each of its columns.
    at = _where(cat, lists, include_suspect, since, until)
    keys = pd.DataFrame({c: cat[c].to_numpy()[at] for c in ("list", "date", "seq")})
    order = keys.sort_values(["list", "date", "seq"]).index.to_numpy()
    if not all_versions:  # the last version of each run of one list and date
        lst, day = keys["list"].to_numpy()[order], keys["date"].to_numpy()[order]
        order = order[np.r_[(lst[1:] != lst[:-1]) | (day[1:] != day[:-1]), True][: len(order)]]
    order = keys.iloc[order].sort_values(["date", "list", "seq"]).index.to_numpy()
    return cat.iloc[at[order]].reset_index(drop=True)


def counts(
    list: str | None = None,
    by: Sequence[str] = (),
    as_of: str | date | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    all_versions: bool = False,
    include_suspect: bool = False,
    data_dir=None,
    state: str | None = None,
    agency: str | None = None,
) -> pd.DataFrame:
    """Rows per version (and per `by` keys): date, list, sha256, <by...>, count.

    By default one version per day (the day's last) and suspect versions skipped. `state`
    and `agency` count only those rows (``filter_rows``); an agency is looked up in the
    derived rows of each month (``agency_rows``), the rest comes from the tallies.
    """
    check_list(list)
    by = [b for b in by]
    for key in by:
        if key not in COUNT_KEYS:
            raise QueryError(f"cannot count by {key!r}: use {', '.join(COUNT_KEYS)}")
    if as_of is not None and (since is not None or until is not None):
        raise QueryError("use either --as-of or --since/--until, not both")
    store = store_of(data_dir)
    cat = catalog(store)
    chosen = select_versions(
        cat,
        list,
        as_date(as_of),
        as_date(since),
        as_date(until),
        all_versions,
        include_suspect,
    )
    columns = ["date", "list", "sha256", *by, "count"]
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    if agency:
        tallies = _matching_rows(store, cat, chosen, state, agency)
    else:
        tallies = store.tallies_table({d.year for d in chosen["date"]})
        tallies = tallies.filter(pc.is_in(tallies["sha256"], pa.array(chosen["sha256"].tolist())))
        if state:
            tallies = tallies.filter(pc.equal(tallies["state"], parse_state(state)))
    summed = (
        tallies.group_by(["sha256", *by], use_threads=False)
        .aggregate([("rows", "sum")])
        .to_pandas()
        .rename(columns={"rows_sum": "count"})
    )
    merged = chosen[["date", "list", "seq", "sha256"]].merge(summed, on="sha256", how="left")
    merged["count"] = merged["count"].fillna(0).astype("int64")  # an empty version counts 0
    merged = merged.sort_values(["date", "list", "seq", *by], na_position="last")
    return merged[columns].reset_index(drop=True)


def _matching_rows(
    store: Store, cat: pd.DataFrame, chosen: pd.DataFrame, state, agency
) -> pa.Table:
    """Tallies (sha256, keys, rows = 1) of the rows of `chosen` versions that pass
    ``filter_rows``, from the derived rows of each month (``agency_rows``): each distinct
    name is keyed and scored once, then matched within each version as ``filter_rows``
    matches within one."""
    from ice287g.normalize.apply import agency_key
    from ice287g.normalize.names import close_scores, closest
    from ice287g.query.agency_rows import rows

    table = rows(store, cat, chosen, parse_state(state) if state else None)
    query = agency_key(agency)
    names = pc.unique(table["agency"]).to_pylist()
    key_of = {n: agency_key(n) if isinstance(n, str) else "" for n in names}
    keys = set(key_of.values())
    scores = close_scores(query, keys)
    # Only rows whose key is the query's, holds it, or is close to it can answer, in any
    # version: the others are dropped before the per-version choice below.
    named = [n for n, k in key_of.items() if query and (query in k or k in scores)]
    table = table.filter(pc.is_in(table["agency"], pa.array(named, pa.string())))
    df = table.to_pandas()
    key = df["agency"].map(key_of).fillna("")
    exact = key == query
    found = set(df["sha256"][exact])
    within = key.isin({k for k in keys if query in k}) & ~df["sha256"].isin(found)
    found |= set(df["sha256"][within])
    near = key.isin(scores.keys()) & ~df["sha256"].isin(found)
    close = pd.Series(False, index=df.index)
    for _sha, part in key[near].groupby(df["sha256"][near]):
        close[part.index[part.isin(closest(scores, part))]] = True
    keep = (exact | within | close) if query else pd.Series(False, index=df.index)
    out = df[keep].assign(rows=1)
    return pa.Table.from_pandas(out[["sha256", *COUNT_KEYS, "rows"]], preserve_index=False)

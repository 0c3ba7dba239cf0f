"""The data behind the page (``index.html``): two compact JSON files the page reads.

``core``: for each list, the day's last non-suspect version of every day (the version "in
effect" on a date, as ``ice287g latest --as-of`` picks it), each as ranges of indexes into
one pool of agreement records (``Identity.listed``: one record per resolved agreement and
version, keyed by its stable id, so a relabel is the same agreement on both days, as
``diff`` sees it); the fields each version can compare; the daily counts by model and
state; every version of the catalog. With these the page answers ``?as_of``
and ``?diff`` for any two dates exactly as ``ice287g latest`` and ``ice287g diff`` do,
without a server.

``history``: the agreements (life story) and the change log, for ``?agency=ID``.

Strings are stored once in a table and referenced by index; a column of a frame is a list
of such indexes (or of plain integers); membership is ``[start, length, ...]`` ranges.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ice287g.identity.story import RESIGN_MIN_DAYS
from ice287g.query.diff import DIFF_FIELDS, comparable_fields
from ice287g.query.versions import LISTS

# Page record: the stable agreement id, then the listing's values.
RECORD = (
    "state",
    "agency",
    "model",
    "agency_id",
    "county_fips",
    "signed",
    "county",
    "agency_type",
    "moa_status",
    "moa_url",
    "addendum_url",
)
RECORD_FIELDS = ["agreement_id", *RECORD]
MODELS = ["JEM", "TFM", "WSO", "TTFM"]
CATALOG_COLUMNS = ["date", "seq", "sha256", "file_name", "rows", "suspect_reason"]
# Change log columns the page shows (sha256 and seq stay in the published files).
EVENT_COLUMNS = [
    "date",
    "list",
    "event",
    "state",
    "agency",
    "model",
    "agreement_id",
    "field",
    "before",
    "after",
    "agency_id",
    "evidence",
]


class Strings:
    """A string table: each distinct text once, referenced by its index."""

    def __init__(self):
        self.index: dict[str, int] = {}

    def __call__(self, value) -> int | None:
        text = _text(value)
        if text is None:
            return None
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.index)
        return i

    def table(self) -> list[str]:
        return list(self.index)


def _text(value) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def frame(df: pd.DataFrame, strings: Strings, columns: list[str]) -> dict:
    """Columnar, compact: integer columns as numbers, the others as string indexes (each
    column's distinct values looked up once, in order of first appearance)."""
    data, integer = [], []
    for c in columns:
        col = df[c]
        if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            integer.append(c)
            data.append([None if pd.isna(v) else int(v) for v in col.tolist()])
            continue
        codes, uniques = pd.factorize(col.astype(object), use_na_sentinel=True)
        index = [strings(u) for u in uniques]
        data.append(pd.Series(index + [None], dtype=object).to_numpy()[codes].tolist())
    return {"columns": columns, "integer": integer, "data": data, "length": len(df)}


def ranges(indexes: list[int]) -> list[int]:
    """Sorted integers -> [start, length, start, length, ...]."""
    out: list[int] = []
    for i in sorted(indexes):
        if out and out[-2] + out[-1] == i:
            out[-1] += 1
        else:
            out += [i, 1]
    return out


def runs(values: list[int]) -> list[int]:
    """[value, count, value, count, ...] (daily counts change rarely)."""
    out: list[int] = []
    for v in values:
        if out and out[-2] == v:
            out[-1] += 1
        else:
            out += [v, 1]
    return out


def day_versions(cat: pd.DataFrame, lst: str) -> pd.DataFrame:
    """The day's last non-suspect version of every day with one: the version in effect at
    the end of that day."""
    rows = cat[(cat["list"] == lst) & ~cat["suspect"]].sort_values(["date", "seq"])
    return rows.groupby("date", as_index=False).tail(1).reset_index(drop=True)


def build_core(ident, cat: pd.DataFrame, daily: pd.DataFrame, generated: str) -> dict:
    """The ``core`` JSON (see the module docstring) from the store's identity (`ident`),
    catalog and daily counts. Built from the identity's runs
    (``Identity.listed_runs``): the cost grows with the runs and the days, not with the
    days times the agreements listed on each."""
    position = dict(zip(ident.observations.versions["sha256"], ident.observations.versions["pos"]))
    days_of = {lst: day_versions(cat, lst) for lst in LISTS}
    records, members = _pool(ident.listed_runs(), days_of, position)
    strings = Strings()
    lists = {}
    for lst in LISTS:
        versions = cat[cat["list"] == lst].sort_values(["date", "seq"]).reset_index(drop=True)
        days = days_of[lst]
        at = {sha: i for i, sha in enumerate(versions["sha256"])}
        fields: dict[tuple, list[int]] = {}  # a day's comparable fields, by its header
        for cols in days["columns"]:
            if _header(cols) not in fields:
                fields[_header(cols)] = [
                    DIFF_FIELDS.index(f) for f in comparable_fields(cols, cols)
                ]
        day_rows = [
            {
                "version": at[sha],
                "members": m,
                "fields": fields[_header(cols)],
            }
            for sha, cols, m in zip(days["sha256"], days["columns"], members[lst], strict=True)
        ]
        lists[lst] = {
            "versions": frame(
                versions.assign(rows=versions["rows"].astype("Int64")), strings, CATALOG_COLUMNS
            ),
            "days": day_rows,
            "series": _series(daily[daily["list"] == lst], days),
        }
    return {
        "format": 1,
        "generated": generated,
        "models": MODELS,
        "diff_fields": list(DIFF_FIELDS),
        "resign_min_days": RESIGN_MIN_DAYS,
        "records": frame(records, strings, RECORD_FIELDS),
        "lists": lists,
        "strings": strings.table(),
    }


def _pool(runs: pd.DataFrame, days_of: dict, position: dict) -> tuple[pd.DataFrame, dict]:
    """The pool of records (each distinct record once, numbered in order of first
    appearance: list, day, agreement id) and, per list, each day's members as ranges.

    A run of the identity covers the days whose version lies within it; a record enters
    the day its first run begins and leaves when its run ends, so each day's set is the
    previous day's with a few entries and exits."""
    spans = []
    for li, lst in enumerate(LISTS):
        at = np.array([position[sha] for sha in days_of[lst]["sha256"]], dtype="int64")
        part = runs[runs["list"] == lst]
        first = np.searchsorted(at, part["start"].to_numpy(), "left")
        stop = np.searchsorted(at, part["end"].to_numpy(), "right")
        keep = first < stop
        spans.append(
            part[keep].assign(_li=li, _first=first[keep], _stop=stop[keep]).reset_index(drop=True)
        )
    every = pd.concat(spans, ignore_index=True)
    values = every[RECORD_FIELDS].astype(object)
    values = values.where(values.notna(), None)
    group = values.groupby(RECORD_FIELDS, sort=False, dropna=False).ngroup().to_numpy()
    order = every.assign(_g=group).sort_values(["_li", "_first", "agreement_id"])
    firsts = order.drop_duplicates("_g")
    code = np.empty(int(group.max()) + 1 if len(group) else 0, dtype="int64")
    code[firsts["_g"].to_numpy()] = np.arange(len(firsts))
    records = values.loc[firsts.index].reset_index(drop=True)
    codes = code[group]
    members = {}
    for li, lst in enumerate(LISTS):
        mine = (every["_li"] == li).to_numpy()
        members[lst] = _members(
            len(days_of[lst]),
            codes[mine],
            every["_first"].to_numpy()[mine],
            every["_stop"].to_numpy()[mine],
            len(records),
        )
    return records, members


_NONE = np.zeros(0, dtype="int64")


def _header(cols) -> tuple | None:
    """A version's header cells as a key (None: not known)."""
    return tuple(cols) if isinstance(cols, (list, tuple, np.ndarray)) else None


def _by_day(codes: np.ndarray, days: np.ndarray) -> dict[int, np.ndarray]:
    """day -> the codes with that day."""
    order = np.argsort(days, kind="stable")
    days, codes = days[order], np.asarray(codes, dtype="int64")[order]
    cuts = np.flatnonzero(np.diff(days)) + 1
    return {int(d[0]): c for d, c in zip(np.split(days, cuts), np.split(codes, cuts)) if len(d)}


def _members(n_days: int, codes, first, stop, size: int) -> list[list[int]]:
    """Each day's set of codes as ranges (``ranges``), from entries and exits by day."""
    enter, leave = _by_day(codes, first), _by_day(codes, stop)
    inside = np.zeros(size + 2, dtype=bool)  # padded: a range never touches the edges
    out, current = [], []
    for day in range(n_days):
        if day in enter or day in leave:
            inside[leave.get(day, _NONE) + 1] = False
            inside[enter.get(day, _NONE) + 1] = True
            edges = np.flatnonzero(np.diff(inside.view(np.int8)))
            starts, ends = edges[0::2], edges[1::2]
            current = np.column_stack([starts, ends - starts]).ravel().tolist()
        out.append(current)
    return out


ALL_STATES = "*"


def _series(daily: pd.DataFrame, days: pd.DataFrame) -> dict:
    """Rows per model and day (aligned with ``days``), for all states (``*``) and for each
    state (``?``: none given), as runs; a blank model is ``""``. One table of days by state
    and model, summed once."""
    dates = list(days["date"])
    if daily.empty or not dates:
        return {}
    df = daily.fillna({"state": "?", "model": ""})
    row = df["date"].map({d: i for i, d in enumerate(dates)})
    pairs = pd.MultiIndex.from_frame(df[["state", "model"]])
    column, keys = pd.factorize(pairs, sort=True)
    table = np.zeros((len(dates), len(keys)), dtype="int64")
    inside = row.notna().to_numpy()
    np.add.at(
        table,
        (row[inside].to_numpy().astype("int64"), column[inside]),
        df["count"].to_numpy()[inside].astype("int64"),
    )
    models = sorted({m for _, m in keys})
    out: dict[str, dict[str, list[int]]] = {ALL_STATES: {}}
    for m in models:
        cols = [i for i, (_, mm) in enumerate(keys) if mm == m]
        out[ALL_STATES][m] = _runs(table[:, cols].sum(axis=1))
    for i, (state, m) in enumerate(keys):
        out.setdefault(state, {})[m] = _runs(table[:, i])
    return out


def _runs(values: np.ndarray) -> list[int]:
    """``runs`` of a column of integers, vectorized."""
    if not len(values):
        return []
    start = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    length = np.diff(np.r_[start, len(values)])
    return np.column_stack([values[start], length]).ravel().tolist()


def build_history(agreements: pd.DataFrame, events: pd.DataFrame) -> dict:
    """The ``history`` JSON: the agreements table and the change log, for ``?agency=ID``."""
    strings = Strings()
    return {
        "format": 1,
        "agreements": frame(agreements, strings, list(agreements.columns)),
        "events": frame(events, strings, EVENT_COLUMNS),
        "strings": strings.table(),
    }


def cached(store, name: str, inputs: list[str], build) -> bytes:
    """The JSON bytes of `build()`, kept under ``derived/publish/page/`` by a key of its
    `inputs` (digests of what it is built from) and of this code (``cache.kept``)."""
    import hashlib

    from ice287g.publish import cache

    code = b"".join(Path(m.__file__).read_bytes() for m in (_page_module(), _diff_module()))
    key = hashlib.sha256(code + "\n".join(inputs).encode()).hexdigest()
    return cache.kept(store, "page", name, key, lambda: dumps(build()), Path.read_bytes)


def _page_module():
    import ice287g.publish.page as module

    return module


def _diff_module():
    import ice287g.query.diff as module

    return module


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

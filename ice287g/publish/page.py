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
    """Columnar, compact: integer columns as numbers, the others as string indexes."""
    data, integer = [], []
    for c in columns:
        col = df[c]
        if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            integer.append(c)
            data.append([None if pd.isna(v) else int(v) for v in col.tolist()])
        else:
            data.append([strings(v) for v in col.tolist()])
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


def build_core(store, cat: pd.DataFrame, daily: pd.DataFrame, generated: str) -> dict:
    """The ``core`` JSON (see the module docstring)."""
    from ice287g.query.identity import load

    ident = load(store)
    strings = Strings()
    lists, days_of, listed = {}, {}, []
    for lst in LISTS:
        days_of[lst] = day_versions(cat, lst)
        listed += [ident.listed(sha)[RECORD_FIELDS] for sha in days_of[lst]["sha256"]]
    # The pool: each distinct record once, numbered in order of first appearance.
    every = pd.concat(listed, ignore_index=True) if listed else pd.DataFrame(columns=RECORD_FIELDS)
    every = every.astype(object)
    every = every.where(every.notna(), None)
    codes = every.groupby(RECORD_FIELDS, sort=False, dropna=False).ngroup().to_numpy()
    first = ~pd.Series(codes).duplicated().to_numpy()
    pool = every[first]
    ends = pd.Series([len(x) for x in listed], dtype="int64").cumsum().tolist()
    spans = iter(zip([0, *ends], ends, strict=False))
    for lst in LISTS:
        versions = cat[cat["list"] == lst].sort_values(["date", "seq"]).reset_index(drop=True)
        days = days_of[lst]
        position = {sha: i for i, sha in enumerate(versions["sha256"])}
        day_rows = []
        for v in days.itertuples():
            start, end = next(spans)
            fields = comparable_fields(v.columns, v.columns)
            day_rows.append(
                {
                    "version": position[v.sha256],
                    "members": ranges(codes[start:end].tolist()),
                    "fields": [DIFF_FIELDS.index(f) for f in fields],
                }
            )
        lists[lst] = {
            "versions": frame(
                versions.assign(rows=versions["rows"].astype("Int64")), strings, CATALOG_COLUMNS
            ),
            "days": day_rows,
            "series": _series(daily[daily["list"] == lst], days),
        }
    records_frame = pool.reset_index(drop=True)
    return {
        "format": 1,
        "generated": generated,
        "models": MODELS,
        "diff_fields": list(DIFF_FIELDS),
        "resign_min_days": RESIGN_MIN_DAYS,
        "records": frame(records_frame, strings, RECORD_FIELDS),
        "lists": lists,
        "strings": strings.table(),
    }


ALL_STATES = "*"


def _series(daily: pd.DataFrame, days: pd.DataFrame) -> dict:
    """Rows per model and day (aligned with ``days``), for all states (``*``) and for each
    state (``?``: none given), as runs; a blank model is ``""``."""
    dates = list(days["date"])
    if daily.empty or not dates:
        return {}
    df = daily.fillna({"state": "?", "model": ""})
    out: dict[str, dict[str, list[int]]] = {}
    for state, part in [(ALL_STATES, df), *df.groupby("state")]:
        table = part.pivot_table(
            index="date", columns="model", values="count", aggfunc="sum", fill_value=0
        ).reindex(dates, fill_value=0)
        out[state] = {m: runs([int(v) for v in table[m]]) for m in table.columns}
    return out


def build_history(agreements: pd.DataFrame, events: pd.DataFrame) -> dict:
    """The ``history`` JSON: the agreements table and the change log, for ``?agency=ID``."""
    strings = Strings()
    return {
        "format": 1,
        "agreements": frame(agreements, strings, list(agreements.columns)),
        "events": frame(events, strings, EVENT_COLUMNS),
        "strings": strings.table(),
    }


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

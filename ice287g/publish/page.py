"""The data behind the page (``index.html``): two compact JSON files the page reads.

``core`` (built by ``core.py``, which gives its layout): for each list, the day's last
non-suspect version of every day (the version "in effect" on a date, as ``ice287g latest
--as-of`` picks it), each as ranges of indexes into a pool of agreement records
(``Identity.listed``: one record per resolved agreement and version, keyed by its stable
id, so a relabel is the same agreement on both days, as ``diff`` sees it); the fields each
version can compare; the daily counts by model and state; every version of the catalog.
With these the page answers ``?as_of`` and ``?diff`` for any two dates exactly as
``ice287g latest`` and ``ice287g diff`` do, without a server.

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

from ice287g.arrow import dataframe, sorted_codes
from ice287g.publish import cache
from ice287g.query.diff import DIFF_FIELDS, comparable_fields
from ice287g.query.versions import LISTS, select_versions

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

    def many(self, values) -> list[int | None]:
        """The index of each value's text (None for a missing value), in one pass."""
        index, out = self.index, []
        for value in values:
            text = value if type(value) is str else text_of(value)
            if text is None:
                out.append(None)
                continue
            i = index.get(text)
            if i is None:
                i = index[text] = len(index)
            out.append(i)
        return out

    def table(self) -> list[str]:
        return list(self.index)


def text_of(value) -> str | None:
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
            data.append(_integers(col))
            continue
        values = col if isinstance(col.dtype, pd.StringDtype) else col.astype(object)
        codes, uniques = pd.factorize(values)
        index = strings.many(uniques.tolist())
        data.append(pd.Series(index + [None], dtype=object).to_numpy()[codes].tolist())
    return {"columns": columns, "integer": integer, "data": data, "length": len(df)}


def _integers(col: pd.Series) -> list[int | None]:
    """A column of integers (or booleans) as Python ints, None where missing."""
    missing = col.isna().to_numpy()
    out = col.to_numpy(dtype="int64", na_value=0).tolist()
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


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


def day_versions(cat: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each list's day's last non-suspect version of every day with one: the version in
    effect at the end of that day (``select_versions``, chosen once for both lists)."""
    chosen = select_versions(cat)
    return {lst: chosen[chosen["list"].to_numpy() == lst].reset_index(drop=True) for lst in LISTS}


_FIELDS: dict[tuple | None, list[int]] = {}


def header_fields(cols) -> list[int]:
    """The ``diff_fields`` (by index) a version with these header cells can compare."""
    key = _header(cols)
    found = _FIELDS.get(key)
    if found is None:
        found = _FIELDS[key] = [DIFF_FIELDS.index(f) for f in comparable_fields(cols, cols)]
    return found


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


def day_members(n_days: int, codes, first, stop, size: int) -> list[list[int]]:
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


def count_series(daily, days: pd.DataFrame) -> dict:
    """Rows per model and day (aligned with ``days``), for all states (``*``) and for each
    state (``?``: none given), as runs; a blank model is ``""``. `daily`: daily counts of
    one list as Arrow (``tables.DAILY_COUNT_FIELDS``). One table of days by state and
    model, summed once, in numpy (the daily counts of ten years are 133,000 rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dates = list(days["date"])
    if daily.num_rows == 0 or not dates:
        return {}
    wanted = _day_numbers(pa.array(dates, pa.date32()))
    at = _day_numbers(daily.column("date").combine_chunks())
    row = np.minimum(np.searchsorted(wanted, at), len(wanted) - 1)
    inside = wanted[row] == at
    # The (state, model) pairs in order, numbered: each part's codes in sorted order, then
    # the pairs of codes (a MultiIndex does the same ten times slower).
    state, states = sorted_codes(pc.fill_null(daily.column("state"), "?"))
    model, models_ = sorted_codes(pc.fill_null(daily.column("model"), ""))
    pair_codes, column = np.unique(state * len(models_) + model, return_inverse=True)
    keys = [(states[p // len(models_)], models_[p % len(models_)]) for p in pair_codes.tolist()]
    cell = row[inside] * len(keys) + column[inside]
    weights = daily.column("count").to_numpy()[inside].astype("int64")
    size = len(dates) * len(keys)
    table = np.bincount(cell, weights, size).astype("int64").reshape(len(dates), len(keys))
    models = sorted({m for _, m in keys})
    out: dict[str, dict[str, list[int]]] = {ALL_STATES: {}}
    for m in models:
        cols = [i for i, (_, mm) in enumerate(keys) if mm == m]
        out[ALL_STATES][m] = _runs(table[:, cols].sum(axis=1))
    for i, (state_, m) in enumerate(keys):
        out.setdefault(state_, {})[m] = _runs(table[:, i])
    return out


def _day_numbers(dates) -> np.ndarray:
    """An Arrow date32 array as integers (days since 1970-01-01)."""
    import pyarrow as pa

    return dates.view(pa.int32()).to_numpy(zero_copy_only=False).astype("int64")


def _runs(values: np.ndarray) -> list[int]:
    """``runs`` of a column of integers, vectorized."""
    if not len(values):
        return []
    start = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    length = np.diff(np.r_[start, len(values)])
    return np.column_stack([values[start], length]).ravel().tolist()


def build_history(store, agreements: pd.DataFrame, changes, years: list) -> list:
    """The ``history`` JSON (as ``concat`` parts: each year's text its cached file where it
    can be), for ``?agency=ID``: the change log by calendar year, then the agreements
    table::

        {"years": [{"events": frame, "strings": its strings}, ...],
         "format": 2, "agreements": frame, "strings": its strings}

    `changes`: the change log (Arrow); `years`: its (year, first row, rows, digest),
    ``yearly.parts``. A year's text is kept under ``derived/publish/history/`` by its
    digest and this code, so a new version writes its year only; the years come first, so
    that the file a new version writes begins with the bytes of the last one (``concat``:
    copied, not hashed again)."""
    import hashlib

    strings = Strings()
    head = {
        "format": 2,
        "agreements": frame(agreements, strings, list(agreements.columns)),
        "strings": strings.table(),
    }
    code = cache.code_digest(__file__)
    texts = []
    for year, first, rows, digest in years:
        key = hashlib.sha256(f"{code}\n{digest}".encode()).hexdigest()
        part = changes.slice(first, rows)
        make = lambda p=part: _events(dataframe(p))  # noqa: E731 - one year's, made when missing
        texts.append(cache.kept(store, "history", str(year), key, make))
    return years_first(texts, head)


def years_first(years: list, head: dict) -> list:
    """A JSON object as ``concat`` parts: ``"years"`` (a list of `years`, each a part: a
    year's JSON text), then the keys of `head` (not empty). The years come first, so that
    the file a new version writes begins with the bytes of the last one."""
    from ice287g.publish import concat

    out = [concat.given(b'{"years":[')]
    for i, year in enumerate(years):
        out += [concat.given(b","), year] if i else [year]
    return [*out, concat.given(b"]," + dumps(head)[1:])]


def _events(events: pd.DataFrame) -> bytes:
    strings = Strings()
    return dumps({"events": frame(events, strings, EVENT_COLUMNS), "strings": strings.table()})


def cached(store, name: str, inputs: list[str], build, read=Path.read_bytes):
    """`read(path)` of the file of the bytes (or ``concat`` parts) `build()` returns, kept under
    ``derived/publish/page/`` by a key of its `inputs` (digests of what it is built from)
    and of this code (``cache.kept``: `read` runs while the file is there, even when a
    read-only store keeps it in a temporary folder)."""
    import hashlib

    key = hashlib.sha256("\n".join([code_digest(), *inputs]).encode()).hexdigest()
    return cache.kept(store, "page", name, key, build, read)


def code_digest() -> str:
    """A digest of the code the page's data is built by (this module, ``core`` and the
    diff's rules)."""
    import ice287g.publish.core as core
    import ice287g.query.diff as diff

    return cache.code_digest(__file__, core, diff)


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

"""The page's ``core.json`` (see ``page``), built a calendar year at a time so that a new
version costs its year, not the whole history.

Layout (``format`` 3)::

    {"years": [{"year",
                "lists": {list: {"versions": the catalog's versions of the list dated in
                                             the year (a frame),
                                 "series": rows per model and day of the year's days,
                                           for all states and for each}},
                "records", "days": {list: [{"version", "members", "fields"}]},
                "strings"}, ...],
     "format", "generated", "models", "diff_fields", "resign_min_days"}

A list's versions are its years' ``versions`` one after the other (in date and seq order);
its days are the years' ``days``, and its counts the years' ``series`` (a state and model
missing from a year counts zero on that year's days). The *pool* of agreement records (one
per resolved agreement and the values it is listed with) is the years' ``records`` one
after the other: a year adds the records first seen in it, in order of list, day and
agreement id. A day's ``members`` are ranges of pool numbers (``page.ranges``), ``version``
its place in its list's versions, ``fields`` the ``diff_fields`` (by index) its header can
compare. The years come first, so that the file a new version writes begins with the
bytes of the last one (``concat``: copied, not hashed again).

A year's text is cached under ``derived/publish/core/`` by a chained key: the key of the
year before, this code, and a digest of what the year is made of (its versions, its days,
the key of its daily counts and the identity's runs over its days). A change in a year (a
new version, a re-resolved identity) builds that year and the ones after it again, every
earlier year is reused as it is; a missing or altered file is built again, never trusted.
Beside each year's text its ``keys`` file holds a 16-byte digest of each record it adds to
the pool, in pool order: building a year again numbers its records from the earlier years'
keys, without reading their records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ice287g.identity.story import RESIGN_MIN_DAYS
from ice287g.publish import cache, concat
from ice287g.publish.page import (
    CATALOG_COLUMNS,
    MODELS,
    RECORD_FIELDS,
    Strings,
    code_digest,
    count_series,
    day_members,
    day_versions,
    dumps,
    frame,
    header_fields,
    text_of,
    years_first,
)
from ice287g.query.diff import DIFF_FIELDS
from ice287g.query.versions import LISTS

FORMAT = 3
# The daily counts' columns a series sums.
COUNTED = ["date", "state", "model", "count"]
KEY_BYTES = 16  # a record's digest in a year's ``keys`` file (``_record_key``)


def build_core(store, ident, cat: pd.DataFrame, daily, daily_years: dict, generated: str):
    """The ``core`` JSON (as ``concat`` parts, each year's text a cached file where it can
    be) from the store's identity (`ident`), catalog and daily counts (Arrow,
    ``tables.DAILY_COUNT_FIELDS``, and the key of each year's: ``tables.daily_table``),
    each year from the cache where it is current."""
    versions = ident.observations.versions
    position = dict(zip(versions["sha256"].tolist(), versions["pos"].tolist(), strict=True))
    days_of = day_versions(cat)
    shown = cat[["list", *CATALOG_COLUMNS]].sort_values(["list", "date", "seq"])
    versions_of, place = {}, {}
    for lst in LISTS:
        mine = shown[shown["list"].to_numpy() == lst].reset_index(drop=True)
        versions_of[lst] = mine.assign(rows=mine["rows"].astype("Int64"))
        place[lst] = dict(zip(mine["sha256"].tolist(), range(len(mine)), strict=True))
    head = {
        "format": FORMAT,
        "generated": generated,
        "models": MODELS,
        "diff_fields": list(DIFF_FIELDS),
        "resign_min_days": RESIGN_MIN_DAYS,
    }
    spans = _spans(ident, days_of, position)
    made = _Made(days_of, place, versions_of, daily, daily_years)
    return years_first(_years(store, spans, ident.listed_run_hashes(), made), head)


@dataclass
class _Made:
    """What the years are made of besides the identity's runs: each list's days
    (``day_versions``), each version's place in its list (sha256 -> index), each list's
    versions (``CATALOG_COLUMNS``, in date and seq order), the daily counts (Arrow) and the
    key of each year's."""

    days_of: dict
    place: dict
    versions_of: dict
    daily: object
    daily_years: dict


@dataclass
class Spans:
    """Each run of the identity that covers a day: ``rows`` (its run, in the identity's
    ``listed_runs``), ``li`` (its list's index), ``first`` and ``stop`` (indexes into that
    list's days, stop excluded). The runs' records (``records``) are taken only for a
    year that is built: a take of every run's text costs more than the rest."""

    ident: object
    rows: np.ndarray
    li: np.ndarray
    first: np.ndarray
    stop: np.ndarray

    def records(self, rows: np.ndarray) -> pd.DataFrame:
        """The records (``RECORD_FIELDS``) of the runs `rows`, in that order."""
        return self.ident.listed_run_values(rows, RECORD_FIELDS)


def _spans(ident, days_of: dict, position: dict) -> Spans:
    runs = ident.listed_run_positions()
    of_list = runs["list"].to_numpy()
    start, end = runs["start"].to_numpy(), runs["end"].to_numpy()
    rows, li, firsts, stops = [], [], [], []
    for i, lst in enumerate(LISTS):
        at = np.array([position[sha] for sha in days_of[lst]["sha256"].tolist()], dtype="int64")
        mine = np.flatnonzero(of_list == lst)
        first = np.searchsorted(at, start[mine], "left")
        stop = np.searchsorted(at, end[mine], "right")
        keep = first < stop
        rows.append(mine[keep])
        li.append(np.full(int(keep.sum()), i))
        firsts.append(first[keep])
        stops.append(stop[keep])
    return Spans(ident, *(np.concatenate(x) for x in (rows, li, firsts, stops)))


class _Year:
    """One calendar year: each list's days in it (``bounds``: [start, stop) of the list's
    days), its versions (``versions``: [start, stop) of the list's versions) and the spans
    over its days, cut to the year (``first``/``stop`` from its start)."""

    def __init__(self, year: int, spans: Spans, bounds: dict, versions: dict):
        self.year = year
        self.bounds = bounds
        self.versions = versions
        li, first, stop = spans.li, spans.first, spans.stop
        mask = np.zeros(len(li), dtype=bool)
        start_of = np.zeros(len(li), dtype="int64")
        end_of = np.zeros(len(li), dtype="int64")
        for i, (a, b) in bounds.items():
            mine = (li == i) & (first < b) & (stop > a)
            mask |= mine
            start_of[mine], end_of[mine] = a, b
        self.rows = spans.rows[mask]
        self.first = np.maximum(first[mask], start_of[mask]) - start_of[mask]
        self.stop = np.minimum(stop[mask], end_of[mask]) - start_of[mask]
        self.li = li[mask]

    def digest(self, row_hash: np.ndarray, lines: dict, daily_key: str) -> str:
        """What the year is made of: its versions and its days (``_lines``), the key of its
        daily counts and its spans (values, list, days covered), the spans in a canonical
        order."""
        h = hashlib.sha256(f"{self.year} {daily_key}\n".encode())
        for i, (a, b) in sorted(self.versions.items()):
            h.update("".join(lines["versions"][i][a:b]).encode())
        for i, (a, b) in sorted(self.bounds.items()):
            h.update("".join(lines["days"][i][a:b]).encode())
        table = np.stack([row_hash[self.rows], self.li, self.first, self.stop]).astype("uint64")
        order = np.lexsort(table[::-1])
        h.update(np.ascontiguousarray(table[:, order]).tobytes())
        return h.hexdigest()


def _lines(made: _Made) -> dict[str, dict[int, list[str]]]:
    """A line per version and per day of each list (by list index): a version's catalog
    values; a day's list, date, version and header fields."""
    out: dict[str, dict[int, list[str]]] = {"versions": {}, "days": {}}
    for i, lst in enumerate(LISTS):
        mine = made.versions_of[lst]
        values = zip(*(mine[c].tolist() for c in CATALOG_COLUMNS), strict=True)
        out["versions"][i] = [f"{lst} {v}\n" for v in values]
        days = made.days_of[lst]
        out["days"][i] = [
            f"{lst} {day} {made.place[lst][sha]} {header_fields(cols)}\n"
            for day, sha, cols in zip(
                days["date"].tolist(), days["sha256"].tolist(), days["columns"], strict=True
            )
        ]
    return out


def _bounds(frames: dict) -> dict[int, dict[int, tuple[int, int]]]:
    """year -> {list index: [start, stop) of that list's rows of `frames` (list -> rows
    with a ``date``, in date order) in the year}."""
    out: dict[int, dict[int, tuple[int, int]]] = {}
    for i, lst in enumerate(LISTS):
        years = pd.to_datetime(frames[lst]["date"]).dt.year.to_numpy()
        if not len(years):
            continue
        starts = np.flatnonzero(np.r_[True, years[1:] != years[:-1]])
        ends = np.r_[starts[1:], len(years)]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            out.setdefault(int(years[a]), {})[i] = (a, b)
    return dict(sorted(out.items()))


def _years(store, spans: Spans, row_hash: np.ndarray, made: _Made) -> list:
    """Each year's JSON text (a ``concat`` part: its cached file, or its bytes when the
    store cannot be written), from the cache up to the first year whose key is not there,
    built from that year on. `row_hash`: a hash of each run's record
    (``listed_run_hashes``)."""
    folder, scratch = cache.folder(store, "core")
    try:
        code = hashlib.sha256(f"core {FORMAT} {code_digest()}".encode()).hexdigest()
        key, plan = code, []
        lines = _lines(made)
        days, versions = _bounds(made.days_of), _bounds(made.versions_of)
        for year in sorted(set(days) | set(versions)):
            part = _Year(year, spans, days.get(year, {}), versions.get(year, {}))
            digest = part.digest(row_hash, lines, made.daily_years.get(year, ""))
            key = hashlib.sha256(f"{key}\n{digest}".encode()).hexdigest()
            stem = folder / f"{year}-{key[:16]}"
            files = {ext: stem.with_suffix(f".{ext}") for ext in ("text", "keys", "json")}
            plan.append((part, files))
        texts: list = []
        pool: dict[bytes, int] | None = None
        for part, files in plan:
            if pool is None and cache.valid(files):
                texts.append(concat.of_cached(files["text"], scratch))
                continue
            if pool is None:  # the records of the years before, numbered in order
                pool = {}
                for _, earlier in plan[: len(texts)]:
                    keys = earlier["keys"].read_bytes()
                    for at in range(0, len(keys), KEY_BYTES):
                        pool[keys[at : at + KEY_BYTES]] = len(pool)
            text, new = _year_text(part, spans, made, pool)
            cache.write(files, {"text": text, "keys": b"".join(new)})
            texts.append(concat.of_cached(files["text"], scratch))
        cache.prune(folder, {p.name for _, files in plan for p in files.values()})
        return texts
    finally:
        if scratch is not None:
            scratch.cleanup()


def _record_key(record: tuple) -> bytes:
    """A record's digest (its values as text, or None), as the pool knows it."""
    return hashlib.blake2b(repr(record).encode(), digest_size=KEY_BYTES).digest()


def _year_text(part: _Year, spans: Spans, made: _Made, pool: dict) -> tuple[bytes, list[bytes]]:
    """The year's JSON text and the keys of the records it adds to `pool` (which it
    extends: record key -> number)."""
    rows = spans.records(part.rows).assign(_f=part.first, _s=part.stop, _l=part.li)
    rows = rows.sort_values(["_l", "_f", "agreement_id"], kind="stable")
    codes = np.empty(len(rows), dtype="int64")
    new: list[list] = []
    keys: list[bytes] = []
    values = zip(*(rows[c].tolist() for c in RECORD_FIELDS), strict=True)
    for n, record in enumerate(values):
        record = tuple(text_of(v) for v in record)
        key = _record_key(record)
        number = pool.get(key)
        if number is None:
            number = pool[key] = len(pool)
            new.append(list(record))
            keys.append(key)
        codes[n] = number
    strings = Strings()
    lists = {}
    for i, lst in enumerate(LISTS):
        a, b = part.versions.get(i, (0, 0))
        mine = made.versions_of[lst].iloc[a:b]
        a, b = part.bounds.get(i, (0, 0))
        counted = made.daily.filter(
            pc.and_(
                pc.equal(made.daily["list"], lst),
                pc.equal(pc.year(made.daily["date"]), part.year),
            )
        )
        lists[lst] = {
            "versions": frame(mine, strings, CATALOG_COLUMNS),
            "series": count_series(counted.select(COUNTED), made.days_of[lst].iloc[a:b]),
        }
    records = frame(pd.DataFrame(new, columns=RECORD_FIELDS, dtype=object), strings, RECORD_FIELDS)
    days: dict[str, list] = {}
    li, first, stop = rows["_l"].to_numpy(), rows["_f"].to_numpy(), rows["_s"].to_numpy()
    for i, lst in enumerate(LISTS):
        if i not in part.bounds:
            days[lst] = []
            continue
        a, b = part.bounds[i]
        mine = li == i
        members = day_members(b - a, codes[mine], first[mine], stop[mine], len(pool))
        chosen = made.days_of[lst].iloc[a:b]
        days[lst] = [
            {"version": made.place[lst][sha], "members": m, "fields": header_fields(cols)}
            for sha, cols, m in zip(chosen["sha256"], chosen["columns"], members, strict=True)
        ]
    text = {
        "year": part.year,
        "lists": lists,
        "records": records,
        "days": days,
        "strings": strings.table(),
    }
    return dumps(text), keys

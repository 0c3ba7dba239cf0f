"""publish at the cost of what changed: the page's data is built from the identity's runs
(``page.build_core``) and equals the construction it replaced (one ``Identity.listed`` per
day), value for value and byte for byte."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_publish import first_batch, make_store, second_batch
from test_publish_incremental import next_year

from ice287g.publish import page, tables
from ice287g.query.diff import DIFF_FIELDS, comparable_fields
from ice287g.query.identity import load
from ice287g.query.versions import LISTS, catalog
from ice287g.store import Store


def core_per_day(store, cat: pd.DataFrame, daily: pd.DataFrame, generated: str) -> dict:
    """The page's ``core`` as it was built before: every day's list read whole
    (``Identity.listed``), the pool numbered in order of first appearance."""
    ident = load(store)
    strings = page.Strings()
    lists, days_of, listed = {}, {}, []
    for lst in LISTS:
        days_of[lst] = page.day_versions(cat, lst)
        listed += [ident.listed(sha)[page.RECORD_FIELDS] for sha in days_of[lst]["sha256"]]
    every = pd.concat(listed, ignore_index=True)
    every = every.astype(object)
    every = every.where(every.notna(), None)
    codes = every.groupby(page.RECORD_FIELDS, sort=False, dropna=False).ngroup().to_numpy()
    pool = every[~pd.Series(codes).duplicated().to_numpy()]
    ends = pd.Series([len(x) for x in listed], dtype="int64").cumsum().tolist()
    spans = iter(zip([0, *ends], ends, strict=False))
    for lst in LISTS:
        versions = cat[cat["list"] == lst].sort_values(["date", "seq"]).reset_index(drop=True)
        position = {sha: i for i, sha in enumerate(versions["sha256"])}
        day_rows = []
        for v in days_of[lst].itertuples():
            start, end = next(spans)
            fields = comparable_fields(v.columns, v.columns)
            day_rows.append(
                {
                    "version": position[v.sha256],
                    "members": page.ranges(codes[start:end].tolist()),
                    "fields": [DIFF_FIELDS.index(f) for f in fields],
                }
            )
        lists[lst] = {
            "versions": page.frame(
                versions.assign(rows=versions["rows"].astype("Int64")),
                strings,
                page.CATALOG_COLUMNS,
            ),
            "days": day_rows,
            "series": page._series(daily[daily["list"] == lst], days_of[lst]),
        }
    return {
        "format": 1,
        "generated": generated,
        "models": page.MODELS,
        "diff_fields": list(DIFF_FIELDS),
        "resign_min_days": page.RESIGN_MIN_DAYS,
        "records": page.frame(pool.reset_index(drop=True), strings, page.RECORD_FIELDS),
        "lists": lists,
        "strings": strings.table(),
    }


def assert_core_as_before(store) -> dict:
    cat = catalog(store)
    daily = tables.daily_counts(store)
    new = page.build_core(load(store), cat, daily, "t")
    old = core_per_day(store, cat, daily, "t")
    assert new == old
    assert page.dumps(new) == page.dumps(old)
    return new


def test_core_from_runs_equals_the_core_read_day_by_day(tmp_path: Path):
    store = make_store(tmp_path / "s", first_batch, second_batch, next_year)
    core = assert_core_as_before(store)
    # Not vacuous: days with members, records shared between days.
    days = [d for lst in core["lists"].values() for d in lst["days"]]
    assert len(days) >= 4 and all(d["members"] for d in days)
    assert core["records"]["length"] < sum(sum(d["members"][1::2]) for d in days)


@pytest.mark.corpus
def test_core_from_runs_equals_the_core_read_day_by_day_on_the_corpus(corpus_scratch):
    # the session's writable copy: the identity's cache is written there
    core = assert_core_as_before(Store(corpus_scratch))
    assert len(core["lists"]["participating"]["days"]) > 100

"""`counts --agency` reads the derived rows of each month (``ice287g.query.agency_rows``), not
every version's snapshot: the same answers as matching within each snapshot, and the derived
files kept right as versions arrive or the files are damaged."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from support.workbooks import PARTICIPATING_HEADER, PENDING_HEADER, participating_row
from test_history import write

from ice287g import query
from ice287g.jobs.ingest import ingest_paths
from ice287g.query.agency_rows import META_KEY, folder
from ice287g.query.versions import COUNT_KEYS, catalog, filter_rows
from ice287g.store import Store

FLORIDA = [
    ("Taylor County Sheriff's Office", "County", "Taylor County", "Task Force Model"),
    ("Tampa Police Department", "Municipality", "Hillsborough County", "Task Force Model"),
    ("Taylor County Sheriff's Office", "County", "Taylor County", "Warrant Service Officer"),
    ("Orange County Sheriff's Office", "County", "Orange County", "Jail Enforcement Model"),
    ("Taylor County Sheriff's Office Jail", "County", "Taylor County", "Jail Enforcement Model"),
]
QUERIES = [
    ("taylor county sheriff's office", None),  # the same key (and, where absent, part of one)
    ("sheriff", "FL"),  # part of keys
    ("Taylr Cuonty Sherif Ofice", "florida"),  # a close spelling, within each version
    ("tampa police", None),
    ("nowhere at all", None),
]


def _rows(count: int) -> list:
    fl = [
        participating_row(agency=a, state="FLORIDA", typ=t, county=c, model=m)
        for a, t, c, m in FLORIDA
    ]
    return ([participating_row()] + fl)[:count]


def _ingest(root, files: dict[str, int]) -> Store:
    src = root.parent / f"in-{len(list(root.parent.glob('in-*')))}"
    for name, count in files.items():
        header = PENDING_HEADER if name.startswith("pending") else PARTICIPATING_HEADER
        rows = [r[:5] for r in _rows(count)] if name.startswith("pending") else _rows(count)
        write(src, name, header, rows)
    store = Store(root)
    assert all(o.status == "new" for o in ingest_paths(store, [src]))
    return store


def _snapshots(store: Store) -> dict[str, pd.DataFrame]:
    """sha256 -> the columns of its snapshot that `counts --agency` reads."""
    return {
        v.sha256: store.read_snapshot(
            v.snapshot, columns=["state", "agency", *COUNT_KEYS[1:]]
        ).to_pandas()
        for v in catalog(store).itertuples()
    }


def _by_snapshot(
    store: Store, agency: str, state: str | None, frames: dict | None = None
) -> list[tuple]:
    """The answer as matching within each version's snapshot (what `counts --agency` did);
    `frames`: the store's ``_snapshots``, when read already."""
    frames = _snapshots(store) if frames is None else frames
    return sorted((sha, len(filter_rows(df, state, agency))) for sha, df in frames.items())


def _by_counts(store: Store, agency: str, state: str | None) -> list[tuple]:
    df = query.counts(
        agency=agency, state=state, all_versions=True, include_suspect=True, data_dir=store
    )
    return sorted((r.sha256, int(r.count)) for r in df.itertuples())


@pytest.fixture
def store(tmp_path) -> Store:
    """Participating lists across a year boundary (Taylor appears, Tampa leaves), pending."""
    return _ingest(
        tmp_path / "data",
        {
            "participatingAgencies12302025pm.xlsx": 2,
            "participatingAgencies12312025pm.xlsx": 4,
            "pendingAgencies12312025pm.xlsx": 3,
            "participatingAgencies01022026pm.xlsx": 5,
            "participatingAgencies01052026pm.xlsx": 3,
            "participatingAgencies01062026pm.xlsx": 6,  # the key, and a longer one holding it
        },
    )


@pytest.mark.parametrize("agency,state", QUERIES)
def test_counts_of_an_agency_match_within_each_version(store, agency, state):
    assert _by_counts(store, agency, state) == _by_snapshot(store, agency, state)


def test_the_derived_rows_are_kept_by_month_and_extended_by_a_new_version(store):
    expected = _by_snapshot(store, "taylor county sheriff", None)
    assert _by_counts(store, "taylor county sheriff", None) == expected
    files = sorted(p.name for p in folder(store).iterdir())
    assert files == ["2025-12.parquet", "2026-01.parquet"]
    december = folder(store) / "2025-12.parquet"
    before = december.stat().st_mtime_ns
    _ingest(store.root, {"participatingAgencies01072026pm.xlsx": 5})
    after = _by_counts(store, "taylor county sheriff", None)
    assert after == _by_snapshot(store, "taylor county sheriff", None)
    assert len(after) == len(expected) + 1
    assert december.stat().st_mtime_ns == before  # the other month is not touched
    held = json.loads(pq.read_schema(folder(store) / "2026-01.parquet").metadata[META_KEY])
    assert sorted(held) == sorted(
        v.sha256 for v in catalog(store).itertuples() if v.date.year == 2026
    )


def test_a_damaged_or_foreign_month_file_is_built_again(store):
    expected = _by_snapshot(store, "sheriff", None)
    assert _by_counts(store, "sheriff", None) == expected
    path = folder(store) / "2026-01.parquet"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert _by_counts(store, "sheriff", None) == expected
    table = pq.read_table(path)  # a file that claims a version the catalog does not have
    held = json.loads(table.schema.metadata[META_KEY]) + ["f" * 64]
    pq.write_table(table.replace_schema_metadata({META_KEY: json.dumps(held).encode()}), path)
    assert _by_counts(store, "sheriff", None) == expected
    assert "f" * 64 not in json.loads(pq.read_schema(path).metadata[META_KEY])


@pytest.fixture(scope="module")
def corpus_snapshots(corpus_store) -> dict[str, pd.DataFrame]:
    """The corpus's snapshots, read once for the questions below."""
    return _snapshots(Store(corpus_store))


@pytest.mark.parametrize("agency,state", [("taylor county sheriff", "FL"), ("sherif", None)])
def test_on_the_2025_corpus_counts_of_an_agency_match_within_each_version(
    corpus_scratch, corpus_snapshots, agency, state
):
    # The session's writable corpus copy: the derived rows are its only writes (the first
    # question builds them, from every snapshot; later ones read them, as `counts` does).
    store = Store(corpus_scratch)
    expected = _by_snapshot(store, agency, state, corpus_snapshots)
    assert _by_counts(store, agency, state) == expected

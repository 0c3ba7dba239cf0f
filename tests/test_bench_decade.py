"""The synthetic decade's generator (bench/decade.py) on a tiny corpus: shifted copies have
new bytes, the same rows, and the shifted date in their names and in their own saved time."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest
from support.workbooks import PARTICIPATING_HEADER, build_workbook, participating_row

from bench import decade
from ice287g.jobs.ingest import ingest_paths
from ice287g.normalize.apply import normalize
from ice287g.store import Store
from parsers.workbook import read_workbook

# (list, saved time): a leap day, an ordinary day, the last day of a year
SAVED = [
    ("participating", datetime(2024, 2, 29, 14, 51)),
    ("participating", datetime(2024, 4, 3, 17, 30)),
    ("pending", datetime(2024, 12, 31, 20, 5)),
]
SHIFT = 2
MOA = "https://www.ice.gov/doclib/287gMOA/a.pdf"


def _corpus(folder):
    """A three-workbook corpus in ../shared/ice-corpus's layout."""
    (folder / "files").mkdir(parents=True)
    manifest = []
    for i, (lst, saved) in enumerate(SAVED):
        rows = [
            participating_row(agency=f"Agency {n}", signed=datetime(2023, 5, n + 1))
            for n in range(i + 2)
        ]
        data = build_workbook(
            PARTICIPATING_HEADER if lst == "participating" else PARTICIPATING_HEADER[:5],
            rows if lst == "participating" else [r[:5] for r in rows],
            links={(0, "MOA"): MOA} if lst == "participating" else None,
            saved=saved,
        )
        sha = hashlib.sha256(data).hexdigest()
        name = f"{lst}_{saved.date()}_{sha[:8]}.xlsx"
        (folder / "files" / name).write_bytes(data)
        manifest.append(
            {
                "file": name,
                "list": lst,
                "date": saved.date().isoformat(),
                "sha256": sha,
                "bytes": len(data),
                "workbook_modified_utc": f"{saved:%Y-%m-%dT%H:%M:%SZ}",
            }
        )
    decade.write_csv(folder / "MANIFEST.csv", manifest)
    return folder


def test_shift_date_rule():
    assert decade.shift_date(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert decade.shift_date(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert decade.shift_date(date(2025, 2, 28), 3) == date(2028, 2, 28)
    assert decade.shift_date(date(2025, 12, 31), 9) == date(2034, 12, 31)


def test_shifted_workbooks_keep_their_rows_under_new_bytes_and_dates(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    years = decade.decade(SHIFT, corpus=corpus, cache=tmp_path / "cache")
    assert sorted(years) == [2025, 2026]
    original = decade.read_manifest(corpus)
    shifted = decade.read_manifest(years[2026])
    assert len(shifted) == len(original) == 3

    expected_days = [date(2026, 2, 28), date(2026, 4, 3), date(2026, 12, 31)]
    shas = {row["sha256"] for row in original}
    for before, after, day in zip(original, shifted, expected_days):
        data = (years[2026] / "files" / after["file"]).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert sha == after["sha256"] and sha not in shas
        shas.add(sha)
        assert after["file"] == f"{before['list']}_{day.isoformat()}_{sha[:8]}.xlsx"
        assert after["date"] == day.isoformat()

        old = read_workbook((corpus / "files" / before["file"]).read_bytes(), before["file"])
        new = read_workbook(data, after["file"])
        for field in ("list", "headers", "columns", "links", "errors", "hidden", "extra"):
            assert getattr(new, field) == getattr(old, field), field
        assert normalize(new).equals(normalize(old))
        assert new.saved_at.date() == day  # the workbook's own saved time moved too
        assert new.saved_at.time() == old.saved_at.time()

    # the ingest dates the copies by their names and takes them as new versions
    results = ingest_paths(Store(tmp_path / "data"), [corpus / "files", years[2026] / "files"])
    assert [r.status for r in results] == ["new"] * 6
    assert [r.date for r in results[3:]] == [d.isoformat() for d in expected_days]
    assert [r.rows for r in results[3:]] == [r.rows for r in results[:3]]


def test_generated_once_per_corpus_manifest(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    cache = tmp_path / "cache"
    first = decade.decade(1, corpus=corpus, cache=cache)[2025]
    stamp = {p.name: p.stat().st_mtime_ns for p in (first / "files").iterdir()}
    again = decade.decade(1, corpus=corpus, cache=cache)[2025]
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in (first / "files").iterdir()} == stamp

    # another corpus (its manifest changed): another decade
    (corpus / "MANIFEST.csv").write_text((corpus / "MANIFEST.csv").read_text() + "\n")
    other = decade.decade(1, corpus=corpus, cache=cache)[2025]
    assert other != first and other.is_dir()


def test_missing_corpus_is_named(tmp_path):
    with pytest.raises(decade.CorpusMissing, match=str(tmp_path / "nowhere" / "MANIFEST.csv")):
        decade.decade(1, corpus=tmp_path / "nowhere", cache=tmp_path / "cache")


def test_saved_time_and_comment_are_the_only_changes(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    name = decade.read_manifest(corpus)[0]["file"]
    data = (corpus / "files" / name).read_bytes()
    shifted = decade.shift_workbook(data, 1, name)
    assert read_workbook(shifted, name).saved_at == datetime(2025, 2, 28, 14, 51, tzinfo=UTC)
    assert decade.shift_workbook(data, 1, name) == shifted  # deterministic
    assert decade.shift_workbook(data, 2, name) != shifted

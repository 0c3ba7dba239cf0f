"""Fault injection, store and data side (issue 11): hostile files, crashes between renames,
damaged derived files, spreadsheet-safe outputs, bounded parsing.

Every input is generated here (openpyxl, then edited at the zip level: tests/support/hostile.py).
Each test asserts the clean outcome and a store that is byte-identical or correctly repaired.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support import hostile
from support.files import tree_digest

from ice287g import query
from ice287g.cli import main
from ice287g.jobs import ingest
from ice287g.jobs.ingest import ingest_bytes, ingest_paths
from ice287g.store import Store, sha256_bytes
from ice287g.store.repair import repair
from ice287g.store.verify import verify
from parsers import sheet_xml
from parsers.workbook import WorkbookError, read_workbook

APRIL = "participatingAgencies04032025pm.xlsx"


def _name(day: int) -> str:
    return f"participatingAgencies03{day:02d}2025pm.xlsx"


def _cli(store: Store, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(store.root), *args])


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "data")


@pytest.fixture
def loaded(store) -> Store:
    """A store of three participating versions (3, 4 and 5 rows)."""
    for day in (1, 2, 3):
        out = ingest_bytes(store, hostile.good(2 + day, agency=f"V{day}"), _name(day))
        assert out.status == "new", out
    return store


def _counts(store: Store) -> list[tuple]:
    df = query.counts(by=("model",), all_versions=True, include_suspect=True, data_dir=store)
    return sorted((str(r.date), r.sha256, r.model, int(r.count)) for r in df.itertuples())


def _files(store: Store, folder: str) -> set[str]:
    return {p.name for p in (store.root / folder).rglob("*") if p.is_file()}


# --- 1. per-file isolation ---------------------------------------------------------------


HOSTILE_FAILURES = {
    "encrypted_members": "password-protected: zip member",
    "bad_utf8_link": "hyperlink target is not valid UTF-8",
    "bad_utf8_core": "docProps/core.xml: last-saved time is not valid UTF-8",
}


def _batch(folder, good: int = 16) -> dict[str, bytes]:
    folder.mkdir()
    files = {_name(day): hostile.good(3, agency=f"G{day}") for day in range(1, good + 1)}
    for i, maker in enumerate(HOSTILE_FAILURES, start=1):
        files[f"participatingAgencies02{i:02d}2025am.xlsx"] = getattr(hostile, maker)()
    files["participatingAgencies02202025am.xlsx"] = hostile.signed_past_9999()
    files["participatingAgencies02212025am.xlsx"] = hostile.hyperlink_ranges()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.mark.parametrize("workers", [1, 2])
def test_hostile_files_fail_alone_and_leave_nothing(store, tmp_path, workers):
    files = _batch(tmp_path / "in")
    outcomes = {o.name: o for o in ingest_paths(store, [tmp_path / "in"], workers=workers)}
    for i, (maker, reason) in enumerate(HOSTILE_FAILURES.items(), start=1):
        out = outcomes[f"participatingAgencies02{i:02d}2025am.xlsx"]
        assert out.status == "failed" and reason in out.reason, (maker, out)
    new = {n for n, o in outcomes.items() if o.status == "new"}
    assert len(new) == 18  # 16 good, the SIGNED overflow (flagged) and the link ranges
    shas = {sha256_bytes(files[n]) for n in new}
    # Nothing of a failed file is stored: raw files and snapshots are exactly the new ones.
    assert {p.split(".")[0] for p in _files(store, "raw")} == shas
    assert len(_files(store, "snapshots")) == 18
    assert set(store.catalog_table().column("sha256").to_pylist()) == shas
    assert not (store.root / "logs").exists()  # expected failures are not "unexpected"
    assert verify(store) == []


def test_signed_serial_past_9999_is_flagged_not_fatal(store):
    out = ingest_bytes(store, hostile.signed_past_9999(), APRIL)
    assert out.status == "new" and out.rows == 2
    rows = query.latest(data_dir=store, all_columns=True).sort_values("row")
    first = rows.iloc[0]
    assert first["signed"] is None or first["signed"] != first["signed"]  # missing
    assert "signed_unparsed" in list(first["flags"]) and first["signed_raw"] == "3000000"


@pytest.mark.parametrize("stamp", [b"0001-01-01T01:00:00Z", b"9999-12-31T23:00:00-05:00"])
def test_a_saved_time_at_the_edge_of_the_calendar_is_no_time(store, stamp):
    out = ingest_bytes(store, hostile.saved_at(stamp), APRIL)
    assert out.status == "new" and out.date == "2025-04-03"  # dated by its name


def test_unexpected_error_is_one_line_and_a_logged_traceback(store, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    for day in (1, 2, 3):
        (folder / _name(day)).write_bytes(hostile.good(3, agency=f"U{day}"))
    real = ingest.normalize

    def explode(parsed):
        if parsed.name == _name(2):
            raise KeyError("boom in normalize")
        return real(parsed)

    monkeypatch.setattr(ingest, "normalize", explode)
    result = _cli(store, "backfill", "--workers", "1", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    log = store.root / "logs" / "errors.log"
    assert (
        f"failed  {_name(2)}: unexpected error (KeyError: 'boom in normalize'); "
        f"details in {log}" in result.output
    )
    assert "Traceback (most recent call last)" in log.read_text()
    assert "boom in normalize" in log.read_text()
    assert result.output.count("new     ") == 2
    assert len(_files(store, "raw")) == 2 and verify(store) == []


def test_a_crash_outside_any_file_is_one_line_and_a_logged_traceback(loaded, monkeypatch):
    def broken(self, records, tallies):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Store, "commit", broken)
    folder = loaded.root.parent / "in"
    folder.mkdir()
    (folder / _name(7)).write_bytes(hostile.good(4, agency="IO"))
    result = _cli(loaded, "backfill", str(folder))
    assert result.exit_code == 1 and "Traceback" not in result.output
    log = loaded.root / "logs" / "errors.log"
    assert (
        f"ice287g backfill: unexpected error (OSError: [Errno 5] Input/output error); "
        f"details in {log}" in result.output
    )
    assert "Traceback (most recent call last)" in log.read_text()
    monkeypatch.undo()
    ingest_bytes(loaded, hostile.good(5, agency="After"), _name(8))  # the next write completes it
    assert len(loaded.catalog_table()) == 5 and verify(loaded) == []


def test_a_worker_that_dies_fails_only_its_file(store, tmp_path, monkeypatch):
    if os.name != "posix":
        pytest.skip("the monkeypatch reaches workers only when they are forked (POSIX)")
    _batch(tmp_path / "in")
    real = ingest.prepare

    def die(data, name, **kw):
        if name == _name(5):
            os._exit(3)  # a native crash or the OOM killer: the worker process is gone
        return real(data, name, **kw)

    monkeypatch.setattr(ingest, "prepare", die)
    outcomes = {o.name: o for o in ingest_paths(store, [tmp_path / "in"], workers=2)}
    assert outcomes[_name(5)].status == "failed"
    assert "parser process died" in outcomes[_name(5)].reason
    assert sum(o.status == "new" for o in outcomes.values()) == 17
    assert verify(store) == []


def test_a_failed_write_removes_what_the_file_wrote(loaded, monkeypatch):
    before = tree_digest(loaded.root)

    def full_disk(self, record, data, sync=True):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "write_snapshot", full_disk)
    out = ingest_bytes(loaded, hostile.good(9, agency="Disk"), _name(9))
    assert out.status == "failed" and "No space left on device" in out.reason
    after = tree_digest(loaded.root)
    log = [p for p in after if p.startswith("logs/")]
    assert {k: v for k, v in after.items() if k not in log} == before  # no orphan raw file


# --- 2. spreadsheet-safe outputs -----------------------------------------------------------

EVIL = '=HYPERLINK("http://evil.example/x","click")'


@pytest.fixture
def evil(store) -> Store:
    rows = [
        hostile.row(0, agency=EVIL, county="+1+2"),
        hostile.row(1, agency="\t=1+2", county="@SUM(A1)"),
        hostile.row(2, agency="Bad\u202eName\u2066 Office", county="-2+3"),
    ]
    out = ingest_bytes(store, hostile.workbook(rows), APRIL)
    assert out.status == "new"
    return store


def test_normalized_text_never_starts_a_formula_and_loses_control_chars(evil):
    df = query.latest(data_dir=evil, all_columns=True).sort_values("row")
    agency, raw, flags = list(df["agency"]), list(df["agency_raw"]), list(df["flags"])
    assert agency[0] == "'" + EVIL and "formula_neutralized" in list(flags[0])
    assert agency[1] == "'=1+2" and raw[1] == "\t=1+2"  # a stripped tab exposes no formula
    assert agency[2] == "BadName Office" and raw[2] == "Bad\u202eName\u2066 Office"
    assert "control_chars_removed" in list(flags[2])
    assert list(df["county"]) == ["'+1+2", "'@SUM(A1)", "'-2+3"]


def test_nul_in_a_cell_is_removed_and_flagged(store):
    ingest_bytes(store, hostile.with_controls(), APRIL)
    df = query.latest(data_dir=store, all_columns=True).sort_values("row")
    assert df.iloc[0]["agency_raw"] == "Bad \x00 Office"
    assert df.iloc[0]["agency"] == "Bad Office"
    assert "control_chars_removed" in list(df.iloc[0]["flags"])


def _risky_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    ]


def test_latest_csv_is_spreadsheet_safe_and_raw_keeps_the_text(evil, tmp_path):
    result = _cli(evil, "latest", "--all-columns", "--format", "csv")
    assert result.exit_code == 0, result.output
    body = result.output[result.output.index("row,") :]
    assert _risky_cells(body) == []
    assert "'\t=1+2" in body and "'" + EVIL.replace('"', '""') in body
    out = tmp_path / "latest.csv"
    assert _cli(evil, "latest", "--all-columns", "--format", "csv", "-o", str(out)).exit_code == 0
    assert _risky_cells(out.read_text()) == []
    raw = _cli(evil, "latest", "--all-columns", "--format", "csv", "--raw")
    assert "\t=1+2" in _risky_cells(raw.output[raw.output.index("row,") :])


def test_export_csv_and_xlsx_are_safe_and_never_formulas(evil, tmp_path):
    from openpyxl import load_workbook

    for fmt in ("csv", "xlsx"):
        assert _cli(evil, "export", str(tmp_path / fmt), "--format", fmt).exit_code == 0
        assert (
            _cli(evil, "export", str(tmp_path / f"{fmt}-raw"), "--format", fmt, "--raw").exit_code
            == 0
        )
    assert _risky_cells((tmp_path / "csv" / "participating_latest.csv").read_text()) == []
    raw_csv = (tmp_path / "csv-raw" / "participating_latest.csv").read_text()
    assert "'=1+2" in raw_csv  # the clean agency field holds the neutralized text itself
    assert "\t=1+2" in _risky_cells(raw_csv)  # agency_raw, exactly
    for folder in ("xlsx", "xlsx-raw"):
        path = tmp_path / folder / "versions.xlsx"
        with zipfile.ZipFile(path) as zf:
            sheet = zf.read("xl/worksheets/sheet1.xml")
        assert b"<f>" not in sheet and b"<f " not in sheet  # no formula anywhere
        values = [c.value for row in load_workbook(path).active.iter_rows() for c in row if c.value]
        texts = [v for v in values if isinstance(v, str)]
        if folder == "xlsx":
            assert not [v for v in texts if v.startswith(("=", "+", "@", "\t"))]
        else:
            assert "\t=1+2" in texts  # the exact text, as a text cell


def test_published_csv_files_are_spreadsheet_safe(evil, tmp_path):
    import gzip

    from ice287g.publish.build import build_site

    build_site(evil, tmp_path / "site")
    texts = [
        gzip.decompress(p.read_bytes()).decode() if p.suffix == ".gz" else p.read_text()
        for p in (tmp_path / "site").rglob("*")
        if p.name.endswith((".csv", ".csv.gz"))
    ]
    assert texts and any("'\t=1+2" in t for t in texts)
    assert [c for t in texts for c in _risky_cells(t)] == []


# --- 3. derived files are derived ------------------------------------------------------------


def test_lost_catalog_then_a_write_does_not_double_counts(loaded):
    expected = _counts(loaded)
    loaded.catalog_path.unlink()
    ingest_bytes(loaded, hostile.good(6, agency="V4"), _name(4))
    after = _counts(loaded)
    assert [c for c in after if c[0] != "2025-03-04"] == expected
    assert verify(loaded) == []


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4])
def test_crash_at_each_rename_leaves_a_sound_or_recoverable_store(loaded, monkeypatch, crash_at):
    """Renames of one new version: raw (1), snapshot (2), tallies (3), catalog (4)."""
    expected = _counts(loaded)
    before = tree_digest(loaded.root)
    real = os.replace
    calls = {"n": 0}

    def crashing(src, dst):
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise OSError("simulated crash")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", crashing)
    data = hostile.good(7, agency="Crash")
    try:
        out = ingest_bytes(loaded, data, _name(9))
        assert out.status == "failed"  # raw or snapshot write: the file fails alone
    except OSError:
        assert crash_at >= 3  # the catalog commit itself: the run stops
    monkeypatch.setattr(os, "replace", real)
    after = {k: v for k, v in tree_digest(loaded.root).items() if not k.startswith("logs/")}
    if crash_at <= 2:
        assert after == before  # byte-identical: nothing of the file is left
    assert _counts(loaded) == expected  # readers never see a half-written version
    # The next write completes the interrupted one, without counting anything twice.
    ingest_bytes(loaded, hostile.good(8, agency="Next"), _name(10))
    counts = _counts(loaded)
    assert [c for c in counts if c[0] not in ("2025-03-09", "2025-03-10")] == expected
    if crash_at >= 3:
        assert sum(c[3] for c in counts if c[0] == "2025-03-09") == 7
    assert verify(loaded) == []


def test_verify_finds_a_flipped_byte_in_a_snapshot(loaded):
    record = loaded.catalog_table().to_pylist()[0]
    path = loaded.root / record["snapshot"]
    data = bytearray(path.read_bytes())
    at = data.find(b"V1 0")
    data[at + 1] ^= 0x01
    path.write_bytes(bytes(data))
    problems = verify(loaded)
    assert [p.path for p in problems] == [record["snapshot"]]
    assert "do not match the hash recorded" in problems[0].problem
    repair(loaded)  # repair keeps the recorded hash: the damage stays reported
    assert [p.path for p in verify(loaded)] == [record["snapshot"]]


@pytest.mark.parametrize("name", ["catalog.parquet", "tallies/2025.parquet"])
def test_what_a_commit_keeps_of_its_writes_is_what_its_files_read_as(loaded, name):
    """The catalog and tallies a commit writes are kept, for the next read of the same bytes
    (files.read_table_kept) instead of being decoded: kept, they equal the file's decoding."""
    from ice287g.schema import CATALOG_SCHEMA
    from ice287g.store import files
    from ice287g.store.catalog import TALLY_SCHEMA

    path = loaded.root / name
    schema = CATALOG_SCHEMA if name == "catalog.parquet" else TALLY_SCHEMA
    assert files._kept[sha256_bytes(path.read_bytes())][0] is schema  # as written
    kept = files.read_table_kept(path, schema)
    assert kept.num_rows and kept.equals(files.read_table(path, schema), check_metadata=True)


@pytest.mark.parametrize("name", ["catalog.parquet", "tallies/2025.parquet"])
def test_truncated_derived_file_is_reported_then_repaired(loaded, name):
    catalog_before = loaded.catalog_table()
    expected = _counts(loaded)
    path = loaded.root / name
    path.write_bytes(path.read_bytes()[:200])
    problems = verify(loaded)
    assert [p.path for p in problems] == [name] and "unreadable" in problems[0].problem
    result = _cli(loaded, "verify")
    assert result.exit_code == 1 and "Traceback" not in result.output
    counts = _cli(loaded, "counts")
    assert counts.exit_code == 1 and "Traceback" not in counts.output
    assert "ice287g repair" in counts.output
    result = _cli(loaded, "repair")
    assert result.exit_code == 0 and "rewritten from 3 snapshots" in result.output
    assert "derived/identity.pickle: resolved again from 3 versions" in result.output
    assert verify(loaded) == []
    assert _counts(loaded) == expected
    assert loaded.catalog_table().equals(catalog_before)


def test_tallies_are_kept_by_year_and_a_write_touches_only_its_year(loaded):
    """A new version rewrites the tallies of its own year, not the history's."""
    ingest_bytes(loaded, hostile.good(4, agency="Y26"), "participatingAgencies01052026pm.xlsx")
    year_2025 = loaded.tally_path(2025)
    before = (year_2025.read_bytes(), year_2025.stat().st_mtime_ns)
    expected = _counts(loaded)
    ingest_bytes(loaded, hostile.good(5, agency="Y26b"), "participatingAgencies01062026pm.xlsx")
    assert [p.name for p in loaded.tally_files()] == ["2025.parquet", "2026.parquet"]
    assert (year_2025.read_bytes(), year_2025.stat().st_mtime_ns) == before
    counts = _counts(loaded)
    assert [c for c in counts if c[0] != "2026-01-06"] == expected
    assert sum(c[3] for c in counts if c[0] == "2026-01-06") == 5
    # `counts` on a date reads only that date's year; the answer is the same.
    on_day = query.counts(as_of="2025-03-02", data_dir=loaded)
    assert on_day["count"].tolist() == [4]
    assert verify(loaded) == []


def test_a_single_tallies_file_of_an_older_store_becomes_year_files_on_the_next_write(loaded):
    import pyarrow as pa

    expected = _counts(loaded)
    tables = [pq.read_table(p) for p in loaded.tally_files()]
    pq.write_table(pa.concat_tables(tables), loaded.legacy_tallies_path)
    for p in loaded.tally_files():
        p.unlink()
    loaded.tallies_dir.rmdir()
    assert _counts(loaded) == expected and verify(loaded) == []  # read as it is
    ingest_bytes(loaded, hostile.good(6, agency="Y26"), "participatingAgencies01052026pm.xlsx")
    assert not loaded.legacy_tallies_path.exists()
    assert [p.name for p in loaded.tally_files()] == ["2025.parquet", "2026.parquet"]
    assert [c for c in _counts(loaded) if c[0] != "2026-01-05"] == expected
    assert verify(loaded) == []


def test_repair_removes_the_tallies_of_a_year_with_no_version_left(loaded):
    import shutil

    expected = _counts(loaded)
    stray = loaded.tally_path(2019)  # say, a copy left by hand
    shutil.copy(loaded.tally_path(2025), stray)
    problems = verify(loaded)
    assert len(problems) == 3 and "add up to 6, not 3" in problems[0].problem
    repair(loaded)
    assert not stray.exists()
    assert [p.name for p in loaded.tally_files()] == ["2025.parquet"]
    assert verify(loaded) == [] and _counts(loaded) == expected


def test_truncated_ledger_part_is_reported_not_a_crash(loaded):
    from ice287g.store.ledger import PUBLICATIONS

    PUBLICATIONS.append(loaded, [{"url": "https://www.ice.gov/x.xlsx", "outcome": "failed"}])
    part = PUBLICATIONS.parts(loaded)[0]
    part.write_bytes(part.read_bytes()[:50])
    problems = verify(loaded)
    assert [p.path for p in problems] == [str(part.relative_to(loaded.root))]
    result = _cli(loaded, "publications")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "restore this part file from a backup" in result.output


def test_a_ledger_read_again_reads_what_is_on_disk_now(store, tmp_path):
    """Reads keep what they read (the parts, and the ledger joined) and an append keeps the
    part it wrote, yet each read sees the parts appended since, a part restored in place of
    another, and damage done after."""
    import shutil

    from ice287g.store import ledger
    from ice287g.store.files import StoreDamaged, read_table
    from ice287g.store.ledger import PUBLICATIONS

    def urls():
        return PUBLICATIONS.read(store, ["url"])["url"].to_pylist()

    for name in ("a", "b"):
        PUBLICATIONS.append(store, [{"url": name, "outcome": "failed"}])
    assert urls() == ["a", "b"]
    PUBLICATIONS.append(store, [{"url": "c", "outcome": "failed"}, {"url": "d"}])
    assert urls() == ["a", "b", "c", "d"]
    first, second, third = PUBLICATIONS.parts(store)
    kept = ledger._parts[ledger._part_key(str(third))]  # kept as appended, not decoded
    assert kept.equals(read_table(third, PUBLICATIONS.schema), check_metadata=True)
    shutil.copy(second, tmp_path / "saved.parquet")
    shutil.copy(first, tmp_path / "wrong.parquet")
    os.replace(tmp_path / "wrong.parquet", second)  # a part replaced (a wrong restore)
    assert urls() == ["a", "a", "c", "d"]
    os.replace(tmp_path / "saved.parquet", second)  # and restored
    assert urls() == ["a", "b", "c", "d"]
    first.write_bytes(first.read_bytes()[:50])  # damaged in place after it was read
    with pytest.raises(StoreDamaged, match="restore this part file from a backup"):
        urls()
    first.unlink()  # gone: read as the other parts
    assert urls() == ["b", "c", "d"]


def test_truncated_moa_documents_table_is_reported_with_its_own_remedy(loaded):
    from ice287g.store.documents import documents_path, write_documents

    write_documents(loaded, [{"url": "https://www.ice.gov/doclib/287gMOA/x.pdf"}])
    path = documents_path(loaded)
    path.write_bytes(path.read_bytes()[:64])
    problems = verify(loaded)
    assert [p.path for p in problems] == [path.name]
    assert "`ice287g moa read --rebuild` rebuilds it" in problems[0].problem


def test_old_catalog_without_snapshot_hashes_is_named_and_repair_records_them(loaded):
    table = loaded.catalog_table().drop_columns(["snapshot_sha256"])
    pq.write_table(table, loaded.catalog_path)
    problems = verify(loaded)
    assert len(problems) == 1 and "no recorded snapshot hash" in problems[0].problem
    lines = repair(loaded)
    assert "snapshot hashes taken from the files for 3 versions" in "\n".join(lines)
    assert verify(loaded) == []


def test_missing_raw_file_is_restored_by_backfilling_the_same_bytes(loaded, tmp_path):
    before = tree_digest(loaded.root)
    record = loaded.catalog_table().to_pylist()[1]
    raw = loaded.root / record["raw"]
    data = raw.read_bytes()
    raw.unlink()
    assert [p.path for p in verify(loaded)] == [record["raw"]]
    again = tmp_path / "again.xlsx"
    again.write_bytes(data)
    result = _cli(loaded, "backfill", str(again))
    assert result.exit_code == 0 and "[raw file restored]" in result.output
    assert tree_digest(loaded.root) == before  # byte-identical again
    raw.unlink()
    out = ingest_bytes(loaded, data, "participatingAgencies03022025pm.xlsx")
    assert out.status == "stored" and "raw file restored" in out.warnings
    assert tree_digest(loaded.root) == before


def test_rebuild_fails_cleanly_without_a_half_built_directory(loaded, tmp_path, monkeypatch):
    new = tmp_path / "data-new"
    record = loaded.catalog_table().to_pylist()[2]
    raw = loaded.root / record["raw"]
    data = raw.read_bytes()
    raw.unlink()
    result = _cli(loaded, "rebuild", str(new))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "raw workbook of" in result.output and "missing" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing half-built
    raw.write_bytes(data)
    # A crash half-way (the 3rd snapshot cannot be written): still nothing left behind.
    real = Store.write_snapshot
    calls = {"n": 0}

    def crash(self, record, data, sync=True):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("simulated crash")
        return real(self, record, data, sync)

    monkeypatch.setattr(Store, "write_snapshot", crash)
    with pytest.raises(OSError):
        from ice287g.jobs.rebuild import rebuild

        rebuild(loaded, Store(new))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    monkeypatch.setattr(Store, "write_snapshot", real)
    result = _cli(loaded, "rebuild", str(new))
    assert result.exit_code == 0, result.output
    assert verify(Store(new)) == [] and _counts(Store(new)) == _counts(loaded)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "data-new"]


# --- 4. bounded parsing ------------------------------------------------------------------


def test_hyperlink_ranges_expand_only_over_data_rows():
    data = hostile.hyperlink_ranges(rows=20, links=200, last_row=99_999)
    assert len(data) < 10_000
    parsed = read_workbook(data, APRIL)
    assert len(parsed) == 20
    assert parsed.links["moa"] == ["https://www.ice.gov/a.pdf"] * 20
    zf = zipfile.ZipFile(io.BytesIO(data))
    xml = zf.read("xl/worksheets/sheet1.xml")
    links = sheet_xml.hyperlinks(zf, "xl/worksheets/sheet1.xml", xml, range(2, 22), [6])
    assert sorted(links) == list(range(2, 22))  # 20 cells, not 200 x 99,999
    assert all(list(cols) == [6] for cols in links.values())


def test_a_sheet_spanning_a_huge_grid_is_refused_before_it_is_read():
    def far_cell(name, body):
        if name != "xl/worksheets/sheet1.xml":
            return body
        cell = b'<row r="500000"><c r="ZZ500000" t="inlineStr"><is><t>x</t></is></c></row>'
        return body.replace(b"</sheetData>", cell + b"</sheetData>")

    data = hostile.edit_members(hostile.good(3), far_cell)
    with pytest.raises(WorkbookError, match="spans 500000 rows x 702 columns"):
        read_workbook(data, APRIL)

"""publish keeps the long table of every version as derived state (``ice287g.publish.pieces``):
a new version rebuilds only the newest piece of its list, and the site equals the one a
from-scratch build of the same store writes: byte for byte, the database by what it holds."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.workbooks import PARTICIPATING_HEADER, PENDING_HEADER
from test_history import part, write
from test_publish import first_batch, make_store, second_batch

from ice287g.jobs.ingest import ingest_paths
from ice287g.publish import publish
from ice287g.publish.database import DATABASE
from ice287g.publish.files import CHECKSUMS
from ice287g.publish.pieces import FOLDER
from ice287g.publish.versiondb import FOLDER as DATABASE_FOLDER
from ice287g.store import Store


def next_year(src: Path) -> None:
    """2026-01-05: a participating list of the next year (a new piece)."""
    write(
        src,
        "participatingAgencies01052026pm.xlsx",
        PARTICIPATING_HEADER,
        [part("Alpha Police Department"), part("Delta Police Department")],
    )


def add(store: Store, base: Path, batch, name: str) -> None:
    src = base / name
    batch(src)
    assert all(o.status == "new" for o in ingest_paths(store, [src]))


def database_content(path: Path) -> dict:
    """What a database holds: its schema, every table's rows in rowid order (the search
    indexes as the rows each word finds). Its bytes depend on how its long table grew
    (appended version by version, or all at once); what it holds must not."""
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute("select type, name, sql from sqlite_master order by name").fetchall()
        out: dict = {"schema": objects}
        for kind, name, _ in objects:
            if kind != "table" or "_fts" in name:
                continue
            key = "rowid, *" if not name.endswith("version_rows") else "*"
            out[name] = conn.execute(f"select {key} from [{name}] order by 1, 2").fetchall()
        for (name,) in conn.execute(
            "select name from sqlite_master where name like '%_fts' and type = 'table'"
        ).fetchall():
            words = {"police", "sheriff", "county", "office", "fl", "tx"}
            query = f"select rowid from [{name}] where [{name}] match ? order by 1"
            out[name] = {w: conn.execute(query, (w,)).fetchall() for w in words}
        return out
    finally:
        conn.close()


def site_files(site: Path) -> dict[str, bytes]:
    """Every published file but the manifest (which records the previous generation); the
    database as what it holds, and its line of the checksums left out."""
    out = {}
    for p in sorted(site.rglob("*")):
        if not p.is_file() or p.name == "manifest.json":
            continue
        rel = p.relative_to(site).as_posix()
        if p.name == DATABASE:
            out[rel] = database_content(p)
        elif p.name == CHECKSUMS:
            lines = p.read_text().splitlines()
            out[rel] = [x for x in lines if not x.endswith(f"  {DATABASE}")]
        else:
            out[rel] = p.read_bytes()
    return out


def pieces_state(store: Store) -> dict[str, tuple[int, int]]:
    """Each cached piece file with its inode and modification time (a rewrite changes them)."""
    folder = store.root / FOLDER
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.iterdir()
        if p.name.startswith(("participating-", "pending-"))
    }


def cached_files(store: Store, name: str) -> dict[str, tuple[int, int]]:
    """Each file of ``derived/publish/<name>`` with its inode and modification time."""
    folder = store.root / "derived" / "publish" / name
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def scratch_site(store: Store, tmp_path: Path, name: str) -> dict[str, bytes]:
    """The site of a copy of the store without its derived state."""
    copy = tmp_path / f"{name}-store"
    shutil.copytree(store.root, copy)
    shutil.rmtree(copy / "derived", ignore_errors=True)
    publish(str(tmp_path / name), copy)
    return site_files(tmp_path / name)


def test_a_new_version_rebuilds_its_piece_only_and_equals_a_build_from_scratch(tmp_path):
    base = tmp_path / "s"
    store = make_store(base, first_batch, second_batch)
    publish(str(tmp_path / "www"), store)
    before = pieces_state(store)
    assert {n.split("-")[0] for n in before} == {"participating", "pending"}
    feed_before = cached_files(store, "feed")
    assert any(n.startswith("2025-") for n in feed_before)

    add(store, base, next_year, "in-2026")
    publish(str(tmp_path / "www2"), store)  # a new folder: the site holds no old generation
    after = pieces_state(store)
    # The 2025 pieces are reused as they were; the 2026 piece is new.
    assert {n: s for n, s in after.items() if "-2025-" in n} == before
    assert any(n.startswith("participating-2026-") for n in after)
    # So are the feed's 2025 entries; the 2026 entry is written in a file of its year.
    feed_after = cached_files(store, "feed")
    assert {n: s for n, s in feed_after.items() if n.startswith("2025-")} == feed_before
    assert any(n.startswith("2026-") for n in feed_after)
    assert site_files(tmp_path / "www2") == scratch_site(store, tmp_path, "scratch")

    # Every gzip reader sees one CSV in the multi-member versions.csv.gz.
    data = tmp_path / "www2" / "data"
    rows = pq.read_table(data / "versions.parquet").num_rows
    assert len(pd.read_csv(data / "versions.csv.gz")) == rows
    with gzip.open(data / "versions.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == rows + 1 and lines[0].startswith('"list","date"')
    assert sum(line.startswith('"list"') for line in lines) == 1  # one header
    from frictionless import Resource  # here, not at import: every worker collects this file

    with Resource(path="versions.csv.gz", basepath=str(data)) as resource:
        assert sum(1 for _ in resource.row_stream) == rows


def test_a_version_of_an_earlier_year_rebuilds_that_piece(tmp_path):
    base = tmp_path / "s"
    store = make_store(base, first_batch, next_year)
    publish(str(tmp_path / "www"), store)
    before = pieces_state(store)
    add(store, base, second_batch, "in-late")  # 2025 versions after 2026 was published
    publish(str(tmp_path / "www2"), store)
    after = pieces_state(store)
    stale = {n for n in before if n.startswith("participating-2025-")}
    assert stale and not stale & set(after)  # that piece's files of the old key are gone
    kept = {n: s for n, s in before.items() if n.startswith(("pending-", "participating-2026-"))}
    assert {n: s for n, s in after.items() if n in kept} == kept
    assert site_files(tmp_path / "www2") == scratch_site(store, tmp_path, "scratch")


def test_a_damaged_or_altered_piece_is_rebuilt_never_trusted(tmp_path):
    store = make_store(tmp_path / "s", first_batch, second_batch, next_year)
    publish(str(tmp_path / "www"), store)
    good = site_files(tmp_path / "www")
    folder = store.root / FOLDER
    parquet = next(folder.glob("participating-2025-*.parquet"))
    parquet.write_bytes(parquet.read_bytes()[:100])  # truncated
    member = next(folder.glob("participating-2026-*.csv.gz"))
    member.write_bytes(gzip.compress(b'"x"\n', mtime=0))  # whole gzip, wrong rows
    (next(folder.glob("pending-2025-*.json"))).unlink()  # its record of hashes lost
    whole = next(folder.glob("versions-*.csv.gz"))  # the assembled file, one byte changed
    data = bytearray(whole.read_bytes())
    data[-20] ^= 1
    whole.write_bytes(bytes(data))
    database = store.root / DATABASE_FOLDER / "versions.db"
    database.write_bytes(database.read_bytes()[:4096])  # the long table's database cut short
    publish(str(tmp_path / "www2"), store)
    assert site_files(tmp_path / "www2") == good
    # three pieces and the assembled files, three files each; beside them, each piece's row
    # groups as placed in the assembled Parquet file (the damaged piece's worked out again)
    assert len([p for p in folder.iterdir() if p.is_file()]) == 12
    assert len(list((folder / "placed").iterdir())) == 3


def test_a_store_whose_derived_folder_cannot_be_written_still_publishes(tmp_path):
    store = make_store(tmp_path / "s", first_batch, next_year)
    publish(str(tmp_path / "www"), store)
    good = site_files(tmp_path / "www")
    shutil.rmtree(store.root / "derived" / "publish")
    (store.root / "derived" / "publish").write_text("in the way")  # no folder can go here
    publish(str(tmp_path / "www2"), store)
    assert site_files(tmp_path / "www2") == good
    assert (store.root / "derived" / "publish").read_text() == "in the way"


def workbooks(src: Path) -> list[Path]:
    """Six versions over two calendar years, each a workbook of its own: renames, a
    removal, a return, a new model, the pending list emptied and filled."""
    tampa = part("Tampa PD", model="Task Force Model")
    rows = {
        "participatingAgencies04032025pm.xlsx": [tampa, part("Alpha Police Department")],
        "participatingAgencies04102025pm.xlsx": [
            part("Tampa Police Department", model="Task Force Model"),
            part("Beta Police Department"),
        ],
        "participatingAgencies12302025pm.xlsx": [
            part("Tampa Police Department", model="Task Force Model"),
            part("Alpha Police Department"),
            part("Alpha Police Department", model="Task Force Model"),
        ],
        "participatingAgencies01052026pm.xlsx": [
            part("Alpha Police Department"),
            part("Delta Police Department"),
        ],
    }
    for name, listed in rows.items():
        write(src, name, PARTICIPATING_HEADER, listed)
    butler = [
        "OHIO",
        "Butler County Sheriff's Office",
        "County",
        "Butler County",
        "Task Force Model",
    ]
    write(src, "pendingAgencies04052025am.xlsx", PENDING_HEADER, [butler])
    write(src, "pendingAgencies01072026am.xlsx", PENDING_HEADER, [])
    return sorted(src.iterdir())


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_publishing_after_each_batch_in_any_order_equals_a_build_from_scratch(
    tmp_path_factory, data
):
    """The derived state after an incremental update equals a from-scratch rebuild: the
    versions arrive in a random order (an older one after newer ones, as a Wayback import
    brings them) and in random batches, the site is published after each batch, and the
    last site equals the one a copy of the store without ``derived/`` publishes."""
    tmp_path = tmp_path_factory.mktemp("orders")
    files = workbooks(tmp_path / "all")
    order = data.draw(st.permutations(files))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(files) - 1), max_size=3)))
    store = Store(tmp_path / "data")
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(files)], strict=True)):
        batch = tmp_path / f"batch{i}"
        batch.mkdir()
        for f in order[a:b]:
            shutil.copy(f, batch / f.name)
        assert all(o.status == "new" for o in ingest_paths(store, [batch]))
        publish(str(tmp_path / f"www{i}"), store)
    last = tmp_path / f"www{len(cuts)}"
    assert site_files(last) == scratch_site(store, tmp_path, "scratch")
    told = feed_entries(last)
    assert len(told) >= 3  # not vacuous: changes told, across both years
    assert {"2026-01-05", "2025-04-10"} <= {e["updated"][:10] for e in told}


def feed_entries(site: Path) -> list[dict]:
    """Every entry of the feed, from ``feed.xml`` back through its archives (RFC 5005:
    ``prev-archive`` links, each archive marked and linked to the current document), each
    entry in exactly one document: the year of the document's entries, its id, updated."""
    import xml.etree.ElementTree as ET

    atom, history = "{http://www.w3.org/2005/Atom}", "{http://purl.org/syndication/history/1.0}"
    out, name, seen = [], "feed.xml", set()
    while name is not None:
        assert name not in seen
        seen.add(name)
        root = ET.fromstring((site / name).read_bytes())
        links = {link.get("rel"): link.get("href") for link in root.findall(f"{atom}link")}
        archived = root.find(f"{history}archive") is not None
        assert archived == (name != "feed.xml")
        if archived:
            assert links["current"] == "feed.xml" and links["self"] == name
        years = set()
        for entry in root.findall(f"{atom}entry"):
            updated = entry.find(f"{atom}updated").text
            years.add(updated[:4])
            out.append({"document": name, "id": entry.find(f"{atom}id").text, "updated": updated})
        assert len(years) <= 1  # a document holds one year's entries
        name = links.get("prev-archive")
    assert len({e["id"] for e in out}) == len(out)
    assert {p.name for p in site.glob("feed*.xml")} == seen  # no archive left unlinked
    return out


def test_the_feed_is_archived_by_year(tmp_path: Path):
    """``feed.xml`` holds the newest year's entries and links to the archive of the year
    before; a new version of the newest year leaves the archive as it was (not written
    again)."""
    workbooks(tmp_path / "all")
    store = Store(tmp_path / "data")
    assert all(o.status == "new" for o in ingest_paths(store, [tmp_path / "all"]))
    publish(str(tmp_path / "www1"), store)
    told = feed_entries(tmp_path / "www1")
    documents: dict[str, set[str]] = {}
    for e in told:
        documents.setdefault(e["document"], set()).add(e["updated"][:4])
    assert documents == {"feed.xml": {"2026"}, "feed-2025.xml": {"2025"}}
    archive = (tmp_path / "www1" / "feed-2025.xml").read_bytes()
    cached = {
        p.name: p.stat().st_ino for p in (store.root / "derived/publish/feed").glob("archive-*.xml")
    }
    later = tmp_path / "later"
    write(
        later,
        "participatingAgencies02022026pm.xlsx",
        PARTICIPATING_HEADER,
        [part(n) for n in ("Alpha Police Department", "Delta Police Department", "Echo PD")],
    )
    assert all(o.status == "new" for o in ingest_paths(store, [later]))
    publish(str(tmp_path / "www2"), store)
    told = feed_entries(tmp_path / "www2")
    assert sorted(e["updated"][:10] for e in told if e["document"] == "feed.xml") == [
        "2026-01-05",
        "2026-02-02",
    ]
    assert (tmp_path / "www2" / "feed-2025.xml").read_bytes() == archive
    again = {
        p.name: p.stat().st_ino for p in (store.root / "derived/publish/feed").glob("archive-*.xml")
    }
    assert again == cached and len(cached) == 1


def test_a_store_that_cannot_be_written_publishes_the_same_site(tmp_path: Path, monkeypatch):
    """Where ``derived/publish/`` cannot be written, every cached part is built in a
    temporary folder (read back as bytes before it goes, the database built on the spot):
    the site is the one a writable store publishes, and the store gains no derived file."""
    from ice287g.publish import cache

    workbooks(tmp_path / "all")
    store = Store(tmp_path / "data")
    assert all(o.status == "new" for o in ingest_paths(store, [tmp_path / "all"]))
    expected = scratch_site(store, tmp_path, "writable")
    shutil.rmtree(store.root / "derived" / "publish", ignore_errors=True)
    monkeypatch.setattr(cache.os, "access", lambda path, mode: False)  # as root, chmod would not do
    publish(str(tmp_path / "www"), store)
    assert site_files(tmp_path / "www") == expected
    assert {p.name for p in (tmp_path / "www").glob("feed*.xml")} == {"feed.xml", "feed-2025.xml"}
    left = store.root / "derived" / "publish"
    assert not left.exists() or not [p for p in left.rglob("*") if p.is_file()]

"""The site's long table of every version, kept as derived state of the store so a new
version costs the same in year ten as in year one.

The table (``versions.parquet``, ``versions.csv.gz``, the database's ``version_rows``) is
ordered by list, date and seq, and cut into *pieces*: one per list and calendar year. Each
piece is cached under ``<data_dir>/derived/publish/versions/`` as

- ``<list>-<year>-<key>.parquet``: the piece's rows (the columns of ``versions.parquet``);
- ``<list>-<year>-<key>.csv.gz``: the same rows as CSV without a header, one gzip member;
- ``<list>-<year>-<key>.json``: the sha256 of both, written last (a piece is used only when
  both files match it).

``key`` hashes what the piece's bytes depend on: each of its versions (list, date, seq,
sha256, suspect, snapshot path and the snapshot's own sha256), the code that shapes the rows
(this module, the export's table and CSV writers, the spreadsheet-safe rule, the schema) and
the pyarrow version. A piece whose key is absent is built from its snapshots and written
atomically; a piece of another key (stale) is deleted; one altered or unreadable is built
again.
So a new version rebuilds the newest piece of its list only, and deleting ``derived/`` gives
the same files, only slower.

``versions.csv.gz`` is the gzip member of the header followed by each piece's member: a
multi-member gzip is one file to every gzip reader (RFC 1952; Python's ``gzip``, pandas,
frictionless, ``zcat``). ``versions.parquet`` is written from the pieces read back (Arrow to
Parquet: no snapshot read, no CSV, no compression of text).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ice287g.publish.files import GZIP_LEVEL, sha256_file
from ice287g.query.export import csv_bytes, versions_table
from ice287g.store.files import atomic_write

FORMAT = "publish-versions-1"
FOLDER = Path("derived") / "publish" / "versions"
# What a version contributes to its piece's key.
KEY_COLUMNS = ["list", "date", "seq", "sha256", "suspect", "snapshot", "snapshot_sha256"]


@dataclass(frozen=True)
class Piece:
    """One list's versions of one calendar year, in table order."""

    list: str
    year: int
    versions: pd.DataFrame  # catalog rows
    key: str

    @property
    def stem(self) -> str:
        return f"{self.list}-{self.year}-{self.key[:16]}"


def _code_digest() -> str:
    """The code the piece bytes depend on (a change to any of it rebuilds every piece)."""
    import pyarrow

    import ice287g.query.export.files as export_files
    import ice287g.query.export.tables as export_tables
    import ice287g.safetext as safetext
    import ice287g.schema as schema

    h = hashlib.sha256(f"{FORMAT} pyarrow {pyarrow.__version__}".encode())
    for module in (export_files, export_tables, safetext, schema):
        h.update(Path(module.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def pieces(cat: pd.DataFrame) -> list[Piece]:
    """The catalog cut into pieces, in the long table's order (list, date, seq)."""
    code = _code_digest()
    cat = cat.sort_values(["list", "date", "seq"])
    years = pd.to_datetime(cat["date"]).dt.year
    out = []
    for (lst, year), versions in cat.groupby([cat["list"], years], sort=True):
        h = hashlib.sha256(code.encode())
        for row in versions[KEY_COLUMNS].itertuples(index=False):
            h.update(("\t".join(map(str, row)) + "\n").encode())
        out.append(Piece(lst, int(year), versions, h.hexdigest()))
    return out


def _files(folder: Path, piece: Piece) -> dict[str, Path]:
    return {ext: folder / f"{piece.stem}.{ext}" for ext in ("parquet", "csv.gz", "json")}


def _build(store, piece: Piece, folder: Path) -> None:
    """The piece's rows from its snapshots, written into the cache: the Parquet and the CSV
    member, then (last) the record of their sha256, which makes the piece valid."""
    from ice287g.store.files import parquet_bytes

    files = _files(folder, piece)
    table = versions_table(store, piece.versions)
    data = {
        "parquet": parquet_bytes(table),
        "csv.gz": gzip.compress(csv_bytes(table, header=False), GZIP_LEVEL, mtime=0),
    }
    for ext, body in data.items():
        atomic_write(files[ext], body, sync=False)
    record = {ext: hashlib.sha256(body).hexdigest() for ext, body in data.items()}
    atomic_write(files["json"], json.dumps(record).encode(), sync=False)


def _cached(folder: Path, piece: Piece):
    """The piece's table from the cache, or None when missing, altered or unreadable."""
    import pyarrow.parquet as pq

    files = _files(folder, piece)
    try:
        record = json.loads(files["json"].read_text())
        for ext in ("parquet", "csv.gz"):
            if sha256_file(files[ext]) != record[ext]:
                return None
        table = pq.read_table(files["parquet"])
    except Exception:  # noqa: BLE001 - a damaged piece is rebuilt, never trusted
        return None
    return table if table.num_rows == int(piece.versions["rows"].sum()) else None


@dataclass
class LongTable:
    """The long table assembled from its pieces."""

    table: object  # pyarrow.Table
    members: list[Path]  # gzip members of versions.csv.gz (after the header), in order
    built: int  # pieces built (not found in the cache)
    reused: int
    scratch: object = None  # the temporary folder of the pieces of a read-only store


def _folder(store) -> tuple[Path, object]:
    """The pieces' folder under the store; a temporary one (removed with its LongTable)
    when the store cannot be written."""
    folder = store.root / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder, None
    except OSError:
        pass
    scratch = tempfile.TemporaryDirectory(prefix="ice287g-pieces-")
    return Path(scratch.name), scratch


def long_table(store, cat: pd.DataFrame) -> LongTable:
    """Every version as one long table, from the cache where its pieces are current."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, scratch = _folder(store)
    tables, members, keep, built = [], [], set(), 0
    wanted = pieces(cat)
    for piece in wanted:
        files = _files(folder, piece)
        table = _cached(folder, piece)
        if table is None:
            _build(store, piece, folder)
            table = pq.read_table(files["parquet"])
            built += 1
        keep |= {p.name for p in files.values()}
        tables.append(table)
        members.append(files["csv.gz"])
    for stale in folder.iterdir():
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    table = pa.concat_tables(tables) if tables else versions_table(store, cat.iloc[:0])
    return LongTable(table, members, built, len(wanted) - built, scratch)

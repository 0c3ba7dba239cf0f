"""The site's long table of every version, kept as derived state of the store so a new
version costs the same in year ten as in year one.

The table (``versions.parquet``, ``versions.csv.gz``, the database's ``version_rows``) is
ordered by list, date and seq, and cut into *pieces*: one per list and calendar year. Each
piece is cached under ``<data_dir>/derived/publish/versions/`` as

- ``<list>-<year>-<key>.parquet``: the piece's rows (the columns of ``versions.parquet``);
- ``<list>-<year>-<key>.csv.gz``: the same rows as CSV without a header, one gzip member;
- ``<list>-<year>-<key>.json``: the sha256 of both, written last (a piece is used only when
  both files match it, ``cache.valid``).

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
frictionless, ``zcat``). ``versions.parquet`` is the pieces' row groups one after the other
under one footer (``rowgroups.layout``: no value decoded or encoded again). Both are cached as
``versions-<key>.*``, ``key`` hashing every piece's, and linked into the site. They are
assembled in a background thread of the build (``cache.later``: ~100 MB written at ten years)
while the rest of the site is built; the pieces they begin with in common with the last
ones are copied by the kernel and not hashed again (``concat``, its memos in ``hashes/``).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ice287g.publish import cache, concat
from ice287g.publish.files import GZIP_LEVEL
from ice287g.query.export import csv_bytes, versions_table

FORMAT = "publish-versions-1"
FOLDER = cache.ROOT / "versions"
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

    modules = (export_files, export_tables, safetext, schema, __file__)
    return cache.code_digest(*modules, label=f"{FORMAT} pyarrow {pyarrow.__version__}")


def pieces(cat: pd.DataFrame) -> list[Piece]:
    """The catalog cut into pieces, in the long table's order (list, date, seq)."""
    code = _code_digest()
    cat = cat.sort_values(["list", "date", "seq"])
    if cat.empty:
        return []
    lists = cat["list"].to_numpy(dtype=object)
    years = pd.to_datetime(cat["date"]).dt.year.to_numpy()
    lines = ["\t".join(map(str, row)) + "\n" for row in zip(*_columns(cat), strict=True)]
    # The pieces are the runs of one list and year in that order (a slice each, not a
    # group-by's copy of every column).
    starts = np.flatnonzero(np.r_[True, (lists[1:] != lists[:-1]) | (years[1:] != years[:-1])])
    out = []
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(cat)], strict=True):
        h = hashlib.sha256(code.encode())
        h.update("".join(lines[a:b]).encode())
        out.append(Piece(lists[a], int(years[a]), cat.iloc[a:b], h.hexdigest()))
    return out


def _columns(cat: pd.DataFrame) -> list[list]:
    return [cat[c].tolist() for c in KEY_COLUMNS]


# Where ``rowgroups.join`` keeps each piece's row groups as placed in the last whole file.
PLACED = "placed"


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
    cache.write(files, data)


@dataclass
class LongTable:
    """The long table of every version, as files (``files``: ``versions.parquet`` and
    ``versions.csv.gz``), each assembled from the pieces and cached under a key of theirs,
    with its sha256 known (``files.remember``)."""

    schema: object  # pyarrow.Schema
    files: cache.Later  # "parquet", "csv.gz"
    pieces: list[Piece]
    folder: Path
    built: int  # pieces built (not found in the cache)
    reused: int
    scratch: object = None  # the temporary folder of the pieces of a read-only store

    def rows_of(self, versions: pd.DataFrame):
        """The rows of `versions` (catalog rows) in their order, then by sheet row, read
        from the pieces that hold them (an Arrow table)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        rank = dict(zip(versions["sha256"].tolist(), range(len(versions)), strict=True))
        holds = {sha: i for i, p in enumerate(self.pieces) for sha in p.versions["sha256"].tolist()}
        parts = []
        for i in sorted({holds[sha] for sha in rank if sha in holds}):
            t = pq.read_table(_files(self.folder, self.pieces[i])["parquet"])
            parts.append(t.filter(pc.is_in(t.column("sha256"), pa.array(list(rank)))))
        if not parts:
            return self.schema.empty_table()
        part = pa.concat_tables(parts)
        order = pa.array([rank[s] for s in part.column("sha256").to_pylist()], pa.int32())
        part = part.append_column("_rank", order)
        part = part.sort_by([("_rank", "ascending"), ("row", "ascending")])
        return part.drop_columns(["_rank"])


def _whole(folder: Path, wanted: list[Piece], schema) -> dict[str, Path]:
    """``versions.parquet`` and ``versions.csv.gz`` assembled from the pieces, cached under
    the key of all of them: the Parquet file the pieces' row groups one after the other
    (``rowgroups.layout``: nothing decoded or encoded again), the CSV the header's gzip member
    followed by each piece's."""
    from ice287g.store.files import parquet_bytes

    key = hashlib.sha256("\n".join(p.key for p in wanted).encode()).hexdigest()[:16]
    files = {ext: folder / f"versions-{key}.{ext}" for ext in ("parquet", "csv.gz", "json")}
    if cache.valid(files):
        return files
    header = gzip.compress(csv_bytes(schema.empty_table()), GZIP_LEVEL, mtime=0)
    cache.whole_table(
        files,
        "versions",
        [_files(folder, p)["parquet"] for p in wanted],
        folder / PLACED,
        lambda: parquet_bytes(schema.empty_table()),
        header,
        [_files(folder, p)["csv.gz"] for p in wanted],
    )
    return files


def long_table(store, cat: pd.DataFrame) -> LongTable:
    """Every version as one long table, from the cache where its pieces are current."""
    folder, scratch = cache.folder(store, "versions")
    cache.settle((folder, "versions"))  # the folder as the last call left it
    keep, built = set(), 0
    wanted = pieces(cat)
    for piece in wanted:
        files = _files(folder, piece)
        if not cache.valid(files) or _rows(files) != int(piece.versions["rows"].sum()):
            _build(store, piece, folder)
            built += 1
        keep |= {p.name for p in files.values()}
    schema = versions_table(store, cat.iloc[:0]).schema
    whole = cache.later(
        (folder, "versions"), ("parquet", "csv.gz"), _assemble, folder, wanted, schema, keep
    )
    return LongTable(schema, whole, wanted, folder, built, len(wanted) - built, scratch)


def _assemble(folder: Path, wanted: list[Piece], schema, keep: set[str]) -> dict[str, Path]:
    """``_whole``, then the folder's files other than `keep` and the whole's deleted."""
    whole = _whole(folder, wanted, schema)
    cache.prune(folder, keep | {p.name for p in whole.values()} | {PLACED, concat.MEMOS})
    return whole


def _rows(files: dict[str, Path]) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(files["parquet"]).metadata.num_rows

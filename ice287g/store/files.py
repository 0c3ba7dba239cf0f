"""Files of the store: hashes, atomic writes, Parquet bytes. Nothing here knows what a file holds.

Every file is written to a temporary name in its folder and renamed into place, so a reader
never sees half a file and an interrupted run leaves the previous complete state.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ice287g.errors import UserError

DATA_DIR_ENV = "ICE287G_DATA_DIR"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary name in `path`'s folder for the block to write; renamed into place when
    the block ends (readable like every file of the store), removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a public dataset is readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from another on disk, from its ``stat``: device,
    inode, size, modification time (an atomic write makes a new inode)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def atomic_write(path: Path, data: bytes, sync: bool = True) -> None:
    """Write bytes under a temporary name in the same folder, then rename into place.

    With sync=False the caller promises a ``flush`` of the file before anything refers to it
    (batch writes: one flush for the batch instead of one per file).
    """
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())


# Up to this many files (a nightly refresh writes four), ``flush`` syncs each; a bigger batch
# (a backfill) is flushed with one system-wide sync, which costs less than hundreds of fsyncs
# but also flushes every other file the machine has pending (a copied store, other writes).
FLUSH_EACH_MAX = 16


def flush(paths: list[Path]) -> None:
    """Make the files at `paths` (written with ``sync=False``) durable before anything refers
    to them."""
    if len(paths) > FLUSH_EACH_MAX:
        os.sync()
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")  # 2x faster to write than zstd here
    return sink.getvalue().to_pybytes()


def atomic_write_table(path: Path, table: pa.Table, kept: pa.Schema | None = None) -> None:
    """Write `table` as a Parquet file; with `kept` (the schema it is read with), the next
    ``read_table_kept`` of these bytes returns `table` without decoding them."""
    data = parquet_bytes(table)
    atomic_write(path, data)
    if kept is not None and table.schema.equals(kept, check_metadata=True):
        _keep(sha256_bytes(data), kept, table.combine_chunks())


class StoreDamaged(UserError):
    """A file of the store that cannot be read (truncated, overwritten): one line naming it
    and the way out, never a traceback."""

    def __init__(self, path: Path, exc: BaseException, remedy: str):
        super().__init__(f"{path}: unreadable ({_first_line(exc)}); {remedy}")
        self.path = path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


REPAIR_HINT = "`ice287g repair` rebuilds it from the snapshots"


def read_table(
    path: Path,
    schema: pa.Schema,
    columns: list[str] | None = None,
    remedy: str = REPAIR_HINT,
) -> pa.Table:
    """A Parquet file of the store, or an empty table of its schema before the first write.

    Raises StoreDamaged (saying `remedy`) when the file is there but cannot be read."""
    if not path.exists():
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    return _decode(path, schema, columns, remedy, None)


def _decode(
    path: Path, schema: pa.Schema, columns: list[str] | None, remedy: str, data: bytes | None
) -> pa.Table:
    """`read_table` of `path`, or of its bytes `data` when given."""

    def source():
        return path if data is None else pa.BufferReader(data)

    want = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    try:
        with pq.ParquetFile(source()) as parquet:  # as written: a tenth of a dataset read's cost
            if parquet.schema_arrow.names == schema.names:
                table = parquet.read(columns=columns)
                if table.schema.equals(want):
                    return table
                try:  # the same columns in another unit (Parquet keeps timestamp[s] as [ms])
                    return table.cast(want)
                except (pa.ArrowException, ValueError):
                    pass
        return pq.read_table(source(), columns=columns, schema=schema)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise StoreDamaged(path, exc, remedy) from None


# Tables of `read_table_kept` (with their schema), by the hash of their file's bytes.
_KEPT_TABLES = 16
_kept: OrderedDict[str, tuple[pa.Schema, pa.Table]] = OrderedDict()


def read_table_kept(
    path: Path, schema: pa.Schema, columns: list[str] | None = None, remedy: str = REPAIR_HINT
) -> pa.Table:
    """`read_table` of a file read again and again between its rewrites (the catalog: several
    times per refresh; a year of tallies: once per commit, after the last commit wrote it):
    its bytes are read and hashed each time, and decoded only when this process has neither
    decoded nor written (``atomic_write_table(kept=)``) the same bytes before."""
    try:
        data = path.read_bytes()
    except OSError:  # not there (an empty table) or unreadable: as `read_table` says
        return read_table(path, schema, columns, remedy)
    key = sha256_bytes(data)
    kept = _kept.get(key)
    if kept is not None and kept[0] is schema:
        _kept.move_to_end(key)
        table = kept[1]
    else:
        table = _decode(path, schema, None, remedy, data)
        _keep(key, schema, table)
    return table.select(columns) if columns else table


def _keep(key: str, schema: pa.Schema, table: pa.Table) -> None:
    _kept[key] = (schema, table)
    _kept.move_to_end(key)
    if len(_kept) > _KEPT_TABLES:
        _kept.popitem(last=False)


ERRORS_LOG = "logs/errors.log"


def log_error(root: Path, what: str, details: str) -> str:
    """Append an unexpected error's traceback to the store's error log (never the screen);
    returns the log's path as the user should see it."""
    from datetime import UTC, datetime

    path = Path(root) / ERRORS_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"--- {stamp} {what}\n{details.rstrip()}\n")
    return str(path)

"""The database's long table (``rows``, ``version_rows``) kept as derived state under
``<data_dir>/derived/publish/database/`` and appended to, so a new version costs its own
rows, not every version's.

- ``versions.db``: a SQLite database of those tables only; ``data/ice287g.db`` starts as a
  copy of it (``database.write_database`` adds the other tables).
- ``state.json``, written last: the code it was built by, the versions it holds (sha256 and
  snapshot sha256, in id order) and the size and modification time of ``versions.db`` as
  written. A state that does not match (other code, a version gone or changed, a file
  touched since) means the database is built again from nothing, never trusted.

Ids are stable under appends: a version's id (``catalog.id``, ``version_rows.version_id``) is
its place in the order the store took the versions in (``ingested_at``, then list, date,
seq, sha256: facts of a version that never change), so a new version, even one published
before the others (a Wayback import), takes the next id; a distinct row's id
(``rows.id``) is the order of its first appearance in that order. A build from nothing
gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ice287g.store.files import atomic_write

FORMAT = "publish-database-1"
FOLDER = Path("derived") / "publish" / "database"
BASE = "versions.db"
STATE = "state.json"
# Columns of the long table that belong to the version, not to the row.
PER_VERSION = ("date", "seq", "sha256", "suspect", "row")


def version_order(cat: pd.DataFrame) -> pd.DataFrame:
    """The catalog in id order: the order the store took the versions in."""
    return cat.sort_values(["ingested_at", "list", "date", "seq", "sha256"]).reset_index(drop=True)


def _code_digest() -> str:
    import ice287g.publish.database as database
    from ice287g.publish import pieces

    h = hashlib.sha256(f"{FORMAT} {pieces._code_digest()}".encode())  # the rows' shape
    for module in (database,):
        h.update(Path(module.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _folder(store) -> tuple[Path, object]:
    """The cache folder under the store; a temporary one when the store is read-only."""
    folder = store.root / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder, None
    except OSError:
        pass
    scratch = tempfile.TemporaryDirectory(prefix="ice287g-database-")
    return Path(scratch.name), scratch


def _held(folder: Path, code: str, versions: list[list[str]]) -> int | None:
    """How many of `versions` the cached database holds (a prefix of them), or None when it
    cannot be used."""
    try:
        state = json.loads((folder / STATE).read_text())
        if state["code"] != code or state["db"] != _stat(folder / BASE):
            return None
        held = state["versions"]
    except Exception:  # noqa: BLE001 - a cache is never trusted: any doubt means rebuild
        return None
    return len(held) if versions[: len(held)] == held else None


def _create(path: Path, row_types: dict) -> None:
    import sqlite_utils

    path.unlink(missing_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("pragma journal_mode = off")
    db["rows"].create({"id": int, **row_types}, pk="id")
    db.execute(
        "create table version_rows (version_id integer, row integer, row_id integer, "
        "primary key (version_id, row)) without rowid"
    )
    db.close()


def _append(path: Path, new_rows, ids: dict[str, int]) -> None:
    """Add the rows of new versions (a SQLite-ready Arrow table in id order, then sheet
    row): their distinct rows not yet known and their links."""
    import sqlite3

    from ice287g.publish.database import insert_rows

    conn = sqlite3.connect(path)
    try:
        conn.execute("pragma journal_mode = off")
        conn.execute("pragma synchronous = off")
        columns = [c for c in new_rows.column_names if c not in PER_VERSION]
        names = ", ".join(f"[{c}]" for c in columns)
        known = {
            tuple(r[1:]): r[0] for r in conn.execute(f"select id, {names} from rows order by id")
        }
        fresh, row_ids = [], []
        for values in zip(*(new_rows.column(c).to_pylist() for c in columns), strict=True):
            i = known.get(values)
            if i is None:
                i = known[values] = len(known)
                fresh.append((i, *values))
            row_ids.append(i)
        marks = ", ".join("?" * (len(columns) + 1))
        conn.executemany(f"insert into rows (id, {names}) values ({marks})", fresh)
        links = zip(
            [ids[s] for s in new_rows.column("sha256").to_pylist()],
            new_rows.column("row").to_pylist(),
            row_ids,
            strict=True,
        )
        insert_rows(conn, "version_rows", ["version_id", "row", "row_id"], links)
        conn.commit()
    finally:
        conn.close()


def base_database(store, cat: pd.DataFrame, rows_of, row_types: dict) -> tuple[Path, object]:
    """The cached database of the long table, brought up to `cat` (path, and a temporary
    folder to keep alive when the store cannot be written). `rows_of(versions)`: the
    SQLite-ready long table of those catalog rows, in their order; `row_types`: the rows
    table's column types."""
    folder, scratch = _folder(store)
    code = _code_digest()
    order = version_order(cat)
    versions = [list(v) for v in zip(order["sha256"], order["snapshot_sha256"], strict=True)]
    path = folder / BASE
    held = _held(folder, code, versions)
    if held is None:
        (folder / STATE).unlink(missing_ok=True)
        _create(path, row_types)
        held = 0
    if held < len(versions):
        ids = dict(zip(order["sha256"], range(len(order)), strict=True))
        _append(path, rows_of(order.iloc[held:]), ids)
    if held < len(versions) or not (folder / STATE).exists():
        state = {"code": code, "versions": versions, "db": _stat(path)}
        atomic_write(folder / STATE, json.dumps(state).encode(), sync=False)
    return path, scratch


def copy_base(base: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    shutil.copyfile(base, path)

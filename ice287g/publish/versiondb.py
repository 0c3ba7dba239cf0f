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

import json
import shutil
from pathlib import Path

import pandas as pd

from ice287g.publish import cache
from ice287g.store.files import atomic_write

FORMAT = "publish-database-1"
FOLDER = cache.ROOT / "database"
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

    # the rows' shape, the database's tables, this module
    return cache.code_digest(database, __file__, label=f"{FORMAT} {pieces._code_digest()}")


def _state(folder: Path, code: str) -> dict | None:
    """The cached database's state, or None when it cannot be used."""
    try:
        state = json.loads((folder / STATE).read_text())
        if state["code"] != code or state["db"] != cache.stat(folder / BASE):
            return None
    except Exception:  # noqa: BLE001 - a cache is never trusted: any doubt means rebuild
        return None
    return state


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


def _yearly(conn, name: str, yearly, held: list | None) -> list:
    """Bring table `name` up to `yearly` (a ``yearly.Yearly``): its rows from the first
    year whose digest changed on, in table order (so rowids run as in a build from
    nothing). `held`: the years the database has ([year, rows, digest], and the schema
    last). Returns the years it has now."""
    import sqlite_utils

    from ice287g.publish.database import _column_types, _sqlite_ready, insert_rows

    schema = str(yearly.schema)
    now = [[y, n, d] for y, _, n, d in yearly.parts] + [schema]
    if held is None or held[-1] != schema:
        db = sqlite_utils.Database(conn)
        db[name].drop(ignore=True)
        db[name].create(_column_types(_sqlite_ready(yearly.schema.empty_table())))
        held = [schema]
    old, new = held[:-1], now[:-1]
    k = 0
    while k < min(len(old), len(new)) and old[k] == new[k]:
        k += 1
    if k == len(old) == len(new):
        return now
    kept = sum(n for _, n, _ in new[:k])
    conn.execute(f"delete from [{name}] where rowid > ?", (kept,))
    rest = _sqlite_ready(yearly.rows(kept))
    rows = zip(*(c.to_pylist() for c in rest.columns), strict=True)
    insert_rows(conn, name, rest.column_names, rows)
    return now


def base_database(
    store, order: pd.DataFrame, rows_of, row_types: dict, yearly: dict
) -> tuple[Path, object]:
    """The cached database of the long table and the `yearly` tables (name ->
    ``yearly.Yearly``), brought up to the catalog in id order (`order`, ``version_order``)
    (path, and a temporary folder to keep alive when the store cannot be written).
    `rows_of(versions)`: the SQLite-ready long table of those catalog rows, in their order;
    `row_types`: the rows table's column types."""
    import sqlite3

    folder, scratch = cache.folder(store, "database")
    code = _code_digest()
    pairs = zip(order["sha256"].tolist(), order["snapshot_sha256"].tolist(), strict=True)
    versions = [list(v) for v in pairs]
    path = folder / BASE
    state = _state(folder, code)
    if state is not None and versions[: len(state["versions"])] != state["versions"]:
        state = None
    if state is None:
        (folder / STATE).unlink(missing_ok=True)
        _create(path, row_types)
        state = {"versions": [], "tables": {}}
    held = len(state["versions"])
    if held < len(versions):
        ids = dict(zip(order["sha256"].tolist(), range(len(order)), strict=True))
        _append(path, rows_of(order.iloc[held:]), ids)
    conn = sqlite3.connect(path)
    try:
        conn.execute("pragma journal_mode = off")
        conn.execute("pragma synchronous = off")
        tables = {n: _yearly(conn, n, y, state["tables"].get(n)) for n, y in yearly.items()}
        conn.commit()
    finally:
        conn.close()
    fresh = {"code": code, "versions": versions, "tables": tables, "db": cache.stat(path)}
    if fresh != state:
        atomic_write(folder / STATE, json.dumps(fresh).encode(), sync=False)
    return path, scratch


def copy_base(base: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    shutil.copyfile(base, path)

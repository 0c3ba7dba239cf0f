"""``data/ice287g.db``: the published tables in one SQLite database ready for Datasette, with
full-text search on agency names and a ``metadata.json`` (descriptions, license, source,
canned queries).

Built with sqlite-utils (FTS5 tables the way Datasette detects them). The long table of
every version is stored once per distinct row: ``rows`` holds each distinct row,
``version_rows`` says which version lists it at which sheet row, and the view ``versions``
joins them back into the same columns as ``versions.parquet`` (a few MB instead of a
hundred).
"""

from __future__ import annotations

from pathlib import Path

from ice287g.publish import versiondb
from ice287g.publish.files import LICENSE, PACKAGE_DESCRIPTION, PACKAGE_TITLE, SOURCE_TITLE
from ice287g.publish.tables import Table
from ice287g.publish.versiondb import PER_VERSION
from ice287g.query.export import flat_lists
from ice287g.store.files import atomic_file
from scrapers.discover import DEFAULT_SOURCE

DATABASE = "ice287g.db"
DATABASE_NAME = DATABASE.removesuffix(".db")  # Datasette names a database by its file stem
# Tables whose agency names (and counties) are searchable.
FULL_TEXT = {
    "agreements": ["agency", "names", "county", "state"],
    "participating_latest": ["agency", "county", "state"],
    "pending_latest": ["agency", "county", "state"],
    "rows": ["agency", "county", "state"],
}
# The version of a list in effect on a date: its last non-suspect version on or before it.
_IN_EFFECT = (
    "select id from catalog where list = :list and date <= :date and not suspect "
    "order by date desc, seq desc limit 1"
)
QUERIES = {
    "list_on_date": {
        "title": "The list in effect on a date",
        "description": "Rows of the version of a list (participating or pending) in effect on "
        "a date (YYYY-MM-DD): its last non-suspect version published on or before it.",
        "sql": "select r.state, r.agency, r.agency_type, r.county, r.model, r.signed, "
        "r.moa_url, r.agreement_id, c.date as version_date, c.sha256 "
        "from version_rows vr join rows r on r.id = vr.row_id "
        "join catalog c on c.id = vr.version_id "
        f"where vr.version_id = ({_IN_EFFECT}) order by vr.row",
    },
    "counts_on_date": {
        "title": "Agreements by model on a date",
        "description": "Rows per support model of the version in effect on a date.",
        "sql": "select r.model, count(*) as count from version_rows vr "
        "join rows r on r.id = vr.row_id "
        f"where vr.version_id = ({_IN_EFFECT}) group by r.model order by r.model",
    },
    "changes_between": {
        "title": "Changes between two dates",
        "description": "Every change of the change log after the first date (YYYY-MM-DD) up "
        "to and including the second, in resolved identities: agreements listed, removed, "
        "returned, renamed, re-signed, MOAs posted, ..., with the field and its values "
        "before and after.",
        "sql": "select date, list, event, state, agency, model, field, before, after, "
        "agreement_id from changes where date > :since and date <= :until "
        "and date > (select min(date) from changes c0 where c0.list = changes.list) "
        "order by date, list, seq, state, agency",
    },
    "agency_history": {
        "title": "One agency's history",
        "description": "The change log of the agencies whose name matches the search "
        "(full-text: words of the name, e.g. `taylor sheriff`).",
        "sql": "select c.date, c.list, c.event, c.state, c.agency, c.model, c.field, c.before, "
        "c.after from changes c where c.agency_id in (select a.agency_id from "
        "agreements a join agreements_fts f on f.rowid = a.rowid where agreements_fts "
        "match :search) order by c.agency_id, c.date, c.seq",
    },
}
EXTRA_TABLES = {
    "rows": "Every distinct row of every version (the long table stored once per distinct "
    "row); `id` is referenced by `version_rows`, numbered in order of first appearance as "
    "the versions were taken in (stable: a new version never renumbers one).",
    "version_rows": "Which version (`catalog.id`: the order in which the store took the "
    "versions in, stable as versions are added) lists which distinct row (`rows.id`) at "
    "which sheet row.",
    "versions": "View: every version, one long table (the same columns as versions.parquet).",
}


def _sqlite_ready(table):
    """Lists `;`-joined, dates and timestamps as ISO text, booleans as 0/1."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = flat_lists(table)
    for i, field in enumerate(table.schema):
        col = table.column(i)
        if pa.types.is_timestamp(field.type):
            col = pc.strftime(col, "%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_date(field.type):
            col = pc.cast(col, pa.string())
        elif pa.types.is_boolean(field.type):
            col = pc.cast(col, pa.int8())
        else:
            continue
        table = table.set_column(i, pa.field(field.name, col.type), col)
    return table


def _column_types(table) -> dict[str, type]:
    import pyarrow as pa

    out = {}
    for f in table.schema:
        if pa.types.is_integer(f.type) or pa.types.is_boolean(f.type):
            out[f.name] = int
        elif pa.types.is_floating(f.type):
            out[f.name] = float
        else:
            out[f.name] = str
    return out


def _insert(db, name: str, table, pk: str | None = None) -> None:
    table = _sqlite_ready(table)
    db[name].create(_column_types(table), pk=pk)
    insert_rows(
        db.conn, name, table.column_names, zip(*(c.to_pylist() for c in table.columns), strict=True)
    )


def insert_rows(conn, name: str, columns: list[str], rows) -> None:
    """Tuples straight to SQLite (sqlite-utils' insert_all builds a dict and a statement
    per batch: 10x slower)."""
    names = ", ".join(f"[{c}]" for c in columns)
    marks = ", ".join("?" * len(columns))
    conn.executemany(f"insert into [{name}] ({names}) values ({marks})", rows)
    conn.commit()


def write_database(path: Path, tables: list[Table], store, cat, long, inputs: list[str]):
    """The database at `path` (a link to it in the cache): a copy of the long table's
    cached database (``versiondb``) with the other tables, their search indexes and the
    view ``versions`` added. Kept under ``derived/publish/published/`` by a key of the
    cached database's state, this code and `inputs` (digests of what the other tables are
    made from), so an unchanged store publishes the same file without building it.
    Returns ``{"db": path}``. The cached database is brought up to date here; a database
    to build is copied from it, filled, hashed and linked in a background thread of the
    build (``cache.later``: tens of MB copied at ten years, while the page is built), and
    reading ``["db"]`` waits for it."""
    import hashlib

    from ice287g.publish import cache
    from ice287g.publish.files import link

    folder, scratch = cache.folder(store, "published")
    cache.settle((folder, "db"))  # the last build done with the cached database it copies
    base_scratch = None
    try:
        schema = long.schema
        row_columns = [c for c in schema.names if c not in PER_VERSION]
        order = versiondb.version_order(cat)
        base, base_scratch = versiondb.base_database(
            store,
            order,
            lambda versions: _sqlite_ready(long.rows_of(versions)),
            _column_types(_sqlite_ready(schema.empty_table().select(row_columns))),
            {t.name: t.yearly for t in tables if t.yearly is not None},
        )
        state = (base.parent / versiondb.STATE).read_bytes()
        code = cache.code_digest(__file__).encode()
        key = hashlib.sha256(code + state + "\n".join(inputs).encode()).hexdigest()
        stem = f"{DATABASE_NAME}-{key[:16]}"
        files = {"db": folder / f"{stem}.db", "json": folder / f"{stem}.json"}
        if cache.valid(files):
            link(files["db"], path)
            return {"db": path}
        build = (files, base, tables, order["sha256"].tolist(), row_columns, folder, path)
        if scratch is None and base_scratch is None:
            return cache.later((folder, "db"), ("db",), _build, *build)
        return _build(*build)  # before the temporary folders go
    finally:
        for s in (base_scratch, scratch):
            if s is not None:
                s.cleanup()


def _build(files: dict[str, Path], base: Path, tables, ids: list[str], row_columns, folder, path):
    """Copy the cached database `base`, fill it (``_fill``), record it (its sha256), delete
    the ones it replaces and link it at `path`. `ids`: the catalog's sha256 in id order."""
    from ice287g.publish import cache
    from ice287g.publish.files import link

    with atomic_file(files["db"]) as tmp:
        versiondb.copy_base(base, tmp)
        _fill(tmp, tables, ids, row_columns)
    cache.record(files, {"db": cache.sha256_file(files["db"])})
    cache.prune(folder, {p.name for p in files.values()}, f"{DATABASE_NAME}-*")
    link(files["db"], path)
    return {"db": path}


def _fill(path: Path, tables: list[Table], ids: list[str], row_columns: list[str]) -> None:
    """Add to the copy of the long table's database the other tables, the view
    ``versions`` and the search indexes; `ids`: the catalog's sha256 in id order
    (``versiondb.version_order``)."""
    import pyarrow as pa
    import sqlite_utils

    by_name = {t.name: t for t in tables}
    db = sqlite_utils.Database(path)
    # A file built beside its cached name: no journal, no fsync per batch.
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    try:
        number = dict(zip(ids, range(len(ids)), strict=True))
        catalog = by_name["catalog"].table
        numbered = catalog.add_column(
            0, "id", pa.array([number[s] for s in catalog.column("sha256").to_pylist()], pa.int32())
        ).sort_by("id")
        _insert(db, "catalog", numbered, "id")
        for t in tables:
            if t.name not in ("versions", "catalog") and t.yearly is None:
                _insert(db, t.name, t.table)
        select = ", ".join(
            ["c.list", "c.date", "c.seq", "c.sha256", "c.suspect", "vr.row"]
            + [f"r.{c}" for c in row_columns if c != "list"]
        )
        db.create_view(
            "versions",
            f"select {select} from version_rows vr join catalog c on c.id = vr.version_id "
            "join rows r on r.id = vr.row_id",
        )
        for name, columns in FULL_TEXT.items():
            if name in db.table_names():
                db[name].enable_fts(columns, fts_version="FTS5", create_triggers=False)
    finally:
        db.close()


def datasette_metadata(tables: list[Table], homepage: str | None = None) -> dict:
    """Datasette's ``metadata.json``: title, license, source, every table and column
    described, and the canned queries."""
    described = {
        t.name: {"title": t.title, "description": t.description, "columns": t.fields}
        for t in tables
        if t.name != "versions"
    }
    versions = next((t for t in tables if t.name == "versions"), None)
    for name, text in EXTRA_TABLES.items():
        described[name] = {"description": text}
    if versions is not None:
        described["versions"]["columns"] = versions.fields
        described["rows"]["columns"] = {
            "id": "Distinct row id",
            **{c: versions.fields[c] for c in versions.table.column_names if c not in PER_VERSION},
        }
    return {
        "title": PACKAGE_TITLE,
        "description": PACKAGE_DESCRIPTION,
        "license": LICENSE["title"],
        "license_url": LICENSE["path"],
        "source": SOURCE_TITLE,
        "source_url": DEFAULT_SOURCE,
        **({"about": "ice287g", "about_url": homepage} if homepage else {}),
        "databases": {
            DATABASE_NAME: {
                "description": PACKAGE_DESCRIPTION,
                "tables": described,
                "queries": QUERIES,
            }
        },
    }

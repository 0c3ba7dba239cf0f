"""The two ledgers of the store: what was observed and what was attempted, one row each.

- ``PUBLICATIONS``: every observation of a workbook URL. A version (a distinct workbook) can
  be observed many times: ICE re-serves the same bytes under new dated names, the nightly run
  sees an unchanged file, a download is blocked. The ledger keeps all of them, so "when was
  this list on the page, under which name" stays answerable, while the catalog keeps one row
  per version.
- ``MOA_LEDGER``: every download attempt of a signed MOA or addendum PDF. A URL counts as done
  once the ledger shows it stored and its PDF is in ``raw/``.

One mechanism serves both (:class:`Ledger`): rows are only ever added. Each append is one
small Parquet part file, ``<name>/<seq>.parquet``, written atomically under the store lock,
so history is never rewritten; a reader reads the parts in append order as one table. A
store from before the folder layout keeps its single ``<name>.parquet`` file, which is read
first and never rewritten.

The ``outcome`` column says what became of an observation or attempt; its words are in
:mod:`ice287g.store.outcomes` (re-exported here).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ice287g.store.catalog import Store
from ice287g.store.files import atomic_write_table, read_table, stamp
from ice287g.store.outcomes import (  # noqa: F401 (the vocabulary, re-exported)
    ALREADY_STORED,
    BLOCKED,
    DEAD_OUTCOMES,
    DONE_OUTCOMES,
    FAILED,
    MOA_OUTCOMES,
    NEW_VERSION,
    NOT_FOUND,
    NOT_MODIFIED,
    OUTCOMES,
    REFUSED,
    SAME_BYTES,
    STORED,
)

Fields = list[tuple[str, pa.DataType, str]]
# A ledger is a record of what happened, not derived: nothing can rebuild a lost part file.
LEDGER_HINT = "a ledger is a record, not derived: restore this part file from a backup"

# Part files are never rewritten (an append writes a new one under a new name, atomically),
# so a part read once is kept, keyed by what identifies the file on disk: a refresh reads the
# ledger once per link, and a year of nightly parts then costs a `stat` each, not a Parquet
# read each. A file replaced or changed in place (a restore, damage) has a new key. The
# parts of a ledger as last read are also kept joined into one table, so a read whose parts
# begin with those reads and joins only the parts appended since.
_PARTS_KEPT = 8192
_parts: OrderedDict[tuple, pa.Table] = OrderedDict()
_JOINED_KEPT = 64
_joined: OrderedDict[str, tuple[tuple, pa.Table]] = OrderedDict()


def _part_key(path: str) -> tuple | None:
    """What identifies the file at `path` on disk (None when it is not there)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (path, *stamp(st))


def _part_keys(legacy: str, folder: str) -> tuple:
    """What identifies the `legacy` file and each part file in `folder` on disk, in append
    order (files not there are left out)."""
    keys = [key for key in (_part_key(legacy),) if key]
    try:
        with os.scandir(folder) as listing:  # one pass: names, and a `stat` each
            entries = sorted(
                (e.name, e) for e in listing if e.name.endswith(".parquet") and e.name[0] != "."
            )
    except (FileNotFoundError, NotADirectoryError):
        entries = []
    for _, entry in entries:
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        keys.append((entry.path, *stamp(st)))
    return tuple(keys)


def _read_part(key: tuple, schema: pa.Schema) -> pa.Table:
    table = _parts.get(key)
    if table is None:
        table = read_table(Path(key[0]), schema, remedy=LEDGER_HINT)
    _keep_part(key, table)
    return table


def _keep_part(key: tuple, table: pa.Table) -> None:
    _parts[key] = table
    _parts.move_to_end(key)
    if len(_parts) > _PARTS_KEPT:
        _parts.popitem(last=False)


def _joined_parts(folder: str, keys: tuple, schema: pa.Schema) -> pa.Table:
    """The parts of `keys` (in order) as one table."""
    seen, table = _joined.pop(folder, ((), None))
    if table is None or keys[: len(seen)] != seen:
        seen, table = (), schema.empty_table()
    added = [_read_part(key, schema) for key in keys[len(seen) :]]
    if added:
        table = pa.concat_tables([table, *added]).combine_chunks()
    _joined[folder] = (keys, table)
    if len(_joined) > _JOINED_KEPT:
        _joined.popitem(last=False)
    return table


class Ledger:
    """An append-only table of the store, kept as part files under ``<root>/<name>/``."""

    def __init__(self, name: str, fields: Fields):
        self.name = name
        self.fields = fields
        self.schema = pa.schema([pa.field(n, t) for n, t, _ in fields])

    def legacy_path(self, store: Store) -> Path:
        """The single file of a store written before part files (read, never rewritten)."""
        return store.root / f"{self.name}.parquet"

    def folder(self, store: Store) -> Path:
        return store.root / self.name

    def parts(self, store: Store) -> list[Path]:
        folder = self.folder(store)
        return [folder / n for n in self._part_names(folder)]

    @staticmethod
    def _part_names(folder: Path) -> list[str]:
        try:
            names = os.listdir(folder)  # a plain listing: a refresh asks once per link
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if n.endswith(".parquet") and n[0] != ".")

    def read(self, store: Store, columns: list[str] | None = None) -> pa.Table:
        """Every row so far, in append order (an empty table before the first append)."""
        folder = str(self.folder(store))
        keys = _part_keys(str(self.legacy_path(store)), folder)
        table = _joined_parts(folder, keys, self.schema)
        return table.select(columns) if columns else table

    def append(self, store: Store, rows: list[dict]) -> None:
        """Add rows as one new part file (call with the store lock held).

        Missing fields are null; timestamps lose their microseconds.
        """
        if not rows:
            return
        complete = [{name: row.get(name) for name in self.schema.names} for row in rows]
        for row in complete:
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = value.replace(microsecond=0)
        names = self._part_names(self.folder(store))
        seq = int(names[-1][: -len(".parquet")]) + 1 if names else 1
        table = pa.Table.from_pylist(complete, self.schema)
        path = self.folder(store) / f"{seq:09d}.parquet"
        atomic_write_table(path, table)
        key = _part_key(str(path))
        if key:  # kept as written: the next read of the ledger does not decode it
            _keep_part(key, table)

    def paths(self, store: Store) -> list[Path]:
        """What holds this ledger on disk (for copying a store)."""
        return [p for p in (self.legacy_path(store), self.folder(store)) if p.exists()]


PUBLICATIONS = Ledger(
    "publications",
    [
        ("fetched_at", pa.timestamp("s", tz="UTC"), "When the observation was made (UTC)"),
        ("source", pa.string(), "`live` (ICE's page), `wayback` (an archive capture), `page`"),
        ("url", pa.string(), "URL requested"),
        ("final_url", pa.string(), "URL after redirects"),
        ("file_name", pa.string(), "File name as published"),
        ("list_hint", pa.string(), "List the link claimed to be (the content decides)"),
        ("http_status", pa.int32(), "HTTP status of the last response"),
        ("etag", pa.string(), "ETag header"),
        ("last_modified", pa.string(), "Last-Modified header"),
        ("sha256", pa.string(), "SHA-256 of the workbook bytes (known versions for 304s)"),
        ("bytes", pa.int64(), "Body bytes received"),
        ("outcome", pa.string(), "new version / same bytes / not modified / blocked / failed"),
        ("list", pa.string(), "List of the version (decided by its content, name and link)"),
        ("version_date", pa.date32(), "Publication date of the version"),
        ("error", pa.string(), "What went wrong, naming the URL"),
        ("captured_at", pa.timestamp("s", tz="UTC"), "Archive capture time (wayback only)"),
        ("link_text", pa.string(), "Text of the page link the file was found under"),
    ],
)

MOA_LEDGER = Ledger(
    "moa_ledger",
    [
        ("fetched_at", pa.timestamp("s", tz="UTC"), "When the attempt was made (UTC)"),
        ("url", pa.string(), "URL as ICE's workbook links it (joins `moa_url`, `addendum_url`)"),
        ("final_url", pa.string(), "URL last requested: after a `--mirror` rewrite and redirects"),
        ("http_status", pa.int32(), "HTTP status of the last response; empty when there was none"),
        ("sha256", pa.string(), "SHA-256 of the PDF (`stored` and `already stored` only)"),
        ("bytes", pa.int64(), "Body bytes received (also when the body was rejected)"),
        (
            "outcome",
            pa.string(),
            "`stored`, `already stored`, `not found`, `blocked`, `failed`, `refused`",
        ),
        ("error", pa.string(), "What went wrong, naming the URL"),
    ],
)
LEDGERS = (PUBLICATIONS, MOA_LEDGER)


# --- publications: conditional GET ----------------------------------------------------------
def validators(store: Store, url: str, known_shas: set[str]) -> tuple[str | None, str | None]:
    """(etag, last_modified) of the newest successful observation of `url` whose bytes the
    store still holds; (None, None) when there is none, so the next fetch is unconditional."""
    for row in reversed(_observations_of(store, url)):
        if row["outcome"] not in (NEW_VERSION, SAME_BYTES, NOT_MODIFIED):
            continue
        if row["sha256"] in known_shas:
            return row["etag"], row["last_modified"]
        return None, None
    return None, None


def sha_for_validators(
    store: Store, url: str, etag: str | None, last_modified: str | None
) -> str | None:
    """The bytes a 304 refers to: those of the observation that gave these validators."""
    for row in reversed(_observations_of(store, url)):
        if row["sha256"] and row["etag"] == etag and row["last_modified"] == last_modified:
            return row["sha256"]
    return None


def _observations_of(store: Store, url: str) -> list[dict]:
    """The publications rows of `url`, in append order (the columns the validators need)."""
    table = PUBLICATIONS.read(store, ["url", "outcome", "sha256", "etag", "last_modified"])
    return table.filter(pc.equal(table["url"], url)).to_pylist()


# --- MOA ledger: what is done ---------------------------------------------------------------
def stored_urls(store: Store) -> dict[str, str]:
    """URL -> sha256 of every URL whose PDF is stored (newest stored attempt wins).

    Only these count as done: a URL whose PDF went missing from ``raw/`` is fetched again.
    """
    ledger = MOA_LEDGER.read(store, ["url", "sha256", "outcome"]).to_pylist()
    out: dict[str, str] = {}
    for row in ledger:
        if row["outcome"] in DONE_OUTCOMES and row["sha256"]:
            out[row["url"]] = row["sha256"]
    return {url: sha for url, sha in out.items() if store.raw_path(sha, "pdf").exists()}


def last_attempts(store: Store) -> dict[str, dict]:
    """URL -> its newest MOA ledger row."""
    return {row["url"]: row for row in MOA_LEDGER.read(store).to_pylist()}

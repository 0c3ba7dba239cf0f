"""The tables that grow by the day (``changes``, ``daily_counts``: in date order) published
at the cost of the years that changed, as derived state under
``<data_dir>/derived/publish/tables/``.

Each table is cut by calendar year; a year's *digest* hashes the table's schema, the code
that writes it, and its rows: the digest of the year's content that the table's maker keeps
(``changes``: the identity's hashes of its events, ``events.year_digests``; ``daily_counts``:
the key of the versions each year counts), or else the rows' Arrow IPC bytes. Cached:

- ``<name>-<year>-<digest>.csv`` and ``.parquet`` (+ ``.json``, their record): the year's
  rows as CSV without a header and as Parquet, written once;
- ``<name>-<key>.parquet`` and ``<name>-<key>.csv`` (+ ``.json``), ``key`` hashing every
  year's digest: the whole table, the CSV being the header followed by each year's rows
  (byte for byte what one CSV writer call gives), the Parquet file the years' row groups
  under one footer (``rowgroups.layout``, each year's as placed kept in
  ``placed-<name>/``: no value decoded or encoded again).

So a publish with nothing new writes neither file, and a new version writes one year's
files (and the whole ones, whose earlier years are copied by the kernel and not hashed
again: ``concat``, its memos in ``hashes/``); the whole table's files are made in the
background threads of the build (``cache.later``). Files of another key are deleted; a file
that does not match its record is rebuilt, never trusted (``cache``). The database keeps
the same years (``versiondb``): a year whose digest changed is written again from that
year on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ice287g.arrow import year_runs
from ice287g.publish import cache
from ice287g.query.export import csv_bytes
from ice287g.store.files import parquet_bytes

FORMAT = "publish-yearly-4"
YEARLY = ("changes", "daily_counts")


@dataclass
class Yearly:
    """A table cut by year: ``parts`` (year, first row, rows, digest) in table order and
    its files in the cache."""

    table: object  # pyarrow.Table, as its maker keeps it
    schema: object  # pyarrow.Schema, as published (``published``)
    parts: list[tuple[int, int, int, str]]
    files: cache.Later  # "parquet", "csv": the whole table
    scratch: object = None  # the temporary folder of a read-only store's files

    def rows(self, first: int = 0):
        """The table's rows from row `first` on, as published."""
        return published(self.table.slice(first), self.schema)


def published(table, schema):
    """`table`'s rows as published: cast to `schema` (the change log keeps its text
    dictionary-encoded, ``tables.change_log``); the table itself when it has it already."""
    return table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)


def _code_digest(schema) -> str:
    import pyarrow

    import ice287g.query.export.files as export_files
    import ice287g.safetext as safetext

    label = f"{FORMAT} pyarrow {pyarrow.__version__} {schema}"
    return cache.code_digest(export_files, safetext, __file__, label=label)


def _digest(table, code: str) -> str:
    """A digest of `table`'s rows (a slice of a bigger table): Arrow IPC bytes of a copy of
    them, since the IPC of a slice pads its buffers with the bytes of the rows after it,
    and a year's digest must not change with the next year's rows."""
    import pyarrow as pa

    # Joined to an empty table, the rows are copied into buffers of their own (a test
    # checks that a year's digest does not change with the rows after it).
    rows = pa.concat_tables([table, table.schema.empty_table()]).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    h = hashlib.sha256(code.encode())
    h.update(sink.getvalue())  # the Arrow buffer itself: no copy into Python bytes
    return h.hexdigest()


def parts(table) -> list[tuple[int, int, int, str]]:
    """(year, first row, rows, digest) of each calendar year of `table` (in date order)."""
    code = _code_digest(table.schema) if table.num_rows else ""
    return [
        (y, a, n, _digest(table.slice(a, n), code)) for y, a, n in year_runs(table.column("date"))
    ]


def _given(schema, table, years: dict[int, str]) -> list[tuple[int, int, int, str]]:
    """``parts`` from a digest of each year's content that the caller already has."""
    code = _code_digest(schema)
    return [
        (y, a, n, hashlib.sha256(f"{code}\n{years[y]}".encode()).hexdigest())
        for y, a, n in year_runs(table.column("date"))
    ]


def cached(store, name: str, table, years: dict[int, str] | None = None, schema=None) -> Yearly:
    """`table`'s files, from the cache where its years are current. `years`: a digest of
    each year's content, when the caller keeps them (the identity's hashes of its events,
    the keys of the daily counts' years): then no row is hashed here. `schema`: the
    schema its rows are published with (``published``; by default its own)."""
    folder, scratch = cache.folder(store, "tables")
    cache.settle((folder, name))  # the files of `name` as the last call left them
    schema = table.schema if schema is None else schema
    table = published(table, schema) if years is None else table
    made = parts(table) if years is None else _given(schema, table, years)
    names: set[str] = set()
    year_files = []
    for year, first, rows, digest in made:
        stem = f"{name}-{year}-{digest[:16]}"
        files = {ext: folder / f"{stem}.{ext}" for ext in ("csv", "parquet", "json")}
        if not cache.valid(files):
            part = published(table.slice(first, rows), schema)
            data = {"csv": csv_bytes(part, header=False), "parquet": parquet_bytes(part)}
            cache.write(files, data)
        names |= {p.name for p in files.values()}
        year_files.append(files)
    key = hashlib.sha256(
        "\n".join([_code_digest(schema), *(d for *_, d in made)]).encode()
    ).hexdigest()
    whole = {ext: folder / f"{name}-{key[:16]}.{ext}" for ext in ("parquet", "csv", "json")}
    names |= {p.name for p in whole.values()}
    cut = Yearly(table, schema, made, None, scratch)
    cut.files = cache.later(
        (folder, name), ("parquet", "csv"), _whole, folder, name, cut, year_files, whole, names
    )
    return cut


def _whole(folder: Path, name: str, cut: Yearly, years: list[dict], whole: dict, names: set[str]):
    """The whole table's files (the Parquet file the `years`' row groups joined, the CSV
    the header and the years' rows), from the cache when valid; then the files of `name`
    other than `names` deleted. Run in a background thread of the build (``cache.later``)."""
    if not cache.valid(whole):
        cache.whole_table(
            whole,
            name,
            [y["parquet"] for y in years],
            folder / f"placed-{name}",
            lambda: parquet_bytes(cut.rows()),
            csv_bytes(cut.schema.empty_table()),
            [y["csv"] for y in years],
        )
    cache.prune(folder, names, f"{name}-*")
    return {"parquet": whole["parquet"], "csv": whole["csv"]}

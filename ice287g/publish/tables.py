"""The tables the site publishes under ``data/``, each built by ONE function.

``change_log`` and ``agreements`` read the store's resolved identity
(``ice287g.query.identity``: renames are not terminations, every agreement has a life
story). They are the only two places that know where the history comes from; the files,
the database, the feed and the page follow them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ice287g.arrow import dataframe, ipc_bytes, read_ipc
from ice287g.publish import cache, yearly
from ice287g.query.export import VERSION_COLUMNS, table_from_pandas
from ice287g.query.history import AGREEMENT_FIELDS, EVENT_FIELDS
from ice287g.query.identity import cache_key, load
from ice287g.query.versions import LISTS, counts, select_versions, version_on
from ice287g.schema import CATALOG_FIELDS, SNAPSHOT_FIELDS

# (name, type, description) of each table's columns.
# The catalog as published: store paths (snapshot, raw) mean nothing outside the store.
STORE_ONLY = ("snapshot", "raw")
CHANGE_FIELDS = EVENT_FIELDS
DAILY_COUNT_FIELDS: list[tuple[str, str, str]] = [
    ("date", "date", "Publication date (the day's last non-suspect version)"),
    ("list", "string", "`participating` or `pending`"),
    ("sha256", "string", "SHA-256 of the version counted"),
    ("state", "string", "USPS state code (empty: not given)"),
    ("model", "string", "Support model (empty: not given)"),
    ("count", "integer", "Rows of that state and model in that version, as ICE lists them"),
]


@dataclass(frozen=True)
class Table:
    """One published table: its file stem, what it is, its rows and column descriptions."""

    name: str
    title: str
    description: str
    table: object  # pyarrow.Table
    fields: dict[str, str]
    # Files of the table found in the cache ("parquet", "csv.gz" -> path), published as
    # they are; then ``table`` need only hold the schema.
    cached: Mapping = field(default_factory=dict)
    yearly: object = None  # a table cut by year (``yearly.Yearly``): its files are cached


def change_log(store, ident=None):
    """The life story of every agreement (listed, renamed, moa_posted, re_signed, changed,
    model_added, model_switched, removed, returned) between consecutive non-suspect
    versions of each list, as Arrow: the identity's own event table, its text
    dictionary-encoded as kept (``events.EVENT_SCHEMA``); `ident`: the store's identity
    when already loaded. Its rows are cast to the published schema (``change_schema``)
    only where they are written out (``yearly.published``): a new version casts its year,
    not ten years of events."""
    return (load(store) if ident is None else ident).events_arrow()


def change_schema(changes):
    """The change log's schema as published (``CHANGE_FIELDS``: text as plain strings),
    with the pandas metadata ``_arrow`` gives its DataFrame, so the bytes are the same
    either way (a test holds them to it)."""
    return _arrow(dataframe(changes.slice(0, 0)), CHANGE_FIELDS).schema


def agreements(store, ident=None) -> pd.DataFrame:
    """One record per agreement ever on the participating list, with its life story
    (columns ``AGREEMENT_FIELDS``)."""
    return (load(store) if ident is None else ident).agreements()


def daily_counts(store, since=None, until=None) -> pd.DataFrame:
    """Rows per list, day, state and model (the day's last non-suspect version)."""
    return counts(by=["state", "model"], since=since, until=until, data_dir=store)


def daily_table(store, cat: pd.DataFrame):
    """``daily_counts`` as Arrow (``DAILY_COUNT_FIELDS``) and the key of each calendar year
    (year -> key). A year's rows are cached under ``derived/publish/tables/`` by a key of
    the versions it counts (a version's tallies are written once), as an Arrow IPC file
    read back by mapping it (``arrow.read_ipc``): only a year whose versions changed is
    counted again, and the other years cost no decoding."""
    import pyarrow as pa

    folder, scratch = cache.folder(store, "tables")
    chosen = select_versions(cat)
    code = _code()
    parts, names, keys = [], set(), {}
    for year, part in chosen.groupby(pd.to_datetime(chosen["date"]).dt.year, sort=True):
        cols = (part[c].tolist() for c in ("list", "date", "seq", "sha256"))
        lines = [code, *(f"{lst} {day} {seq} {sha}" for lst, day, seq, sha in zip(*cols))]
        key = keys[int(year)] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
        files = {"arrow": folder / f"daily-{year}-{key}.arrow"}
        files["json"] = files["arrow"].with_suffix(".json")
        if not cache.valid(files):
            df = daily_counts(store, f"{year}-01-01", f"{year}-12-31")
            cache.write(files, {"arrow": ipc_bytes(_arrow(df, DAILY_COUNT_FIELDS))})
        parts.append(read_ipc(files["arrow"]))
        names |= {p.name for p in files.values()}
    cache.prune(folder, names, "daily-*")
    if scratch is not None:
        scratch.cleanup()
    if not parts:
        return _arrow(daily_counts(store), DAILY_COUNT_FIELDS), keys
    return pa.concat_tables(parts), keys


@dataclass(frozen=True)
class Record:
    """What the site is built from, each read once: the resolved identity (``ident``), the
    change log (``changes``, Arrow), the ``agreements`` and the daily counts (Arrow)."""

    ident: object
    key: str  # the identity's cache key (its versions, under its code)
    changes: object  # pyarrow.Table, text dictionary-encoded (``change_log``)
    agreements: pd.DataFrame
    daily_table: object  # the daily counts as Arrow (``DAILY_COUNT_FIELDS``)
    daily_years: dict[int, str]  # a key of the versions each year counts
    event_years: dict[int, str]  # a digest of each year's events (``events.year_digests``)


def record(store, cat: pd.DataFrame) -> Record:
    ident = load(store, cat=cat)
    daily, daily_years = daily_table(store, cat)
    return Record(
        ident,
        cache_key(ident.observations.versions[["list", "date", "seq", "sha256"]]),
        change_log(store, ident),
        agreements(store, ident),
        daily,
        daily_years,
        ident.event_year_digests(),
    )


def latest_versions(cat: pd.DataFrame) -> dict[str, pd.Series]:
    """The newest non-suspect version of each list that has one."""
    out = {}
    for lst in LISTS:
        version = version_on(cat, lst, None, include_suspect=False)
        if version is not None:
            out[lst] = version
    return out


def _arrow(df: pd.DataFrame, fields):
    """An Arrow table of `df`, whose pandas metadata gives every text column as plain
    `object`: pandas records each column's dtype in the file, and an empty text column is
    `object` when the history is built but `str` when read from its cache, which would
    change the bytes of the same table. The metadata comes from the frame's empty head
    (converting every text column to `object` costs more than the rest of the work)."""
    text = {n: object for n, t, _ in fields if t == "string"}
    meta = table_from_pandas(df.iloc[:0].astype(text), fields).schema.metadata
    return table_from_pandas(df, fields).replace_schema_metadata(meta)


def _code() -> str:
    """A digest of this module: what its tables are built by."""
    return cache.code_digest(__file__)


def published_tables(store, cat: pd.DataFrame, long, rec: Record) -> list[Table]:
    """Every table of ``data/``, in publishing order; `long` is the long table of every
    version as cached files (``pieces.long_table``), `rec` what the rest is built from."""
    snapshot = {n: d for n, _, d in SNAPSHOT_FIELDS}
    out = []
    for lst, v in latest_versions(cat).items():
        out.append(
            Table(
                f"{lst}_latest",
                f"Newest {lst} list",
                f"ICE's {lst} list as published on {v['date']} (version #{v['seq']} of the "
                f"day, sha256 {v['sha256']}, file {v['file_name']}); suspect versions skipped.",
                store.read_snapshot(v["snapshot"]),
                snapshot,
            )
        )
    out.append(
        Table(
            "catalog",
            "Every version",
            "One record per stored version of each list: publication date, order within the "
            "day, sha256, rows, the file name, how the date was established, suspect or not.",
            store.catalog_table().drop_columns(list(STORE_ONLY)),
            {n: d for n, _, d in CATALOG_FIELDS if n not in STORE_ONLY},
        )
    )
    out.append(
        Table(
            "versions",
            "Every version, one long table",
            f"All {len(cat)} stored versions of both lists ({cat['date'].min()} to "
            f"{cat['date'].max()}), one row per row of each version; suspect versions "
            "included and marked.",
            long.schema.empty_table(),
            {**snapshot, **{n: d for n, _, d in VERSION_COLUMNS}},
            long.files,
        )
    )
    # The identity's tables convert in a few hundredths of a second even at ten years:
    # caching them would cost more in writes after each new version.
    # `years`: a digest of each year for a table cut by year; `schema`: its rows' schema as
    # published, when the table keeps them otherwise (the change log's encoded text).
    for name, title, text, table, fields, years, schema in (
        (
            "agreements",
            "Agreements and their life story",
            "One record per agreement ever on the participating list, in resolved "
            "identities: status, first and last listed, every spelling and the evidence "
            "that joined them, time on the pending list.",
            _arrow(rec.agreements, AGREEMENT_FIELDS),
            AGREEMENT_FIELDS,
            None,
            None,
        ),
        (
            "changes",
            "Change log",
            "The life story of every agreement: listed, renamed, moa_posted, re_signed, "
            "changed, model_added, model_switched, removed, returned.",
            rec.changes,
            CHANGE_FIELDS,
            rec.event_years,
            change_schema(rec.changes),
        ),
        (
            "daily_counts",
            "Daily counts by model and state",
            "Rows per list, day, state and support model (the day's last version; suspect "
            "versions skipped).",
            rec.daily_table,
            DAILY_COUNT_FIELDS,
            rec.daily_years,
            None,
        ),
    ):
        described = {n: d for n, _, d in fields}
        if name in yearly.YEARLY:
            cut = yearly.cached(store, name, table, years, schema)
            empty = cut.schema.empty_table()
            out.append(Table(name, title, text, empty, described, cut.files, cut))
        else:
            out.append(Table(name, title, text, table, described))
    return out

"""A self-describing export of the whole record: tables plus a Frictionless ``datapackage.json``.

Files (``.csv``, ``.parquet`` or ``.xlsx``, one table per file):

- ``participating_latest`` / ``pending_latest``: the newest non-suspect version of each list;
- ``versions``: every stored version of both lists as one long table, with the version's
  date, order within the day, sha256 and suspect flag on every row;
- ``agreements`` and ``agreement_events``: the agreement history in resolved identities
  (``ice287g.query.identity``);
- ``daily_counts`` and ``daily_counts_by_model``: rows per list per day (the day's last
  version, suspect versions skipped).

``datapackage.json`` follows the Data Package / Table Schema specifications (written by hand,
no library): every file with its format, size, sha256 and every column with its type and
description (taken from ``ice287g.schema`` and the history and diff field lists).

List-valued columns (``flags``, ``columns``) are `;`-joined text in CSV and XLSX, arrays in
Parquet (Table Schema type ``any``: frictionless reads them as NumPy arrays). Every resource
carries its sha256, and its size except in Parquet (frictionless cannot count those bytes).
The package carries its license: a U.S. government work, public domain.

Modules: ``tables`` (what goes in), ``files`` (one table as CSV, Parquet or XLSX), ``xlsx``
(the workbook writer), ``datapackage`` (the descriptor).
"""

from __future__ import annotations

from pathlib import Path

from ice287g.query.export.datapackage import LICENSE, frictionless_type, resource, write_descriptor
from ice287g.query.export.files import FORMATS, MEDIATYPES, csv_bytes, flat_lists, write_table
from ice287g.query.export.tables import (
    COUNT_FIELDS,
    VERSION_COLUMNS,
    snapshot_descriptions,
    table_from_pandas,
    versions_table,
)
from parsers.lists import LISTS

__all__ = [
    "COUNT_FIELDS",
    "FORMATS",
    "LICENSE",
    "MEDIATYPES",
    "VERSION_COLUMNS",
    "csv_bytes",
    "export",
    "flat_lists",
    "frictionless_type",
    "resource",
    "table_from_pandas",
    "versions_table",
]


def export(directory, format: str = "csv", data_dir=None, raw: bool = False) -> list[Path]:
    """Write every table and ``datapackage.json`` into `directory`; returns the paths.

    CSV and XLSX text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR first) get a leading ``'``; `raw` writes the exact text instead (XLSX
    cells are text cells either way, never formulas)."""

    from ice287g.query.history import AGREEMENT_FIELDS, EVENT_FIELDS
    from ice287g.query.identity import load
    from ice287g.query.versions import QueryError, catalog, counts, store_of, version_on

    if format not in FORMATS:
        raise QueryError(f"unknown export format {format!r}: use {', '.join(FORMATS)}")
    store = store_of(data_dir)
    cat = catalog(store)
    if cat.empty:
        raise QueryError(f"no versions in {store.root}: run `ice287g backfill` first")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    described = snapshot_descriptions()
    resources: list[dict] = []

    def add(name: str, table, descriptions: dict[str, str], title: str, text: str) -> None:
        path = out / f"{name}.{format}"
        write_table(table, path, format, raw)
        resources.append(resource(path, table, descriptions, title, text, format))

    # Latest versions (non-suspect).
    for lst in LISTS:
        version = version_on(cat, lst, None, include_suspect=False)
        if version is None:
            continue
        table = store.read_snapshot(version["snapshot"])
        add(
            f"{lst}_latest",
            table,
            described,
            f"Latest {lst} list",
            f"ICE's {lst} list as published on {version['date']} (version #{version['seq']} "
            f"of the day, sha256 {version['sha256']}); suspect versions skipped.",
        )
    # Every version, long.
    long = versions_table(store, cat)
    add(
        "versions",
        long,
        {**described, **{n: d for n, _, d in VERSION_COLUMNS}},
        "Every version, one long table",
        f"All {len(cat)} stored versions of both lists ({cat['date'].min()} to "
        f"{cat['date'].max()}), one row per row of each version; suspect versions included "
        "and marked.",
    )
    # History.
    ident = load(store)
    agreements, events = ident.agreements(), ident.events()
    add(
        "agreements",
        table_from_pandas(agreements, AGREEMENT_FIELDS),
        {n: d for n, _, d in AGREEMENT_FIELDS},
        "Agreement history",
        "One record per agreement ever on the participating list, rebuilt from every "
        "non-suspect version, in resolved identities (every spelling and its evidence).",
    )
    add(
        "agreement_events",
        table_from_pandas(events, EVENT_FIELDS),
        {n: d for n, _, d in EVENT_FIELDS},
        "Agreement timeline",
        "The life story of every agreement (listed, renamed, moa_posted, re_signed, "
        "model_added, model_switched, removed, returned, changed) between consecutive "
        "non-suspect versions of each list.",
    )
    # Daily counts.
    daily = counts(data_dir=store)
    add(
        "daily_counts",
        table_from_pandas(daily, COUNT_FIELDS),
        {n: d for n, _, d in COUNT_FIELDS},
        "Daily counts",
        "Rows per list per day (the day's last version; suspect versions skipped).",
    )
    by_model = counts(by=["model"], data_dir=store)
    model_fields = [
        *COUNT_FIELDS[:3],
        ("model", "string", "Support model (empty: not given)"),
        COUNT_FIELDS[3],
    ]
    add(
        "daily_counts_by_model",
        table_from_pandas(by_model, model_fields),
        {n: d for n, _, d in model_fields},
        "Daily counts by model",
        "Rows per list, day and support model (the day's last version; suspect versions skipped).",
    )
    descriptor = write_descriptor(out, resources)
    return [out / r["path"] for r in resources] + [descriptor]

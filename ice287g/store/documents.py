"""The MOA documents table: what each stored MOA or addendum PDF says, one row per URL.

``moa_documents.parquet`` is derived: it can be rebuilt from the MOA ledger and the raw PDFs
at any time (``ice287g moa read --rebuild``). Reading the PDFs is :mod:`ice287g.jobs.documents`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ice287g.store.catalog import Store
from ice287g.store.files import atomic_write_table, read_table

DOCUMENT_FIELDS: list[tuple[str, pa.DataType, str]] = [
    (
        "url",
        pa.string(),
        "URL of the MOA or addendum as ICE links it (joins `moa_url` and `addendum_url`)",
    ),
    ("sha256", pa.string(), "SHA-256 of the PDF; the bytes are `raw/<sha[:2]>/<sha>.pdf`"),
    ("pages", pa.int32(), "Page count"),
    ("has_text", pa.bool_(), "The PDF has a real text layer (text on at least half its pages)"),
    ("text_pages", pa.int32(), "Pages whose text layer holds real text"),
    (
        "model",
        pa.string(),
        "Model the text names or describes: `JEM`, `TFM`, `WSO`, `TTFM` or `unknown`",
    ),
    (
        "agency_text",
        pa.string(),
        "Agency named in the parties paragraph, as printed (OCR errors kept)",
    ),
    (
        "template_revision",
        pa.string(),
        "Template revision in the footer, as printed (e.g. `Revised 02/14/2025`)",
    ),
    ("template_date", pa.date32(), "Date of that template revision"),
    ("text", pa.string(), "Full text, pages separated by form feeds"),
    ("ocr_pages", pa.int32(), "Pages whose text came from tesseract (`--ocr`)"),
    ("error", pa.string(), "Why the PDF could not be read (the fields above are then empty)"),
    ("extracted_at", pa.timestamp("s", tz="UTC"), "When the text was extracted (UTC)"),
]
DOCUMENT_SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in DOCUMENT_FIELDS])
READING_FIELDS = [n for n in DOCUMENT_SCHEMA.names if n not in ("url", "sha256")]


def documents_path(store: Store) -> Path:
    return store.root / "moa_documents.parquet"


def read_documents(store: Store, columns: list[str] | None = None) -> pa.Table:
    """The documents table (an empty table before any PDF was read)."""
    return read_table(
        documents_path(store),
        DOCUMENT_SCHEMA,
        columns,
        remedy="`ice287g moa read --rebuild` rebuilds it from the stored PDFs",
    )


def readings_by_sha(table: pa.Table, shas: set[str]) -> dict[str, dict]:
    """Readings already in the table for these hashes (a PDF linked under a new URL)."""
    if table.num_rows == 0 or not shas:
        return {}
    rows = table.filter(pc.is_in(table["sha256"], pa.array(sorted(shas)))).to_pylist()
    return {row["sha256"]: {k: row[k] for k in READING_FIELDS} for row in rows}


def write_documents(store: Store, rows: list[dict], replace_all: bool = False) -> None:
    """Merge rows into the table (a URL's new row replaces its old one), atomically."""
    new = pa.Table.from_pylist(rows, DOCUMENT_SCHEMA)
    with store.lock():
        if replace_all:
            table = new
        else:
            current = read_documents(store)
            if current.num_rows and rows:
                urls = pa.array(sorted({r["url"] for r in rows}))
                current = current.filter(pc.invert(pc.is_in(current["url"], urls)))
            table = pa.concat_tables([current, new])
        atomic_write_table(documents_path(store), table)

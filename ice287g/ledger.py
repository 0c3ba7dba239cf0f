"""The publications ledger: every observation of a workbook URL, one row each.

A version (a distinct workbook) can be observed many times: ICE re-serves the same bytes under
new dated names, the nightly run sees an unchanged file, a download is blocked. The ledger keeps
all of them, so "when was this list on the page, under which name" stays answerable, while the
catalog keeps one row per version.
"""

from __future__ import annotations

import pyarrow as pa

from ice287g.store import Store, append_rows, read_table

# Outcomes of one observation.
NEW_VERSION = "new version"
SAME_BYTES = "same bytes"
NOT_MODIFIED = "not modified"
BLOCKED = "blocked"
FAILED = "failed"
OUTCOMES = (NEW_VERSION, SAME_BYTES, NOT_MODIFIED, BLOCKED, FAILED)

LEDGER_FIELDS: list[tuple[str, pa.DataType, str]] = [
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
]
LEDGER_SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in LEDGER_FIELDS])


def ledger_path(store: Store):
    return store.root / "publications.parquet"


def read_ledger(store: Store) -> pa.Table:
    return read_table(ledger_path(store), LEDGER_SCHEMA)


def append(store: Store, rows: list[dict]) -> None:
    """Add observations (call with the store lock held)."""
    append_rows(ledger_path(store), LEDGER_SCHEMA, rows)


def validators(store: Store, url: str, known_shas: set[str]) -> tuple[str | None, str | None]:
    """(etag, last_modified) of the newest successful observation of `url` whose bytes the
    store still holds; (None, None) when there is none, so the next fetch is unconditional."""
    rows = read_ledger(store).to_pylist()
    for row in reversed(rows):
        if row["url"] != url or row["outcome"] not in (NEW_VERSION, SAME_BYTES, NOT_MODIFIED):
            continue
        if row["sha256"] in known_shas:
            return row["etag"], row["last_modified"]
        return None, None
    return None, None


def sha_for_validators(
    store: Store, url: str, etag: str | None, last_modified: str | None
) -> str | None:
    """The bytes a 304 refers to: those of the observation that gave these validators."""
    for row in reversed(read_ledger(store).to_pylist()):
        if (
            row["url"] == url
            and row["sha256"]
            and row["etag"] == etag
            and row["last_modified"] == last_modified
        ):
            return row["sha256"]
    return None

"""Re-derive a store under today's rules.

Snapshots are immutable, so a corrected rule (a new county typo in ``rules.py``) does not
reach versions already stored. ``rebuild`` re-derives every version from its raw bytes into a
new store with the current rules, keeping each version's date as first established (the
evidence for it, such as the time a file was observed, is not in the bytes) and copying the
raw files, the ledgers and the MOA documents table as they are; the old store is left
untouched. The list is decided again, with the link text and URL each version was first
downloaded under (the publications ledger) as evidence beside its bytes and name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ice287g.errors import UserError
from ice287g.jobs.ingest import prepare, version_result
from ice287g.store import Store
from ice287g.store.documents import documents_path
from ice287g.store.ledger import LEDGERS, NEW_VERSION, PUBLICATIONS
from parsers.filename import PublicationDate, UndatableError
from parsers.workbook import WorkbookError


class RebuildError(UserError):
    """A rebuild that cannot finish (a raw file missing, a workbook today's parser refuses);
    the new directory is not created."""


def rebuild(src: Store, dst: Store) -> list[str]:
    """Re-derive every version of `src` into the new store `dst` with the current rules.

    Returns one line per version (as `backfill` prints them). Raw files and ledgers are
    copied byte for byte; dates (and the name flags that explain them) are kept. The store
    is built in a temporary directory beside `dst` and renamed into place at the end, so a
    failure leaves no half-built `dst`.
    """
    if dst.root.exists() and (not dst.root.is_dir() or any(dst.root.iterdir())):
        raise FileExistsError(
            f"{dst.root} already exists and is not empty; rebuild needs a new one"
        )
    if src.root.resolve() == dst.root.resolve():
        raise ValueError("rebuild writes a new store: give another directory")
    dst.root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{dst.root.name}.building-", dir=dst.root.parent))
    try:
        with src.lock():
            lines = _rebuild_into(src, Store(building))
        (building / ".lock").unlink(missing_ok=True)
        if dst.root.exists():
            dst.root.rmdir()  # empty, checked above
        os.replace(building, dst.root)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return lines


def _rebuild_into(src: Store, dst: Store) -> list[str]:
    lines = []
    with dst.lock():
        if (src.root / "raw").exists():
            shutil.copytree(src.root / "raw", dst.root / "raw", dirs_exist_ok=True)
        for path in [p for ledger in LEDGERS for p in ledger.paths(src)]:
            if path.is_dir():
                shutil.copytree(path, dst.root / path.name)
            else:
                shutil.copy2(path, dst.root / path.name)
        if documents_path(src).exists():
            shutil.copy2(documents_path(src), documents_path(dst))
        records, tallies = [], []
        links = _first_links(src)
        for old in src.catalog_table().to_pylist():
            name_flags = tuple(f for f in old["flags"] or [] if f.startswith("name_"))
            pub = PublicationDate(
                old["date"],
                old["date_source"],
                old["name_suffix"] or "",
                old["suffix_rank"] or 0,
                name_flags,
            )
            raw = src.root / old["raw"]
            if not raw.exists():
                raise RebuildError(
                    f"{old['raw']}: raw workbook of {old['file_name']} missing; backfill the "
                    "same file to restore it, then rebuild (nothing was written)"
                )
            link_text, url = links.get(old["sha256"], (None, None))
            try:
                prepared = prepare(
                    raw.read_bytes(),
                    old["file_name"],
                    sha=old["sha256"],
                    pub=pub,
                    link_text=link_text,
                    url=url,
                )
            except (WorkbookError, UndatableError) as exc:
                raise RebuildError(f"{exc} (nothing was written)") from None
            dst.write_snapshot(prepared.record, prepared.snapshot)
            records.append(prepared.record)
            tallies.append(prepared.tallies)
            lines.append(version_result(prepared.record).line())
        dst.commit(records, tallies)
    return lines


def _first_links(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """sha256 -> (link text, URL) of the download that first stored it (the list evidence a
    rebuild cannot find in the bytes); versions added by backfill have none."""
    out: dict[str, tuple[str | None, str | None]] = {}
    rows = PUBLICATIONS.read(store, ["sha256", "outcome", "link_text", "url"]).to_pylist()
    for row in rows:
        if row["outcome"] == NEW_VERSION and row["sha256"] not in out:
            out[row["sha256"]] = (row["link_text"], row["url"])
    return out

"""Re-derive a store under today's rules.

Snapshots are immutable, so a corrected rule (a new county typo in ``rules.py``) does not
reach versions already stored. ``rebuild`` re-derives every version from its raw bytes into a
new store with the current rules, keeping each version's date as first established (the
evidence for it, such as the time a file was observed, is not in the bytes) and copying the
raw files, the ledgers and the MOA documents table as they are; the old store is left
untouched.
"""

from __future__ import annotations

import shutil

from ice287g.jobs.ingest import FileResult, prepare
from ice287g.store import Store
from ice287g.store.documents import documents_path
from ice287g.store.ledger import LEDGERS
from parsers.filename import PublicationDate


def rebuild(src: Store, dst: Store) -> list[str]:
    """Re-derive every version of `src` into the empty store `dst` with the current rules.

    Returns one line per version (as `backfill` prints them). Raw files and ledgers are
    copied byte for byte; dates (and the name flags that explain them) are kept.
    """
    if dst.catalog_path.exists():
        raise FileExistsError(f"{dst.root} already holds a store; rebuild needs an empty one")
    if src.root.resolve() == dst.root.resolve():
        raise ValueError("rebuild writes a new store: give another directory")
    lines = []
    with src.lock(), dst.lock():
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
        for old in src.catalog_table().to_pylist():
            name_flags = tuple(f for f in old["flags"] or [] if f.startswith("name_"))
            pub = PublicationDate(
                old["date"],
                old["date_source"],
                old["name_suffix"] or "",
                old["suffix_rank"] or 0,
                name_flags,
            )
            data = (src.root / old["raw"]).read_bytes()
            prepared = prepare(data, old["file_name"], sha=old["sha256"], pub=pub)
            dst.write_snapshot(prepared.record, prepared.snapshot)
            records.append(prepared.record)
            tallies.append(prepared.tallies)
            r = prepared.record
            lines.append(
                FileResult(
                    r["file_name"], "new", r["sha256"], r["list"], r["date"].isoformat(), r["rows"]
                ).line()
            )
        dst.commit(records, tallies)
    return lines

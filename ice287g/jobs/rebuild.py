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

import shutil

from ice287g.jobs.ingest import prepare, version_result
from ice287g.store import Store
from ice287g.store.documents import documents_path
from ice287g.store.ledger import LEDGERS, NEW_VERSION, PUBLICATIONS
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
            data = (src.root / old["raw"]).read_bytes()
            link_text, url = links.get(old["sha256"], (None, None))
            prepared = prepare(
                data, old["file_name"], sha=old["sha256"], pub=pub, link_text=link_text, url=url
            )
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

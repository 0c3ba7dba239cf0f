"""Rebuild what is derived in a store from what is not: the catalog and the tallies from the
snapshots (each snapshot carries its own catalog record).

Nothing that is a record is touched: raw files, snapshots and ledgers stay byte for byte. A
raw file that has gone missing cannot be derived; backfilling the same workbook puts it back
(``ice287g.jobs.ingest``). A damaged snapshot is reported, never re-catalogued as sound.
"""

from __future__ import annotations

from ice287g.store.catalog import Store
from ice287g.store.files import StoreDamaged, sha256_bytes


def repair(store: Store) -> list[str]:
    """Rewrite catalog.parquet and the tallies from the snapshots; one line per finding."""
    lines: list[str] = []
    with store.lock():
        try:
            old = {r["sha256"]: r for r in store.catalog_table().to_pylist()}
            before = f"{len(old)} versions"
        except StoreDamaged:
            old, before = {}, "unreadable"
        records, unreadable = store.snapshot_records()
        recorded = 0
        for record in records:
            previous = old.get(record["sha256"]) or {}
            if previous.get("snapshot_sha256"):
                record["snapshot_sha256"] = previous["snapshot_sha256"]
            else:
                record["snapshot_sha256"] = sha256_bytes(
                    (store.root / record["snapshot"]).read_bytes()
                )
                recorded += 1
        store.write_derived(records, reuse_tallies=False)
        lines.append(f"catalog.parquet: rewritten from {len(records)} snapshots (was {before})")
        lines.append(f"tallies/: re-derived for {len(records)} versions")
        if recorded:
            lines.append(
                f"snapshot hashes taken from the files for {recorded} versions (no earlier "
                "record to check them against)"
            )
        for rel in unreadable:
            lines.append(f"{rel}: unreadable snapshot left out (`ice287g rebuild` re-derives)")
        for sha in sorted(set(old) - {r["sha256"] for r in records}):
            lines.append(
                f"{old[sha]['snapshot']}: snapshot missing, version {sha[:12]} left out of the "
                "catalog (`ice287g rebuild` re-derives it from its raw workbook)"
            )
        for record in records:
            if not (store.root / record["raw"]).exists():
                lines.append(
                    f"{record['raw']}: raw workbook missing (backfill the same file to restore it)"
                )
    return lines

"""Check a store: raw files match their hashes, snapshots match the catalog and the hash
recorded when they were written, tallies add up, every file of the store can be read.

Read-only, and it never stops at the first damaged file: each problem is one row naming the
path. ``repair`` (:mod:`ice287g.store.repair`) fixes what is derived; re-deriving versions
under newer rules is :mod:`ice287g.jobs.rebuild`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ice287g.store.catalog import META_KEY, Store
from ice287g.store.files import StoreDamaged, sha256_bytes


@dataclass
class Problem:
    path: str
    problem: str


def verify(store: Store) -> list[Problem]:
    """Every raw file matches its hash; every catalogued version has its raw bytes and a
    snapshot whose bytes match the hash recorded at write time and that says the same; no
    snapshot is left out of the catalog; the catalog, tallies and ledgers can be read."""
    problems: list[Problem] = []
    raw_dir = store.root / "raw"
    for path in sorted(raw_dir.glob("*/*")) if raw_dir.exists() else []:
        if sha256_bytes(path.read_bytes()) != path.stem:
            problems.append(
                Problem(
                    str(path.relative_to(store.root)),
                    "bytes do not match the hash in the file name",
                )
            )
    try:
        catalog = store.catalog_table().to_pylist()
    except StoreDamaged as exc:
        problems.append(Problem("catalog.parquet", str(exc)))
        catalog = None
    for record in catalog or []:
        if not (store.root / record["raw"]).exists():
            problems.append(
                Problem(
                    record["raw"], "raw workbook missing (backfill the same file to restore it)"
                )
            )
        problems += _check_snapshot(store, record)
    if catalog is not None:
        catalogued = {r["snapshot"] for r in catalog}
        for path in sorted((store.root / "snapshots").glob("*/*.parquet")):
            rel = str(path.relative_to(store.root))
            if rel not in catalogued:
                problems.append(
                    Problem(rel, "snapshot not in the catalog (`ice287g repair` adds it)")
                )
        if any(not r["snapshot_sha256"] for r in catalog):
            missing = sum(not r["snapshot_sha256"] for r in catalog)
            problems.append(
                Problem(
                    "catalog.parquet",
                    f"{missing} versions have no recorded snapshot hash (a catalog from "
                    "before hashes were kept): `ice287g repair` records them",
                )
            )
    problems += _check_tallies(store, catalog)
    problems += _check_ledgers(store)
    problems += _check_documents(store)
    return problems


def _check_documents(store: Store) -> list[Problem]:
    from ice287g.store.documents import read_documents

    try:
        read_documents(store, ["url"])
    except StoreDamaged as exc:
        return [Problem(str(exc.path.relative_to(store.root)), str(exc))]
    return []


def _check_tallies(store: Store, catalog: list[dict] | None) -> list[Problem]:
    try:
        tallies = store.tallies_table()
    except StoreDamaged as exc:
        return [Problem(str(exc.path.relative_to(store.root)), str(exc))]
    if catalog is None or not store.catalog_path.exists():
        return []
    sums = tallies.group_by("sha256").aggregate([("rows", "sum")])
    totals = dict(zip(sums["sha256"].to_pylist(), sums["rows_sum"].to_pylist()))
    out = []
    for record in catalog:
        if totals.get(record["sha256"], 0) != record["rows"]:
            out.append(
                Problem(
                    str(store.tally_path(record["date"].year).relative_to(store.root)),
                    f"rows of {record['sha256'][:12]} add up to "
                    f"{totals.get(record['sha256'], 0)}, not {record['rows']} "
                    "(`ice287g repair` re-derives them)",
                )
            )
    return out


def _check_ledgers(store: Store) -> list[Problem]:
    from ice287g.store.ledger import LEDGERS

    out = []
    for ledger in LEDGERS:
        files = [p for p in (ledger.legacy_path(store),) if p.exists()] + ledger.parts(store)
        for path in files:
            try:
                pq.read_metadata(path)
            except (pa.ArrowException, OSError) as exc:
                rel = str(path.relative_to(store.root))
                out.append(Problem(rel, f"ledger part unreadable ({_short(exc)})"))
    return out


def _check_snapshot(store: Store, record: dict) -> list[Problem]:
    rel = record["snapshot"]
    path = store.root / rel
    if not path.exists():
        return [Problem(rel, "snapshot missing (`ice287g rebuild` re-derives every version)")]
    expected = record.get("snapshot_sha256")
    if expected and sha256_bytes(path.read_bytes()) != expected:
        return [
            Problem(
                rel,
                "snapshot bytes do not match the hash recorded when it was written "
                "(damaged: restore it from a backup, or `ice287g rebuild`)",
            )
        ]
    try:
        meta = pq.read_schema(path).metadata or {}
        rows = pq.read_metadata(path).num_rows
        own = json.loads(meta.get(META_KEY, b"{}"))
    except (pa.ArrowException, OSError, ValueError) as exc:
        return [Problem(rel, f"snapshot unreadable ({_short(exc)})")]
    if own.get("sha256") != record["sha256"] or rows != record["rows"]:
        return [Problem(rel, "snapshot does not match its catalog record")]
    return []


def _short(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0][:160]

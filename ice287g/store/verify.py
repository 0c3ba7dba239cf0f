"""Check a store: raw files match their hashes, snapshots match the catalog, tallies add up.

Read-only. Re-deriving versions under newer rules is :mod:`ice287g.jobs.rebuild`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ice287g.store.catalog import META_KEY, Store
from ice287g.store.files import sha256_bytes


@dataclass
class Problem:
    path: str
    problem: str


def verify(store: Store) -> list[Problem]:
    """Every raw file matches its hash; every catalogued version has its raw bytes and a
    readable snapshot that says the same; no snapshot is left out of the catalog."""
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
    catalog = store.catalog_table().to_pylist()
    catalogued = {r["snapshot"] for r in catalog}
    for record in catalog:
        if not (store.root / record["raw"]).exists():
            problems.append(Problem(record["raw"], "raw workbook missing"))
        problems += _check_snapshot(store, record)
    for path in sorted((store.root / "snapshots").glob("*/*.parquet")):
        rel = str(path.relative_to(store.root))
        if rel not in catalogued:
            problems.append(
                Problem(rel, "snapshot not in the catalog (the next write catalogues it)")
            )
    if store.catalog_path.exists():
        tallies = store.tallies_table().group_by("sha256").aggregate([("rows", "sum")])
        sums = dict(zip(tallies["sha256"].to_pylist(), tallies["rows_sum"].to_pylist()))
        for record in catalog:
            if sums.get(record["sha256"], 0) != record["rows"]:
                problems.append(
                    Problem(
                        "tallies.parquet",
                        f"rows of {record['sha256'][:12]} do not add up to {record['rows']}",
                    )
                )
    return problems


def _check_snapshot(store: Store, record: dict) -> list[Problem]:
    rel = record["snapshot"]
    try:
        meta = pq.read_schema(store.root / rel).metadata or {}
        rows = pq.read_metadata(store.root / rel).num_rows
    except (OSError, pa.ArrowInvalid) as exc:
        return [Problem(rel, f"snapshot unreadable ({exc})")]
    own = json.loads(meta.get(META_KEY, b"{}"))
    if own.get("sha256") != record["sha256"] or rows != record["rows"]:
        return [Problem(rel, "snapshot does not match its catalog record")]
    return []

"""Keeping a store sound over the years: verify it, and rebuild it under newer rules.

Snapshots are immutable, so a corrected rule (a new county typo in ``rules.py``) does not
reach versions already stored. ``rebuild`` re-derives every version from its raw bytes into a
new store with the current rules, keeping each version's date as first established (the
evidence for it, such as the time a file was observed, is not in the bytes) and copying the
raw files and ledgers as they are; the old store is left untouched.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ice287g.store import META_KEY, Store, sha256_bytes

LEDGERS = ("publications.parquet", "moa_ledger.parquet", "moa_documents.parquet")


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
        tallies = store._tallies_table().group_by("sha256").aggregate([("rows", "sum")])
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


def rebuild(src: Store, dst: Store) -> list[str]:
    """Re-derive every version of `src` into the empty store `dst` with the current rules.

    Returns one line per version (as `backfill` prints them). Raw files and ledgers are
    copied byte for byte; dates (and the name flags that explain them) are kept.
    """
    from ice287g.ingest import prepare, version_outcome
    from parsers.filename import PublicationDate

    if dst.catalog_path.exists():
        raise FileExistsError(f"{dst.root} already holds a store; rebuild needs an empty one")
    if src.root.resolve() == dst.root.resolve():
        raise ValueError("rebuild writes a new store: give another directory")
    lines = []
    with src.lock(), dst.lock():
        if (src.root / "raw").exists():
            shutil.copytree(src.root / "raw", dst.root / "raw", dirs_exist_ok=True)
        for name in LEDGERS:
            if (src.root / name).exists():
                shutil.copy2(src.root / name, dst.root / name)
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
            lines.append(version_outcome(prepared.record).line())
        dst.commit(records, tallies)
    return lines


def _first_links(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """sha256 -> (link text, URL) of the download that first stored it (the list evidence a
    rebuild cannot find in the bytes); versions added by backfill have none."""
    from ice287g import ledger

    out: dict[str, tuple[str | None, str | None]] = {}
    for row in ledger.read_ledger(store).to_pylist():
        if row["outcome"] == ledger.NEW_VERSION and row["sha256"] not in out:
            out[row["sha256"]] = (row["link_text"], row["url"])
    return out

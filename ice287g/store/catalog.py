"""The versioned local store: raw bytes, immutable snapshots, and the catalog of versions.

Layout under the data directory (default ./data, or ICE287G_DATA_DIR, or --data-dir):

    raw/<sha[:2]>/<sha256>.xlsx              workbook bytes exactly as received, write-once
    snapshots/<list>/<date>_<sha[:12]>.parquet   one immutable snapshot per distinct workbook
    catalog.parquet                          one row per version (derived: can be rebuilt)
    tallies/<year>.parquet                   rows per version x state x model x agency type,
                                             one file per year of publication dates (derived)
    .lock                                    held by every writer

Every file is written atomically (``files.atomic_write``). Snapshots carry their own catalog
record in the Parquet metadata, so a catalog lost between a snapshot write and the catalog
write is recovered from the snapshots on the next write. The ledgers and the MOA documents
table live beside these (``ledger.py``, ``documents.py``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock

from ice287g.schema import CATALOG_SCHEMA, SNAPSHOT_SCHEMA
from ice287g.store.files import (
    StoreDamaged,
    atomic_write,
    atomic_write_table,
    default_data_dir,
    flush,
    parquet_bytes,
    read_table,
    read_table_kept,
    sha256_bytes,
)

META_KEY = b"ice287g.version"
LOCK_TIMEOUT_S = 600
# A version whose participating count falls by more than this share below the last sound
# version, and comes back within SUSPECT_RECOVERY_DAYS, is suspect (a list served broken for
# a day or two); so is an empty pending list.
SUSPECT_DROP = 0.20
SUSPECT_RECOVERY_DAYS = 14
TALLY_KEYS = ("state", "model", "agency_type")


def snapshot_bytes(record: dict, table: pa.Table) -> bytes:
    """A snapshot file: the rows, with the version's catalog record in the Parquet metadata."""
    meta = {META_KEY: json.dumps(_jsonable(record)).encode()}
    return parquet_bytes(table.replace_schema_metadata(meta))


class StoreError(RuntimeError):
    pass


class Store:
    """One data directory. Readers need no lock; writers hold ``lock()``."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_data_dir()
        self.catalog_path = self.root / "catalog.parquet"
        self.tallies_dir = self.root / "tallies"
        # The single tallies file of a store written before the tallies were kept by year:
        # read until the next write replaces it with the year files.
        self.legacy_tallies_path = self.root / "tallies.parquet"

    # --- paths ---------------------------------------------------------------------------
    @staticmethod
    def raw_relpath(sha: str, ext: str = "xlsx") -> str:
        return f"raw/{sha[:2]}/{sha}.{ext}"

    @staticmethod
    def snapshot_relpath(lst: str, day: date, sha: str) -> str:
        return f"snapshots/{lst}/{day.isoformat()}_{sha[:12]}.parquet"

    def lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=LOCK_TIMEOUT_S)

    # --- raw -------------------------------------------------------------------------------
    def put_raw(
        self, data: bytes, sha: str | None = None, ext: str = "xlsx", sync: bool = True
    ) -> str:
        """Archive bytes once under their hash; an existing file is verified, never rewritten."""
        sha = sha or sha256_bytes(data)
        path = self.root / self.raw_relpath(sha, ext)
        if path.exists():
            if sha256_bytes(path.read_bytes()) != sha:
                raise StoreError(f"{path}: stored bytes do not match their hash; not touching it")
            return sha
        atomic_write(path, data, sync)
        return sha

    def raw_path(self, sha: str, ext: str = "xlsx") -> Path:
        return self.root / self.raw_relpath(sha, ext)

    # --- catalog -------------------------------------------------------------------------
    def catalog_table(self, columns: list[str] | None = None) -> pa.Table:
        return read_table_kept(self.catalog_path, CATALOG_SCHEMA, columns)

    def known_shas(self) -> set[str]:
        return set(self.catalog_table(["sha256"]).column("sha256").to_pylist())

    def read_snapshot(self, relpath: str, columns: list[str] | None = None) -> pa.Table:
        return read_table(
            self.root / relpath,
            SNAPSHOT_SCHEMA,
            columns,
            remedy="a snapshot is derived from its raw workbook: `ice287g rebuild` re-derives it",
        )

    # --- writing versions ----------------------------------------------------------------
    def write_snapshot(self, record: dict, data: bytes, sync: bool = True) -> None:
        """Write one version's snapshot file (from ``snapshot_bytes``); never overwrites."""
        path = self.root / record["snapshot"]
        if not path.exists():
            atomic_write(path, data, sync)

    def commit(self, records: list[dict], tallies: list[pa.Table]) -> None:
        """Add catalog records (their snapshots already written) and rewrite derived indexes.

        Call with the lock held. Also picks up snapshots whose catalog write was interrupted.
        Flushes the versions' raw and snapshot files first, so the catalog never names
        unflushed files. The tallies are derived per version (never added to), so a lost
        catalog, or a crash between the two renames, cannot count a version twice.
        """
        table = self.catalog_table()
        known = set(table["sha256"].to_pylist())
        new = [r for r in records if r["sha256"] not in known]
        new_shas = {r["sha256"] for r in new}
        orphans = [
            r
            for r in self._snapshot_records(known | new_shas)
            if r["sha256"] not in known | new_shas
        ]
        if not new and not orphans:
            return
        written = [self.root / r[k] for r in new + orphans for k in ("raw", "snapshot") if r.get(k)]
        flush([p for p in written if p.exists()])
        given = {r["sha256"]: t for r, t in zip(records, tallies) if r["sha256"] in new_shas}
        years = {r["date"].year for r in new + orphans}
        # The versions published well before the first added one keep their number in the
        # day and their suspect flag (which looks SUSPECT_RECOVERY_DAYS ahead): only the
        # rest of the catalog is derived again, so a commit costs the same in year ten.
        cutoff = min(r["date"] for r in new + orphans) - timedelta(SUSPECT_RECOVERY_DAYS + 1)
        early = pc.less(table["date"], pa.scalar(cutoff, pa.date32()))
        head = table.filter(early)
        rows = table.filter(pc.invert(early)).to_pylist()
        self.write_derived(rows + new + orphans, given, years=years, head=head)

    def write_derived(
        self,
        rows: list[dict],
        given: dict[str, pa.Table] | None = None,
        reuse_tallies: bool = True,
        years: set[int] | None = None,
        head: pa.Table | None = None,
    ) -> None:
        """Write the catalog of `rows` and the tallies of exactly those versions.

        `head`: catalog records (as stored) of versions published before every one of
        `rows`, kept as they are (their numbers and flags stand; see ``commit``).

        Only the tallies of `years` are rewritten (None: every year, and year files with no
        version left are removed): a commit touches the year of its new versions, so its
        cost does not grow with the history. A version's tallies come from `given`, else
        (with `reuse_tallies`) from its year's tallies when they add up to its rows, else
        from its snapshot. Tallies first, catalog last: a crash between the two leaves
        tallies the next write re-derives, never double counts.
        """
        for row in rows:
            if not row.get("snapshot_sha256") and (self.root / row["snapshot"]).exists():
                row["snapshot_sha256"] = sha256_bytes((self.root / row["snapshot"]).read_bytes())
        legacy = self.legacy_tallies_path.exists()
        if legacy and head is not None:  # an older store: derive everything once
            rows, head = head.to_pylist() + rows, None
        catalog = _derive(rows, _last_sound(head))
        if legacy:
            years = None  # the single file of an older store becomes year files, all at once
        by_year: dict[int, list[dict]] = {}
        if head is not None and head.num_rows:  # the head's versions of the years rewritten
            kept = head.select(["date", "sha256", "rows", "snapshot"])
            if years is not None:
                kept = kept.filter(pc.is_in(pc.year(kept["date"]), pa.array(sorted(years))))
            for r in kept.to_pylist():
                by_year.setdefault(r["date"].year, []).append(r)
        for r in catalog:
            by_year.setdefault(r["date"].year, []).append(r)
        for year in sorted(by_year if years is None else years & by_year.keys()):
            old = self._old_tallies(year, legacy) if reuse_tallies else TALLY_SCHEMA.empty_table()
            table = _derived_tallies(self, by_year[year], given or {}, old)
            atomic_write_table(self.tally_path(year), table, kept=TALLY_SCHEMA)
        if years is None:
            for path in self.tally_files():
                if int(path.stem) not in by_year:
                    path.unlink()
        table = pa.Table.from_pylist(catalog, CATALOG_SCHEMA)
        if head is not None:
            table = pa.concat_tables([head, table])
        atomic_write_table(self.catalog_path, table, kept=CATALOG_SCHEMA)
        if legacy:
            self.legacy_tallies_path.unlink()

    def _old_tallies(self, year: int, legacy: bool) -> pa.Table:
        """The tallies stored for `year` (empty when unreadable: re-derived)."""
        try:
            if legacy:
                return read_table(self.legacy_tallies_path, TALLY_SCHEMA)
            return read_table_kept(self.tally_path(year), TALLY_SCHEMA)
        except StoreDamaged:
            return TALLY_SCHEMA.empty_table()

    def tally_path(self, year: int) -> Path:
        return self.tallies_dir / f"{year:04d}.parquet"

    def tally_files(self) -> list[Path]:
        """The year files of the tallies, oldest year first."""
        try:
            names = os.listdir(self.tallies_dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [
            self.tallies_dir / n
            for n in sorted(names)
            if n.endswith(".parquet") and n[:-8].isdigit() and n[0] != "."
        ]

    def tallies_table(self, years: set[int] | None = None) -> pa.Table:
        """Rows per version x state x model x agency type (empty before the first version);
        `years`: only the versions published in those years (and maybe others)."""
        files = self.tally_files()
        if self.legacy_tallies_path.exists():
            files = [self.legacy_tallies_path]  # an older store, until its next write
        elif years is not None:
            files = [f for f in files if int(f.stem) in years]
        tables = [read_table(f, TALLY_SCHEMA) for f in files]
        return pa.concat_tables(tables) if tables else TALLY_SCHEMA.empty_table()

    def snapshot_records(self) -> tuple[list[dict], list[str]]:
        """The catalog record every snapshot file carries, and the snapshots that carry none
        that can be read (damaged files, reported by `verify`)."""
        records, unreadable = [], []
        for path in self._snapshot_paths():
            record = _own_record(path)
            if record is None:
                unreadable.append(str(path.relative_to(self.root)))
            else:
                records.append(record)
        return records, unreadable

    def _snapshot_records(self, known: set[str]) -> list[dict]:
        """Catalog records of snapshot files whose hash prefix is not among `known` (names
        compared first: a commit lists the folders, it opens only the files not catalogued)."""
        prefixes = {sha[:12] for sha in known}
        out = []
        for path in self._snapshot_paths(lambda name: name[-20:-8] not in prefixes):
            record = _own_record(path)
            if record is not None:  # a damaged file is reported by `verify`, not catalogued
                out.append(record)
        return out

    def _snapshot_paths(self, keep=lambda name: True) -> list[Path]:
        """The snapshot files (``<list>/<date>_<sha[:12]>.parquet``) whose name `keep`s."""
        folder = self.root / "snapshots"
        try:
            lists = sorted(n for n in os.listdir(folder) if n[0] != ".")
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for lst in lists:
            try:
                names = sorted(os.listdir(folder / lst))
            except NotADirectoryError:
                continue
            out += [
                folder / lst / n
                for n in names
                if n.endswith(".parquet") and n[0] != "." and keep(n)
            ]
        return out


def _own_record(path: Path) -> dict | None:
    """The catalog record a snapshot file carries in its metadata (None if unreadable)."""
    try:
        meta = pq.read_schema(path).metadata or {}
        return _from_json(json.loads(meta[META_KEY])) if META_KEY in meta else None
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError):
        return None


TALLY_SCHEMA = pa.schema(
    [
        pa.field("sha256", pa.string()),
        *[pa.field(k, pa.string()) for k in TALLY_KEYS],
        pa.field("rows", pa.int32()),
    ]
)


def _derived_tallies(
    store: Store, catalog: list[dict], given: dict[str, pa.Table], old: pa.Table
) -> pa.Table:
    """The tallies of the versions of `catalog`: from `given`, else from `old` when they add
    up to the version's rows, else from its snapshot."""
    sums = old.group_by("sha256").aggregate([("rows", "sum")])
    old_rows = dict(zip(sums["sha256"].to_pylist(), sums["rows_sum"].to_pylist()))
    reuse = [
        r["sha256"]
        for r in catalog
        if r["sha256"] not in given and old_rows.get(r["sha256"], 0) == r["rows"]
    ]
    reused = set(reuse)
    if reused.issuperset(old_rows):  # every version of `old` stays as it is (a commit's case)
        parts = [old]
    else:
        parts = [old.filter(pc.is_in(old["sha256"], pa.array(reuse, pa.string())))]
    for r in catalog:
        if r["sha256"] in given:
            parts.append(given[r["sha256"]])
        elif r["sha256"] not in reused:
            try:
                parts.append(tally(store.read_snapshot(r["snapshot"]), r["sha256"]))
            except StoreDamaged:
                pass  # a damaged snapshot: `verify` reports it and its tallies' shortfall
    return pa.concat_tables(parts)


def tally(table: pa.Table, sha: str) -> pa.Table:
    """Rows of one snapshot per (state, model, agency_type): the source of fast `counts`."""
    if table.num_rows == 0:
        return TALLY_SCHEMA.empty_table()
    grouped = table.select(list(TALLY_KEYS)).group_by(list(TALLY_KEYS), use_threads=False)
    counts = grouped.aggregate([([], "count_all")])
    return pa.table(
        {
            "sha256": pa.array([sha] * counts.num_rows, pa.string()),
            **{k: counts[k] for k in TALLY_KEYS},
            "rows": counts["count_all"].cast(pa.int32()),
        },
        schema=TALLY_SCHEMA,
    )


def _last_sound(head: pa.Table | None) -> int | None:
    """Rows of the last participating version of `head` not flagged suspect."""
    if head is None or head.num_rows == 0:
        return None
    sound = head.filter(
        pc.and_(pc.equal(head["list"], "participating"), pc.invert(head["suspect"]))
    )
    return sound["rows"][-1].as_py() if sound.num_rows else None


def _derive(rows: list[dict], sound: int | None = None) -> list[dict]:
    """Order versions, number them within each day, and mark suspect versions; `sound`: the
    rows of the last participating version not flagged before these."""
    rows = sorted(
        rows,
        key=lambda r: (
            r["list"],
            r["date"],
            r["suffix_rank"] or 0,
            r["saved_at"] or datetime.min.replace(tzinfo=UTC),
            r["sha256"],
        ),
    )
    start = sound
    for lst in ("participating", "pending"):
        versions = [r for r in rows if r["list"] == lst]
        previous_day = None
        seq = 0
        for r in versions:
            seq = seq + 1 if r["date"] == previous_day else 1
            previous_day = r["date"]
            r["seq"] = seq
            r["suspect"], r["suspect_reason"] = False, None
        sound = start  # rows of the last version not flagged
        for i, r in enumerate(versions):
            if lst == "pending" and r["rows"] == 0:
                r["suspect"], r["suspect_reason"] = True, "pending list is empty"
            if lst == "participating" and sound:
                floor = sound * (1 - SUSPECT_DROP)
                if r["rows"] < floor and _recovers(versions, i, floor):
                    r["suspect"] = True
                    r["suspect_reason"] = (
                        f"participating rows fell from {sound} to {r['rows']} "
                        f"(-{1 - r['rows'] / sound:.0%}) and recovered within "
                        f"{SUSPECT_RECOVERY_DAYS} days"
                    )
            if lst == "participating" and not r["suspect"]:
                sound = r["rows"]
    return sorted(rows, key=lambda r: (r["date"], r["list"], r["seq"]))


def _recovers(versions: list[dict], i: int, floor: float) -> bool:
    """Whether a version within SUSPECT_RECOVERY_DAYS after version `i` (the versions are in
    date order) has at least `floor` rows."""
    day = versions[i]["date"]
    for v in versions[i + 1 :]:
        if (v["date"] - day).days > SUSPECT_RECOVERY_DAYS:
            return False
        if v["rows"] >= floor:
            return True
    return False


def _jsonable(record: dict) -> dict:
    out = {}
    for key, value in record.items():
        if isinstance(value, (date, datetime)):
            value = value.isoformat()
        out[key] = value
    return out


def _from_json(record: dict) -> dict:
    out = dict(record)
    out["date"] = date.fromisoformat(out["date"])
    for key in ("saved_at", "ingested_at"):
        if out.get(key):
            out[key] = datetime.fromisoformat(out[key])
    return out

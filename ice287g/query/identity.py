"""Identity of a store: the one adapter between the store and the identity stage, its cache,
and the questions asked of it (agreements, terminations, spellings, candidates).

The identity stage (``ice287g.identity``) is pure: frames in, an ``Identity`` out. This
module reads those frames from a store (the catalog's versions, and each snapshot with only
the columns identity needs: the whole 2025 corpus, 352 versions, in about a second) and
caches the resolved ``Identity`` under ``<data_dir>/derived/`` (written atomically). The
cache is keyed to the catalog's versions, the alias table and the code of the identity
stage, so a new version, a new verdict or a new rule rebuilds it; a cache that is stale,
missing or unreadable is rebuilt, never trusted.
"""

from __future__ import annotations

import gc
import hashlib
import pickle
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ice287g.identity import Identity, resolve
from ice287g.identity.observe import ROW_COLUMNS, newer
from ice287g.query.versions import QueryError, as_date, catalog, parse_state, store_of

VERSION_COLUMNS = ["list", "date", "seq", "sha256", "columns", "suspect", "suspect_reason"]
STATUSES = ("active", "removed", "superseded")
CACHE_FORMAT = "3"  # bump when the cache file's layout changes
_KEY_BYTES = 64  # the code's digest and the versions' key (sha256 in hex), a line each


# --- reading a store ---------------------------------------------------------------------------
def read_versions(data_dir=None, include_suspect: bool = False, cat=None) -> pd.DataFrame:
    """The catalog's versions (suspect ones left out unless asked), in publication order;
    `cat`: the store's catalog when the caller has read it."""
    cat = catalog(data_dir) if cat is None else cat
    if cat.empty:
        return pd.DataFrame(columns=[*VERSION_COLUMNS, "snapshot"])
    cat = cat[[*VERSION_COLUMNS, "snapshot"]]  # first: a filter copies every column
    if not include_suspect:
        cat = cat[~cat["suspect"]]
    return cat.sort_values(["list", "date", "seq"]).reset_index(drop=True)


def read_rows(versions: pd.DataFrame, data_dir=None) -> pd.DataFrame:
    """The rows of `versions` (catalog records with ``snapshot``), identity's columns only,
    with ``sha256``."""
    store = store_of(data_dir)
    tables = []
    for sha, snapshot in zip(versions["sha256"], versions["snapshot"]):
        t = store.read_snapshot(snapshot, columns=list(ROW_COLUMNS))
        tables.append(t.append_column("sha256", pa.array([sha] * t.num_rows, pa.string())))
    if not tables:
        return pd.DataFrame(columns=[*ROW_COLUMNS, "sha256"])
    return pa.concat_tables(tables).to_pandas(date_as_object=True)


def read(data_dir=None, include_suspect: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(versions, rows) of a store, ready for ``ice287g.identity.resolve``."""
    versions = read_versions(data_dir, include_suspect)
    return versions.drop(columns=["snapshot"]), read_rows(versions, data_dir)


# --- the cache ---------------------------------------------------------------------------------
def _code_digest() -> str:
    """What the identity depends on besides the data: the stage's code, its alias table and
    the name rules."""
    import ice287g.identity as stage
    import ice287g.normalize.names as names_module

    folder = Path(stage.__file__).parent
    files = sorted(folder.glob("*.py")) + [folder / "aliases.csv", Path(names_module.__file__)]
    h = hashlib.sha256(CACHE_FORMAT.encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def cache_key(versions: pd.DataFrame, base: str | None = None) -> str:
    """The key of an identity of exactly `versions`, under this code (`base`)."""
    lines = [base or _code_digest()]
    cols = (versions[c].tolist() for c in ("list", "date", "seq", "sha256"))
    lines += [f"{lst} {day} {seq} {sha}" for lst, day, seq, sha in zip(*cols, strict=True)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def cache_path(store, include_suspect: bool) -> Path:
    suffix = "-with-suspect" if include_suspect else ""
    return store.root / "derived" / f"identity{suffix}.pickle"


def _unpickled(f):
    """The object pickled in `f`, read with the garbage collector paused: the identity is
    hundreds of thousands of new objects at ten years of history, and the collector's
    passes over the whole heap while they are made cost twice the reading."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(f)
    finally:
        if paused:
            gc.enable()


def _read_cached(path: Path, base: str) -> tuple[str, Identity] | None:
    """(key, identity) of the cache file when it was written by this code (`base`)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2 * (_KEY_BYTES + 1)).split(b"\n")
            if len(head) < 2 or head[0] != base.encode():
                return None
            key = head[1].decode()
            found = _unpickled(f)
    except Exception:  # noqa: BLE001 - a cache is never trusted: any damage means rebuild
        return None
    return (key, found) if isinstance(found, Identity) else None


def _write_cached(path: Path, ident: Identity, base: str, key: str) -> None:
    from ice287g.store.files import atomic_file

    ident.prepare()  # the tables go into the cache, so the fast commands only read
    try:
        with atomic_file(path) as tmp, open(tmp, "wb") as fh:
            fh.write(b"%s\n%s\n" % (base.encode(), key.encode()))
            pickle.dump(ident, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        pass  # a read-only store still answers, from memory


def _extended(ident: Identity, versions: pd.DataFrame, store) -> Identity | None:
    """`ident` brought up to `versions` when they are its versions and newer ones (read:
    only the new versions' rows); None when a version it holds is gone or renumbered, or a
    new one is older than the newest it holds of its list."""
    have = ident.observations.versions[["list", "date", "seq", "sha256"]]
    now = versions.set_index("sha256")
    if not have["sha256"].isin(now.index).all():
        return None
    same = now.loc[have["sha256"], ["list", "date", "seq"]].reset_index()
    if not same[["list", "date", "seq"]].equals(have[["list", "date", "seq"]]):
        return None
    new = versions[~versions["sha256"].isin(have["sha256"])]
    if not newer(ident.observations.versions, new):
        return None
    return ident.extend(new.drop(columns=["snapshot"]), read_rows(new, store))


def load(data_dir=None, include_suspect: bool = False, refresh: bool = False, cat=None) -> Identity:
    """The resolved identity of a store (suspect versions left out unless asked).

    From the cache when it matches the catalog, the alias table and the code. When the
    catalog has only gained versions newer than the cache's, the cached identity is
    extended by them (``Identity.extend``: the new rows are read, not the old ones);
    otherwise (`refresh`, a cache that is missing, damaged or written by other code, a
    version removed or published out of order) everything is resolved again. `cat`: the
    store's catalog when the caller has read it."""
    store = store_of(data_dir)
    versions = read_versions(store, include_suspect, cat)
    base = _code_digest()
    key = cache_key(versions, base)
    path = cache_path(store, include_suspect)
    ident = None
    if not refresh:
        cached = _read_cached(path, base)
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None:
            ident = _extended(cached[1], versions, store)
    if ident is None:
        ident = resolve(versions.drop(columns=["snapshot"]), read_rows(versions, store))
    if not versions.empty:
        _write_cached(path, ident, base, key)
    return ident


# --- questions ---------------------------------------------------------------------------------
def _state(state: str | None) -> str | None:
    return parse_state(state) if state else None


def agreements(
    state: str | None = None,
    status: str | None = None,
    data_dir=None,
    include_suspect: bool = False,
) -> pd.DataFrame:
    """One record per agreement ever on the participating list, in resolved identities:
    ``status`` (active / removed / superseded), ``first_listed``, ``last_listed``, ``names``
    (every spelling), ``evidence`` (the tiers that joined its spellings), ..."""
    if status not in (None, *STATUSES):
        raise QueryError(f"unknown status {status!r}: use {', '.join(STATUSES)}")
    return load(data_dir, include_suspect).agreements(_state(state), status)


def terminations(
    since: str | date | None = None,
    until: str | date | None = None,
    state: str | None = None,
    data_dir=None,
    include_suspect: bool = False,
) -> pd.DataFrame:
    """Real removals (not renames, not a switch of model) dated `since`..`until`, with the
    last version that listed each and its MOA URL."""
    return load(data_dir, include_suspect).terminations(
        as_date(since), as_date(until), _state(state)
    )


def aliases(name: str | None = None, state: str | None = None, data_dir=None) -> pd.DataFrame:
    """Every agency name ever printed, with its agency and agreement; `name` keeps the
    spellings of the agency (or agencies) that name belongs to."""
    return load(data_dir).aliases(name, _state(state))


def candidates(data_dir=None) -> pd.DataFrame:
    """Pairs that look like one agency but that no rule may join alone: for review."""
    return load(data_dir).candidates()


def tier_counts(data_dir=None) -> pd.DataFrame:
    """Joins per level and tier on the store."""
    return load(data_dir).tier_counts()

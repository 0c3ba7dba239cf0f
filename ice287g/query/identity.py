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

import hashlib
import pickle
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ice287g.identity import Identity, resolve
from ice287g.identity.observe import ROW_COLUMNS
from ice287g.query.versions import QueryError, as_date, catalog, parse_state, store_of

VERSION_COLUMNS = ["list", "date", "seq", "sha256", "columns", "suspect", "suspect_reason"]
STATUSES = ("active", "removed", "superseded")
CACHE_FORMAT = "1"  # bump when the cache file's layout changes
_KEY_BYTES = 64  # a sha256 in hex, then a newline, then the pickled Identity


# --- reading a store ---------------------------------------------------------------------------
def read_versions(data_dir=None, include_suspect: bool = False) -> pd.DataFrame:
    """The catalog's versions (suspect ones left out unless asked), in publication order."""
    cat = catalog(data_dir)
    if cat.empty:
        return pd.DataFrame(columns=[*VERSION_COLUMNS, "snapshot"])
    if not include_suspect:
        cat = cat[~cat["suspect"]]
    cat = cat.sort_values(["list", "date", "seq"]).reset_index(drop=True)
    return cat[[*VERSION_COLUMNS, "snapshot"]]


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
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def cache_key(versions: pd.DataFrame) -> str:
    lines = [CACHE_FORMAT, _code_digest()]
    lines += [f"{r.list} {r.date} {r.seq} {r.sha256}" for r in versions.itertuples()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def cache_path(store, include_suspect: bool) -> Path:
    suffix = "-with-suspect" if include_suspect else ""
    return store.root / "derived" / f"identity{suffix}.pickle"


def _read_cached(path: Path, key: str) -> Identity | None:
    try:
        with open(path, "rb") as f:
            if f.read(_KEY_BYTES + 1) != key.encode() + b"\n":
                return None
            found = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
        return None
    return found if isinstance(found, Identity) else None


def _write_cached(path: Path, ident: Identity, key: str) -> None:
    from ice287g.store.files import atomic_write

    ident.prepare()  # the tables go into the cache, so the fast commands only read
    data = key.encode() + b"\n" + pickle.dumps(ident, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        atomic_write(path, data, sync=False)
    except OSError:
        pass  # a read-only store still answers, from memory


def load(data_dir=None, include_suspect: bool = False, refresh: bool = False) -> Identity:
    """The resolved identity of a store (suspect versions left out unless asked): from the
    cache when it matches the catalog, the alias table and the code, else resolved again."""
    store = store_of(data_dir)
    versions = read_versions(store, include_suspect)
    key = cache_key(versions)
    path = cache_path(store, include_suspect)
    if not refresh:
        cached = _read_cached(path, key)
        if cached is not None:
            return cached
    ident = resolve(versions.drop(columns=["snapshot"]), read_rows(versions, store))
    if not versions.empty:
        _write_cached(path, ident, key)
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

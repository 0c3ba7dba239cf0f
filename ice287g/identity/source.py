"""The one adapter between the store and the identity stage: versions and rows as frames.

Everything else in ``ice287g.identity`` is pure (frames in, frames out); this module alone
knows where those frames come from. It reads the catalog through the public query function
(``ice287g.query.catalog``) and each snapshot with only the columns identity needs (the whole
2025 corpus, 352 versions, in about a second).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from ice287g.identity.observe import ROW_COLUMNS

VERSION_COLUMNS = ["list", "date", "seq", "sha256", "columns", "suspect", "suspect_reason"]


def read_versions(data_dir=None, include_suspect: bool = False) -> pd.DataFrame:
    """The catalog's versions (suspect ones left out unless asked), in publication order."""
    from ice287g.query import catalog

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
    from ice287g.query import _store

    store = _store(data_dir)
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

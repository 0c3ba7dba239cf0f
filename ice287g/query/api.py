"""The researcher's API (``from ice287g import latest, counts, ...``): the query functions,
returning frames with pandas dtypes a researcher can compute on at once.

- dates (``date``, ``signed``, ``first_seen``, ...) are ``datetime64`` (``resample``,
  ``.dt`` and date arithmetic work without ``pd.to_datetime``);
- integer columns are nullable ``Int64`` (a missing ``days_waited`` stays an integer column);
- ``list``, ``model``, ``state`` and ``agency_type`` are categoricals.

The command line uses the plain query functions (``ice287g.query``), whose dates are Python
``date`` objects; these wrappers only convert. Each takes ``data_dir=`` like them.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

CATEGORIES = ("list", "model", "state", "agency_type")


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with pandas dtypes: dates as datetime64, integers as Int64, categoricals."""
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if col in CATEGORIES:
            out[col] = values.astype("category")
        elif pd.api.types.is_integer_dtype(values.dtype) and not isinstance(
            values.dtype, pd.CategoricalDtype
        ):
            out[col] = values.astype("Int64")
        elif values.dtype == object:
            present = values.dropna()
            if len(present) and all(
                isinstance(v, date) and not isinstance(v, datetime) for v in present
            ):
                out[col] = pd.to_datetime(values)
            elif len(present) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in present
            ):
                out[col] = values.astype("Int64")
        elif pd.api.types.is_float_dtype(values.dtype):
            present = values.dropna()
            if len(present) and (present == present.round()).all() and values.isna().any():
                out[col] = values.astype("Int64")  # integers that pandas made floats for NaN
    out.attrs = df.attrs
    return out


def latest(list="participating", as_of=None, data_dir=None, **options) -> pd.DataFrame:
    """Rows of the version in effect on `as_of` (default: the newest); `state=`, `agency=`,
    `all_columns=`, `include_suspect=` as in ``ice287g latest``.

    >>> df = latest(as_of="2025-04-04", state="TX")
    >>> df.attrs["version"]["date"], len(df)
    (datetime.date(2025, 4, 3), 69)
    >>> df.dtypes[["state", "model", "signed"]].astype(str).tolist()
    ['category', 'category', 'datetime64[s]']
    """
    from ice287g.query.versions import latest as q

    return typed(q(list, as_of, data_dir, **options))


def counts(list=None, by=(), data_dir=None, **options) -> pd.DataFrame:
    """Rows per version (one per day), per `by` keys; `as_of=`, `since=`, `until=`,
    `state=`, `agency=`, `all_versions=`, `include_suspect=` as in ``ice287g counts``.

    >>> c = counts("participating", by=["model"], since="2025-12-29")
    >>> c[["date", "model", "count"]].head(3)
            date model  count
    0 2025-12-29   JEM    145
    1 2025-12-29   TFM    684
    2 2025-12-29   WSO    445
    >>> c.dtypes[["date", "list", "model", "count"]].astype(str).tolist()
    ['datetime64[s]', 'category', 'category', 'Int64']
    >>> monthly = counts("participating").set_index("date")["count"].resample("MS").last()
    """
    from ice287g.query.versions import counts as q

    return typed(q(list, by, data_dir=data_dir, **options))


def snapshots(list=None, data_dir=None, include_suspect=True) -> pd.DataFrame:
    """Every stored version: list, date, seq, sha256, rows, file name, flags, ...

    >>> s = snapshots("pending")
    >>> s[["date", "seq", "rows"]].tail(2)
              date  seq  rows
    192 2025-12-30    1    23
    193 2025-12-31    1    24
    """
    from ice287g.query.versions import snapshots as q

    return typed(q(list, data_dir, include_suspect))


def status(data_dir=None) -> pd.DataFrame:
    """Per list: the newest version, its age in days and its open warnings."""
    from ice287g.query.status import status as q

    return typed(q(data_dir))


def diff(date_a, date_b, *args, **kwargs) -> pd.DataFrame:
    """Agreements added, removed, renamed and changed between two dates, in resolved
    identities (``ice287g diff``; same arguments).

    >>> d = diff("2025-07-14", "2025-07-15")
    >>> d["change"].value_counts().to_dict()
    {'renamed': 9, 'changed': 2, 'removed': 1}
    """
    from ice287g.query.diff import diff as q

    return typed(q(date_a, date_b, *args, **kwargs))


def history(query=None, state=None, data_dir=None, include_suspect=False) -> pd.DataFrame:
    """One agency's timeline (all its agreements, both lists), or every event without a
    query.

    >>> h = history("taylor county sheriff", state="FL")
    >>> h[["date", "list", "event", "model"]].head(3)
            date           list        event model
    0 2025-02-21  participating       listed   WSO
    1 2025-02-26  participating       listed   TFM
    2 2025-02-26  participating  model_added   TFM
    """
    from ice287g.query.history import history as q

    return typed(q(query, state, data_dir, include_suspect))


def agreements(*args, **kwargs) -> pd.DataFrame:
    """Every agreement ever on the participating list, in resolved identities: status,
    first/last listed, every spelling, the evidence that joined them (``ice287g agreements``;
    same arguments).

    >>> a = agreements(state="FL", status="active")
    >>> a.dtypes[["first_listed", "last_listed"]].astype(str).tolist()
    ['datetime64[s]', 'datetime64[s]']
    """
    from ice287g.query.identity import agreements as q

    return typed(q(*args, **kwargs))


def terminations(*args, **kwargs) -> pd.DataFrame:
    """Real removals only (renames and model switches are not), with the last version that
    listed each and its MOA URL (``ice287g terminations``; same arguments)."""
    from ice287g.query.identity import terminations as q

    return typed(q(*args, **kwargs))


def aliases(*args, **kwargs) -> pd.DataFrame:
    """Every agency name ever printed, with its agency and agreement (``ice287g aliases``)."""
    from ice287g.query.identity import aliases as q

    return typed(q(*args, **kwargs))


def counties(unresolved=False, data_dir=None) -> pd.DataFrame:
    """Counties as ICE typed them across all versions, with FIPS code and where seen."""
    from ice287g.query.counties import counties as q

    return typed(q(unresolved, data_dir))

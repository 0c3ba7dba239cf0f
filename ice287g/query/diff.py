"""What changed between two versions of a list, agreement by agreement, in resolved identities.

The identity stage (``ice287g.identity``) decides which listings are one agreement, so a
relabel is one ``renamed`` record, not a removal plus an addition. Change kinds
(``CHANGES``, in report order):

- ``added`` / ``removed``: an agreement listed on one side only (a removal is real: the
  agreement is not listed under any spelling on the other side);
- ``renamed``: the agency's name as printed changed (``before`` / ``after``); ``evidence``
  names the tiers that link the two spellings;
- ``re_signed``: a signing date at least 30 days later (a renewal); a date moved by a few
  days is a ``changed`` ``signed``;
- ``moa_posted``: the MOA link appeared (``before``: pending or missing, ``after``: the URL);
- ``changed``: any other compared field (``DIFF_FIELDS``). A field is compared only when
  both versions' headers carry its column (COUNTY appeared on 2025-03-17, ADDENDUM on
  2025-07-01), so a new column does not read as a change of every agreement.

``diff`` picks the versions in effect on two dates and asks the store's identity (cached,
:mod:`ice287g.query.identity`); ``diff_frames`` is the same answer for two frames of rows
without a store (identity resolved over just those two versions).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from ice287g.identity import columns, resolve
from ice287g.identity.observe import FIELDS, ROW_COLUMNS, fields_of
from ice287g.identity.story import CHANGES

__all__ = [
    "CHANGES",
    "DIFF_COLUMNS",
    "comparable_fields",
    "diff",
    "diff_frames",
    "filter_changes",
    "two_versions",
]

DIFF_RECORD_FIELDS = columns.DIFF_FIELDS
DIFF_COLUMNS = columns.names(DIFF_RECORD_FIELDS)
DIFF_FIELDS = FIELDS  # compared fields, in report order
CHANGE_ORDER = {c: i for i, c in enumerate(CHANGES)}


def comparable_fields(columns_a, columns_b) -> tuple[str, ...]:
    """The DIFF_FIELDS whose source column both versions' headers carry."""
    both = fields_of(columns_a) & fields_of(columns_b)
    return tuple(f for f in DIFF_FIELDS if f in both)


def two_versions(a, b, columns_a=None, columns_b=None, list: str = "participating"):
    """The identity resolved over two frames of rows taken as consecutive versions ``a``
    and ``b`` of `list` (header cells `columns_a` / `columns_b`; None: compare every
    field)."""
    versions = pd.DataFrame(
        {
            "list": [list] * 2,
            "date": [date(2000, 1, 1), date(2000, 1, 2)],
            "seq": [1, 1],
            "sha256": ["a", "b"],
            "columns": [columns_a, columns_b],
        }
    )
    rows = pd.concat([a.assign(sha256="a"), b.assign(sha256="b")], ignore_index=True)
    rows = rows[[c for c in (*ROW_COLUMNS, "sha256") if c in rows.columns]]
    return resolve(versions, rows)


def diff_frames(a, b, columns_a=None, columns_b=None, list: str = "participating") -> pd.DataFrame:
    """Changes from rows `a` to rows `b` (DataFrames of snapshot columns, at least
    agreement_id, state, agency, model) as a DataFrame of ``DIFF_COLUMNS``: identity
    resolved over these two versions alone (``two_versions``), so a rename needs the
    evidence of a tier (the same signing date or MOA URL)."""
    return two_versions(a, b, columns_a, columns_b, list).diff("a", "b")


def filter_changes(
    df: pd.DataFrame,
    changes=None,
    field: str | None = None,
    state: str | None = None,
    agency: str | None = None,
) -> pd.DataFrame:
    """Records of the kinds `changes`, of `field`, in `state`, of agencies whose name (the
    record's, or for a rename the one before) contains `agency` (case, punctuation and
    abbreviations aside)."""
    from ice287g.normalize.apply import agency_key
    from ice287g.query.versions import QueryError, parse_state

    out = df
    if changes:
        unknown = sorted(set(changes) - set(CHANGE_ORDER))
        if unknown:
            raise QueryError(f"unknown change {', '.join(unknown)}: use {', '.join(CHANGES)}")
        out = out[out["change"].isin(list(changes))]
    if field:
        if field not in DIFF_FIELDS:
            raise QueryError(f"unknown field {field!r}: use {', '.join(DIFF_FIELDS)}")
        field_of = out["field"].where(out["change"] != "moa_posted", "moa_url")
        out = out[field_of == field]
    if state:
        out = out[out["state"] == parse_state(state)]
    if agency:
        key = agency_key(agency)
        names = [
            (a, b if c == "renamed" else None)
            for a, b, c in zip(out["agency"], out["before"], out["change"])
        ]
        keep = [any(n and key in agency_key(n) for n in pair) for pair in names]
        out = out[keep]
    out = out.reset_index(drop=True)
    out.attrs = df.attrs
    return out


def version_text(v) -> str:
    return f"{v['date']} #{v['seq']} sha256 {v['sha256'][:12]}"


def diff(
    a, b, list: str = "participating", data_dir=None, include_suspect: bool = False
) -> pd.DataFrame:
    """Changes between the versions of `list` in effect on dates `a` and `b`.

    "In effect" is the last version on or before the date; suspect versions are skipped
    unless `include_suspect`. The frame's attrs carry ``versions`` (the two catalog records)
    and ``note`` (the header lines the CLI prints).
    """
    from ice287g.query.versions import (
        QueryError,
        as_date,
        catalog,
        check_list,
        store_of,
        version_on,
    )

    check_list(list)
    store = store_of(data_dir)
    cat = catalog(store)
    chosen, notes = [], []
    for label, value in (("A", a), ("B", b)):
        day = as_date(value)
        if day is None:
            raise QueryError(f"date {label} is missing")
        version = version_on(cat, list, day, include_suspect)
        if version is None:
            raise QueryError(f"no {list} version on or before {day} in {store.root}")
        chosen.append(version)
        line = f"{day}: {list} version {version_text(version)}"
        if version["suspect"]:
            line += f" [suspect: {version['suspect_reason']}]"
        if not include_suspect:
            raw = version_on(cat, list, day, True)
            if raw is not None and raw["sha256"] != version["sha256"]:
                line += f" (skipped suspect version {version_text(raw)}: {raw['suspect_reason']})"
        notes.append(line)
    va, vb = chosen
    from ice287g.query.identity import load

    ident = load(store, include_suspect)
    out = ident.diff(va["sha256"], vb["sha256"])
    fields = comparable_fields(va["columns"], vb["columns"])
    size_a, size_b = ident.agreement_count(va["sha256"]), ident.agreement_count(vb["sha256"])
    counts = out["change"].value_counts()
    summary = ", ".join(f"{counts.get(c, 0)} {c}" for c in CHANGE_ORDER)
    notes.append(f"{summary} (agreements: {size_a} -> {size_b})")
    left_out = [f for f in DIFF_FIELDS if f not in fields]
    if left_out and va["sha256"] != vb["sha256"]:
        notes.append(f"not compared (column absent from a version): {', '.join(left_out)}")
    notes.append(
        "suspect versions included"
        if include_suspect
        else "suspect versions skipped (--include-suspect keeps them)"
    )
    if va["sha256"] == vb["sha256"]:
        notes.append("both dates fall on the same version: nothing changed")
    out.attrs["versions"] = {
        k: {f: v[f] for f in ("list", "date", "seq", "sha256", "suspect")}
        for k, v in zip(("a", "b"), chosen)
    }
    out.attrs["note"] = "\n".join(f"# {n}" for n in notes)
    return out

"""What changed between two versions of a list, at the level of agreements (``agreement_id``).

The core, ``diff_frames`` (``diff_records`` on the plain records it builds), is a pure
function of two sets of snapshot rows, so it can be tested without a store; ``diff`` picks
the versions in effect on two dates and calls it.

Rules:

- Each version is first reduced to one record per agreement_id (``records``): ICE lists
  some agreements twice, and the twin rows can disagree (two signed dates, one with an MOA
  link and one without). The record kept is the most informative one (MOA available >
  pending > missing, then a known county, then a known agency type) with ties broken by
  the values themselves, never by row order, so a re-sorted sheet cannot make a change.
- ``added`` / ``removed``: agreement ids present on one side only, except renames.
- A rename is a ``changed`` record with field ``agency``. Spellings that differ only in
  case, spacing or punctuation already share an agreement_id. Beyond that, a removed and
  an added agreement are paired (``match_renames``, best pairs first, each used once) when
  all of these hold: same state and model; agency keys (the name part of the id) at least
  ``RENAME_CUTOFF`` alike (difflib ratio); the rows do not name two different counties
  (FIPS codes); and every distinctive word of each name has a close counterpart in the
  other (so "Melbourne Police Department" -> "West Melbourne Police Department" is not a
  rename, while "Albermarle District Jail" -> "Albemarle District Jail" is). The same words
  make a rename too whatever the ratio: reordered ("Wyoming Highway State Patrol"), with a
  few unambiguous abbreviations spelled out ("Tampa PD" -> "Tampa Police Department",
  "Gulf County BOCC"), or prefixed with the agency's own state ("Department of Corrections"
  -> "Alaska Department of Corrections").
- ``changed``: one record per agreement and differing field among ``DIFF_FIELDS``. A field
  is compared only when both versions have its column (COUNTY appeared on 2025-03-17,
  ADDENDUM on 2025-07-01), so a new column does not read as a change of every agreement.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import NamedTuple

import pandas as pd

from ice287g.normalize.names import same_words, similarity, words_agree
from parsers.workbook import header_key

DIFF_RECORD_FIELDS: list[tuple[str, str, str]] = [
    ("change", "string", "`added`, `removed` or `changed`"),
    ("state", "string", "USPS state code of the agreement"),
    ("agency", "string", "Agency name (for a rename: the new spelling)"),
    ("model", "string", "Support model: `JEM`, `TFM`, `WSO` or `TTFM`"),
    ("agreement_id", "string", "Stable agreement key `ST:name:MODEL` (for a rename: the new one)"),
    (
        "field",
        "string",
        "For `changed`: `agency` (spelling), `signed`, `county`, "
        "`agency_type`, `moa_status`, `moa_url` or `addendum_url`",
    ),
    ("before", "string", "For `changed`: the value in the first version (dates as ISO text)"),
    ("after", "string", "For `changed`: the value in the second version"),
]
DIFF_COLUMNS = [name for name, _, _ in DIFF_RECORD_FIELDS]
# Compared fields, in report order.
DIFF_FIELDS = ("agency", "signed", "county", "agency_type", "moa_status", "moa_url", "addendum_url")


class Record(NamedTuple):
    """One agreement in one version: these snapshot columns (nothing else is read)."""

    state: str | None
    agency: str | None
    model: str | None
    agency_id: str | None
    county_fips: str | None
    signed: date | None
    county: str | None
    agency_type: str | None
    moa_status: str | None
    moa_url: str | None
    addendum_url: str | None


RECORD = Record._fields
READ_COLUMNS = ["agreement_id", *RECORD]
_AT = {name: i for i, name in enumerate(RECORD)}
_record = functools.partial(tuple.__new__, Record)  # Record(*values) without the slow call
RENAME_CUTOFF = 0.92
# A field is compared only if both versions' headers carry this column.
FIELD_COLUMN = {
    "county": "COUNTY",
    "addendum_url": "ADDENDUM",
    "signed": "SIGNED",
    "moa_status": "MOA",
    "moa_url": "MOA",
}
CHANGE_ORDER = {"added": 0, "removed": 1, "changed": 2}
_MOA_RANK = {"available": 0, "pending": 1, "missing": 2}
Records = dict[str, Record]


# --- records -------------------------------------------------------------------------------
def _clean(value):
    """A cell as a plain comparable value: None for any missing marker, dates as dates."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value


def _rank(rec: Record) -> tuple:
    return (
        _MOA_RANK.get(rec.moa_status, 3),
        rec.county is None,
        rec.agency_type is None,
        tuple("" if v is None else str(v) for v in rec),
    )


def records(rows) -> Records:
    """agreement_id -> record tuple (``RECORD`` order), one per agreement; rows without an
    id are dropped. `rows`: a DataFrame or a pyarrow Table of snapshot columns."""
    if hasattr(rows, "column_names"):  # pyarrow
        names = set(rows.column_names)
        cols = [rows.column(c).to_pylist() if c in names else None for c in READ_COLUMNS]
        n = rows.num_rows
        clean = False
    else:
        cols = [rows[c].tolist() if c in rows.columns else None for c in READ_COLUMNS]
        n = len(rows)
        clean = True
    cols = [c if c is not None else [None] * n for c in cols]
    out: Records = {}
    for values in zip(*cols):
        if clean:
            values = tuple(_clean(v) for v in values)
        aid, rec = values[0], _record(values[1:])
        if aid is None:
            continue
        other = out.get(aid)
        if other is None or _rank(rec) < _rank(other):
            out[aid] = rec
    return out


# --- renames -------------------------------------------------------------------------------
def _name_key(agreement_id: str) -> tuple[str, str, str]:
    """(state, agency key, model) parts of an agreement id `ST:key:MODEL`."""
    parts = agreement_id.split(":")
    if len(parts) >= 3:
        return parts[0], ":".join(parts[1:-1]), parts[-1]
    return "", agreement_id, ""


def _words_agree(a: Record, b: Record) -> bool:
    return words_agree(a.agency, b.agency, a.state)


def _same_words(a: Record, b: Record) -> bool:
    return same_words(a.agency, b.agency, a.state)


def _counties_agree(a: Record, b: Record) -> bool:
    fa, fb = a.county_fips, b.county_fips
    return fa is None or fb is None or fa == fb


def rename_score(old: str, a: Record, new: str, b: Record, cutoff: float = RENAME_CUTOFF):
    """The ratio by which ``match_renames`` ranks removed agreement `old` (record `a`) and
    added agreement `new` (record `b`) as one agreement renamed, or None when they cannot
    be. The ids must share state and model."""
    if not _counties_agree(a, b):
        return None
    if _same_words(a, b):
        return 1.0
    key, okey = _name_key(old)[1], _name_key(new)[1]
    # The ratio cannot exceed 2*min/(sum of lengths): skip hopeless pairs cheaply.
    if 2 * min(len(key), len(okey)) / max(len(key) + len(okey), 1) < cutoff:
        return None
    ratio = similarity(key, okey)
    if ratio < cutoff or not _words_agree(a, b):
        return None
    return ratio


def rename_order(ratio: float, old: str, new: str) -> tuple:
    """Sort key of candidate renames: best ratio first, then by the ids (never input order)."""
    return (-ratio, min(old, new), max(old, new), old, new)


def match_renames(
    removed: Records, added: Records, cutoff: float = RENAME_CUTOFF
) -> list[tuple[str, str]]:
    """(old id, new id) pairs of spelling changes among removed and added agreements: the
    candidates (``rename_score``) best first (``rename_order``), each id used once."""
    by_group: dict[tuple[str, str], list[str]] = {}
    for new in added:
        st, _, model = _name_key(new)
        by_group.setdefault((st, model), []).append(new)
    scored = []
    for old, rec in removed.items():
        st, _, model = _name_key(old)
        for new in by_group.get((st, model), ()):
            ratio = rename_score(old, rec, new, added[new], cutoff)
            if ratio is not None:
                scored.append(rename_order(ratio, old, new))
    pairs, used = [], set()
    for *_, old, new in sorted(scored):
        if old not in used and new not in used:
            used.update((old, new))
            pairs.append((old, new))
    return pairs


# --- diff ----------------------------------------------------------------------------------
def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def diff_records(
    a: Records,
    b: Records,
    fields: tuple[str, ...] = DIFF_FIELDS,
    cutoff: float | None = RENAME_CUTOFF,
) -> list[dict]:
    """Changes from records `a` to records `b` as flat dicts (``DIFF_COLUMNS``), sorted."""
    removed_ids = a.keys() - b.keys()
    added_ids = b.keys() - a.keys()
    pairs = []
    if cutoff is not None and removed_ids and added_ids:
        pairs = match_renames({k: a[k] for k in removed_ids}, {k: b[k] for k in added_ids}, cutoff)
    renamed_old = {o for o, _ in pairs}
    renamed_new = {n for _, n in pairs}
    s, ag, m = _AT["state"], _AT["agency"], _AT["model"]
    out = []
    for aid in added_ids - renamed_new:
        r = b[aid]
        out.append(
            (
                0,
                r[s] or "",
                aid,
                -1,
                {
                    "change": "added",
                    "state": r[s],
                    "agency": r[ag],
                    "model": r[m],
                    "agreement_id": aid,
                    "field": None,
                    "before": None,
                    "after": None,
                },
            )
        )
    for aid in removed_ids - renamed_old:
        r = a[aid]
        out.append(
            (
                1,
                r[s] or "",
                aid,
                -1,
                {
                    "change": "removed",
                    "state": r[s],
                    "agency": r[ag],
                    "model": r[m],
                    "agreement_id": aid,
                    "field": None,
                    "before": None,
                    "after": None,
                },
            )
        )
    compare = [(i, f, _AT[f]) for i, f in enumerate(DIFF_FIELDS) if f in fields]
    both = [(k, k) for k in a.keys() & b.keys()] + pairs
    for old, new in both:
        ra, rb = a[old], b[new]
        if ra == rb and old == new:
            continue
        for i, field, at in compare:
            if ra[at] != rb[at]:
                out.append(
                    (
                        2,
                        rb[s] or "",
                        new,
                        i,
                        {
                            "change": "changed",
                            "state": rb[s],
                            "agency": rb[ag],
                            "model": rb[m],
                            "agreement_id": new,
                            "field": field,
                            "before": _text(ra[at]),
                            "after": _text(rb[at]),
                        },
                    )
                )
    out.sort(key=lambda t: t[:4])
    return [t[4] for t in out]


def diff_frames(
    a, b, fields: tuple[str, ...] = DIFF_FIELDS, cutoff: float | None = RENAME_CUTOFF
) -> pd.DataFrame:
    """Changes from rows `a` to rows `b` (DataFrames or Arrow tables of snapshot columns,
    at least agreement_id, state, agency, model) as a DataFrame of ``DIFF_COLUMNS``.
    `cutoff=None` turns rename matching off."""
    ra = a if isinstance(a, dict) else records(a)
    rb = b if isinstance(b, dict) else records(b)
    return pd.DataFrame(diff_records(ra, rb, fields, cutoff), columns=DIFF_COLUMNS, dtype=object)


def old_id(rec) -> str:
    """The agreement id before a rename record (rebuilt from `before` as the normalizer
    builds ids)."""
    from ice287g.normalize.apply import agency_id, agreement_id

    return agreement_id(agency_id(rec["state"], rec["before"]), rec["model"])


def comparable_fields(columns_a, columns_b) -> tuple[str, ...]:
    """The DIFF_FIELDS whose source column both versions' headers carry."""

    def folded(cols) -> set[str]:
        return {header_key(c) for c in (cols if cols is not None else [])}

    ha, hb = folded(columns_a), folded(columns_b)
    return tuple(
        f
        for f in DIFF_FIELDS
        if FIELD_COLUMN.get(f) is None or (FIELD_COLUMN[f] in ha and FIELD_COLUMN[f] in hb)
    )


def diff_versions(store, va, vb) -> tuple[pd.DataFrame, tuple[str, ...], int, int]:
    """Diff two catalog versions of a store: (changes, fields compared, agreements in a,
    agreements in b). Fields are compared only where both workbooks have the column."""
    fields = comparable_fields(va["columns"], vb["columns"])
    ra, rb = (records(store.read_snapshot(v["snapshot"], columns=READ_COLUMNS)) for v in (va, vb))
    return diff_frames(ra, rb, fields), fields, len(ra), len(rb)


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
    out, fields, size_a, size_b = diff_versions(store, va, vb)
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

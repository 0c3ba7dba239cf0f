"""The one Arrow schema of snapshot rows, and the schema of the catalog of versions.

The README's data dictionary is generated from the descriptions here (``describe()``), so
the two cannot drift apart.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1"

_str = pa.string()

# (name, type, description)
SNAPSHOT_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("row", pa.int32(), "Row number in ICE's sheet (1 = header)"),
    ("list", _str, "`participating` or `pending` (catalog `list_evidence` says what decided)"),
    ("state", _str, "USPS code (50 states, DC, territories)"),
    ("state_raw", _str, "STATE as typed"),
    ("agency", _str, "Agency name, whitespace/NBSP/apostrophes cleaned"),
    ("agency_raw", _str, "LAW ENFORCEMENT AGENCY as typed"),
    ("agency_type", _str, "`county` / `municipality` / `state` / `tribal` / `other`"),
    ("agency_type_raw", _str, "TYPE as typed"),
    ("county", _str, "County (or parish, borough) name, cleaned; missing for `#N/A`"),
    ("county_raw", _str, "COUNTY as typed (Excel errors as their text, e.g. `#N/A`)"),
    ("county_fips", _str, "5-digit county FIPS code where state + county resolve"),
    ("model", _str, "Support model: `JEM`, `TFM`, `WSO` or `TTFM` (Tribal Task Force)"),
    ("model_raw", _str, "SUPPORT TYPE as typed"),
    ("signed", pa.date32(), "Date the agreement was signed (participating only)"),
    ("signed_raw", _str, "SIGNED as stored: ISO date for date cells, else the text"),
    ("moa_url", _str, "Canonical https://www.ice.gov/... URL of the signed MOA PDF"),
    ("moa_status", _str, "`available` (URL known) / `pending` (link pending) / `missing`"),
    ("moa_text_raw", _str, "MOA cell text as typed (usually `link`)"),
    ("moa_link_raw", _str, "MOA cell hyperlink target as stored"),
    ("addendum_url", _str, "Canonical URL of the addendum PDF, if any"),
    ("addendum_status", _str, "`available` / `pending` / `missing`; empty when no addendum"),
    ("addendum_text_raw", _str, "ADDENDUM cell text as typed"),
    ("addendum_link_raw", _str, "ADDENDUM cell hyperlink target as stored"),
    ("agency_id", _str, "Stable agency key `ST:name` (case, spacing, punctuation ignored)"),
    ("agreement_id", _str, "Stable agreement key `ST:name:MODEL`"),
    ("hidden", pa.bool_(), "Row was hidden by a saved filter in ICE's file (still data)"),
    ("flags", pa.list_(_str), "Corrections and problems on this row (see README)"),
    ("extra", _str, "JSON object of values under columns this version does not know"),
]
SNAPSHOT_SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in SNAPSHOT_FIELDS])

# The columns `latest` shows by default.
CANONICAL_COLUMNS = [
    "state",
    "agency",
    "agency_type",
    "county",
    "county_fips",
    "model",
    "signed",
    "moa_url",
    "moa_status",
    "addendum_url",
    "agency_id",
    "agreement_id",
    "flags",
]

CATALOG_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("list", _str, "`participating` or `pending`"),
    ("date", pa.date32(), "Publication date"),
    ("seq", pa.int16(), "Order within the day, 1 = first (by name suffix, then saved time)"),
    ("sha256", _str, "SHA-256 of the raw workbook bytes: the version's identity"),
    ("rows", pa.int32(), "Data rows (exact duplicates included, as ICE lists them)"),
    ("file_name", _str, "Name the workbook was first stored under"),
    ("date_source", _str, "`iso_name`, `ice_name`, `saved_time` or `observed`"),
    ("name_suffix", _str, "Half-day suffix of ICE's name (`am`, `pm`, `mid`, `pmB`, ...)"),
    ("suffix_rank", pa.int16(), "Sort key of the suffix within a day"),
    ("saved_at", pa.timestamp("s", tz="UTC"), "Workbook's own last-saved time"),
    ("sheet", _str, "Sheet the rows were read from"),
    ("columns", pa.list_(_str), "Header cells as they appear in the workbook"),
    (
        "flags",
        pa.list_(_str),
        "Version-level flags (header_only, new_layout, list_conflict:…, name_year_fixed, ...)",
    ),
    ("bytes", pa.int64(), "Size of the raw workbook"),
    ("snapshot", _str, "Snapshot path relative to the data directory"),
    ("raw", _str, "Raw file path relative to the data directory"),
    ("ingested_at", pa.timestamp("s", tz="UTC"), "When this store first saw the bytes"),
    ("suspect", pa.bool_(), "Version looks broken (mass drop then recovery, empty pending)"),
    ("suspect_reason", _str, "Why it is suspect"),
    ("schema_version", _str, "Snapshot schema version"),
    ("layout", _str, "Known header layout it matched (`LAYOUTS`); empty for a new layout"),
    (
        "list_evidence",
        pa.list_(_str),
        "Signals that decided the list, strongest first (`signed_dates`, `layout`, `name`, ...)",
    ),
    (
        "snapshot_sha256",
        _str,
        "SHA-256 of the snapshot file as written (`verify` checks it; `repair` fills it in)",
    ),
]
CATALOG_SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in CATALOG_FIELDS])


def describe() -> str:
    """Markdown data dictionary of snapshot rows and the catalog."""
    out = ["| column | type | meaning |", "|---|---|---|"]
    out += [f"| `{n}` | {t} | {d} |" for n, t, d in SNAPSHOT_FIELDS]
    out += ["", "| catalog column | type | meaning |", "|---|---|---|"]
    out += [f"| `{n}` | {t} | {d} |" for n, t, d in CATALOG_FIELDS]
    return "\n".join(out)

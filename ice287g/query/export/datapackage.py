"""The Frictionless Data Package descriptor of an export (Data Package / Table Schema
specifications, written by hand, no library): every file with its format, size, sha256 and
every column with its type and description; the sources and the license."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from ice287g.query.export.files import MEDIATYPES
from scrapers.discover import DEFAULT_SOURCE

# ICE's lists are works of the U.S. government: not subject to copyright (17 U.S.C. § 105).
LICENSE = {
    "name": "other-pd",
    "title": "U.S. Government Work: public domain in the United States (17 U.S.C. 105)",
    "path": "https://www.usa.gov/government-works",
}


def frictionless_type(arrow_type, fmt: str) -> str:
    """Table Schema type of an Arrow type (list columns: arrays in Parquet, text in CSV)."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    if pa.types.is_list(arrow_type):
        # Frictionless reads a Parquet list as a NumPy array, which its `array` type
        # refuses: `any` holds it. CSV and XLSX carry the list as `;`-joined text.
        return "any" if fmt == "parquet" else "string"
    return "string"


def resource(
    path: Path,
    table,
    descriptions: dict[str, str],
    title: str,
    text: str,
    fmt: str,
    sha256: str | None = None,
):
    """The Data Package resource of a written table file: format, size, sha256 (`sha256`
    when the caller knows it) and every column with its Table Schema type and description;
    only `table`'s schema is read."""
    import pyarrow as pa

    size = path.stat().st_size
    if sha256 is None:
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "name": path.name.split(".")[0].replace("_", "-"),
        "path": path.name,
        "title": title,
        "description": text,
        "profile": "tabular-data-resource",
        "format": fmt,
        "mediatype": MEDIATYPES[fmt],
        **({"encoding": "utf-8"} if fmt == "csv" else {}),
        # Frictionless reads Parquet with pyarrow, past its byte counter: a `bytes` there
        # always fails validation, so a Parquet file carries only its hash.
        **({} if fmt == "parquet" else {"bytes": size}),
        "hash": "sha256:" + sha256,
        "schema": {
            "fields": [
                {
                    "name": f.name,
                    "type": frictionless_type(f.type, fmt),
                    **(
                        {"format": "%Y-%m-%dT%H:%M:%S%z"}
                        if pa.types.is_timestamp(f.type) and fmt == "csv"
                        else {}
                    ),
                    "description": descriptions[f.name],
                }
                for f in table.schema
            ]
        },
    }


def write_descriptor(directory: Path, resources: list[dict]) -> Path:
    """``datapackage.json`` of `resources` in `directory` (atomically); returns its path."""
    from ice287g.store.files import atomic_write

    package = {
        "profile": "tabular-data-package",
        "name": "ice-287g-agreements",
        "title": "ICE 287(g) agreements: versioned record",
        "description": "Every version of ICE's lists of law-enforcement agencies with "
        "(participating) or applying for (pending) a 287(g) agreement, "
        "normalized, with the agreement history built from them.",
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "sources": [
            {
                "title": "U.S. Immigration and Customs Enforcement, 287(g) program",
                "path": DEFAULT_SOURCE,
            }
        ],
        "licenses": [LICENSE],
        "contributors": [{"title": "ice287g", "role": "author"}],
        "resources": resources,
    }
    descriptor = directory / "datapackage.json"
    atomic_write(
        descriptor,
        (json.dumps(package, indent=2, ensure_ascii=False, default=str) + "\n").encode(),
        sync=False,
    )
    return descriptor

"""The files of ``data/``: each table as Parquet and CSV (the long versions table as gzip CSV),
a Frictionless ``datapackage.json`` describing them, and ``checksums.sha256``.

Every file is a pure function of the store: the same store gives the same bytes (gzip
without a timestamp, no "created now"), so an unchanged file is never uploaded again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ice287g.publish.cache import remember, sha256_file
from ice287g.publish.tables import Table
from ice287g.query.export import LICENSE, csv_bytes, resource
from ice287g.store.files import parquet_bytes, sha256_bytes
from scrapers.discover import DEFAULT_SOURCE

# Tables large enough that their CSV is published gzip-compressed.
GZIP_CSV = frozenset({"versions"})
GZIP_LEVEL = 6
PACKAGE_NAME = "ice-287g-agreements"
PACKAGE_TITLE = "ICE 287(g) agreements: the versioned public record"
PACKAGE_DESCRIPTION = (
    "Every version of ICE's lists of law-enforcement agencies with (participating) or "
    "applying for (pending) a 287(g) agreement, normalized, with the agreements' life story, "
    "the change log and daily counts. The lists are a U.S. government work; the corrections "
    "are marked on every row and the values as ICE typed them are kept beside them."
)
SOURCE_TITLE = "U.S. Immigration and Customs Enforcement, 287(g) program"
CHECKSUMS = "checksums.sha256"


def write_bytes(path: Path, data: bytes, digest: str | None = None) -> None:
    """Write `data` at `path` and remember its sha256 (`digest`, when the caller has it),
    so the checksums and the sync do not read the file again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    remember(path, digest or sha256_bytes(data))


def write_tables(tables: list[Table], folder: Path) -> list[dict]:
    """Write each table as Parquet and CSV into `folder` (a table's file found in the cache,
    ``Table.cached``, is linked there, not written again); their Data Package resources."""
    resources = []
    for t in tables:
        parquet = folder / f"{t.name}.parquet"
        if "parquet" in t.cached:
            link(t.cached["parquet"], parquet)
        else:
            write_bytes(parquet, parquet_bytes(t.table))
        resources.append(_resource(parquet, t, "parquet"))
        if t.name in GZIP_CSV:
            csv = folder / f"{t.name}.csv.gz"
            link(t.cached["csv.gz"], csv)
            res = _resource(csv, t, "csv")
            res["compression"] = "gz"
        else:
            csv = folder / f"{t.name}.csv"
            if "csv" in t.cached:
                link(t.cached["csv"], csv)
            else:
                write_bytes(csv, csv_bytes(t.table))
            res = _resource(csv, t, "csv")
        resources.append(res)
    return resources


def place(part, path: Path) -> None:
    """A ``concat.Part`` at `path`: a link to its file when it is a whole cached file, else
    its bytes written."""
    if part.path is not None and part.start == 0 and part.size == part.stamp[0]:
        link(part.path, path)
    else:
        write_bytes(path, part.read())


def link(cached: Path, path: Path) -> None:
    """`path` as a hard link to a cached file (a copy on another file system); the site's
    staging folder is removed after publishing, and the cache never writes a file in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    digest = sha256_file(cached)
    try:
        os.link(cached, path)
    except OSError:
        shutil.copyfile(cached, path)
    remember(path, digest)


def _resource(path: Path, t: Table, fmt: str) -> dict:
    res = resource(path, t.table, t.fields, t.title, t.description, fmt, sha256_file(path))
    res["name"] = f"{t.name.replace('_', '-')}-{fmt}"
    if fmt == "parquet":  # frictionless cannot check it; checksums.sha256 has it
        del res["hash"]
    return res


def write_datapackage(folder: Path, resources: list[dict], created: str, homepage: str | None):
    """``datapackage.json`` (Data Package, tabular): the resources, license and source."""
    package = {
        "profile": "tabular-data-package",
        "name": PACKAGE_NAME,
        "title": PACKAGE_TITLE,
        "description": PACKAGE_DESCRIPTION,
        "created": created,
        **({"homepage": homepage} if homepage else {}),
        "licenses": [LICENSE],
        "sources": [{"title": SOURCE_TITLE, "path": DEFAULT_SOURCE}],
        "contributors": [{"title": "ice287g", "role": "author"}],
        "resources": resources,
    }
    path = folder / "datapackage.json"
    write_bytes(path, (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode())
    return path


def write_checksums(folder: Path) -> Path:
    """``checksums.sha256`` of every other file of `folder`, in ``sha256sum -c`` format."""
    path = folder / CHECKSUMS
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p != path
    ]
    write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path

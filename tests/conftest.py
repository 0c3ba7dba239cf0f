"""Shared fixtures: the real corpus (skipped with a reason when absent) and a workbook builder."""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ICE287G_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "ice-corpus"
CORPUS_FILES = CORPUS / "files"
MOA_SAMPLES = SHARED / "moa-samples"

PARTICIPATING_HEADER = [
    "STATE",
    "LAW ENFORCEMENT AGENCY",
    "TYPE",
    "COUNTY",
    "SUPPORT TYPE",
    "SIGNED",
    "MOA",
    "ADDENDUM",
]
PENDING_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"]


def corpus_or_skip() -> Path:
    if not CORPUS_FILES.is_dir():
        pytest.skip(
            f"real ICE corpus not found at {CORPUS_FILES} (needs ../shared beside the repo)"
        )
    return CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_or_skip()


@pytest.fixture(scope="session")
def expected_counts(corpus) -> dict[str, dict]:
    with open(corpus / "expected_counts.csv", newline="") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def manifest(corpus) -> dict[str, dict]:
    with open(corpus / "MANIFEST.csv", newline="") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


def build_workbook(
    header: list,
    rows: list[list],
    *,
    links: dict | None = None,
    hidden: tuple[int, ...] = (),
    sheet: str = "Sheet1",
    saved: datetime | None = datetime(2025, 4, 3, 18, 0),
    extra_sheets: tuple[str, ...] = (),
    header_row: int = 1,
) -> bytes:
    """A small real .xlsx: `links` maps (row_index, column_name) -> hyperlink target.

    row_index counts data rows from 0. Values starting with '#' that are Excel error codes are
    written as error cells (openpyxl does that for '#N/A', '#REF!', ...). `saved` becomes the
    docProps/core.xml modified time (None: no time).
    """
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for name in extra_sheets:
        wb.create_sheet(name, 0)
    for _ in range(header_row - 1):
        ws.append([])
    ws.append(header)
    for r in rows:
        ws.append(r)
    for (index, column), target in (links or {}).items():
        col = header.index(column) + 1
        ws.cell(row=header_row + 1 + index, column=col).hyperlink = target
    for index in hidden:
        ws.row_dimensions[header_row + 1 + index].hidden = True
    buf = io.BytesIO()
    wb.save(buf)
    return _set_modified(buf.getvalue(), saved)


def _set_modified(data: bytes, saved: datetime | None) -> bytes:
    """openpyxl stamps the save time; put `saved` (or nothing) in docProps/core.xml instead."""
    import re
    import zipfile

    value = (
        b""
        if saved is None
        else (
            b'<dcterms:modified xsi:type="dcterms:W3CDTF">'
            + saved.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            + b"</dcterms:modified>"
        )
    )
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", value, body)
            dst.writestr(info, body)
    return out.getvalue()


def participating_row(
    state="TEXAS",
    agency="Harris County Sheriff's Office",
    typ="County",
    county="Harris County",
    model="Task Force Model",
    signed=datetime(2025, 3, 1),
    moa="link",
    addendum=None,
) -> list:
    return [state, agency, typ, county, model, signed, moa, addendum]


def tree_digest(root: Path) -> dict[str, str]:
    """path -> sha256 of every file below root (to prove a run changed nothing)."""
    import hashlib

    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }

"""Tests for parsers.moa: reading signed 287(g) MOA PDFs.

The sample tests read the 16 real MOAs in ../shared/moa-samples (never copied into the repo)
and are skipped when that directory is absent. Everything else builds its input in memory.
"""

from __future__ import annotations

import json
import os
import stat
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.pdfs import tiny_pdf, wso_page
from support.shared import MOA_SAMPLES as SAMPLES
from support.shared import SAMPLES_MISSING

from parsers.moa import (
    MoaDocument,
    MoaError,
    clean_agency,
    detect_model,
    find_template_revision,
    moa_record,
    ocr_available,
    read_moa,
    read_moa_path,
)

pytestmark = pytest.mark.usefixtures("moa_reads_once")  # each sample read once per run

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=SAMPLES_MISSING)

# Expected reading of every sample. Checked by eye: I read the extracted text of every page and
# looked at rendered page images (page 1 title, PARTIES paragraph and footer of each file, and
# every page that carries any text in the three image-only scans).
#   agency: exact expected agency_text; agency_has: a substring, where the OCR layer is garbled
#   (the comment then says what the page image shows). The agency is what section I says, OCR
#   misspellings included ("Sherifrs", "Pittsburg").
#   revision: the footer as printed, None where the template prints no revision (2019-2020).
EXPECTED: dict[str, dict[str, object]] = {
    # 2020 JEM template: title "287(g) Jail Enforcement Model"; footer has no revision.
    "287gJEM_JacksonvilleCoFl2020-06-09.pdf": dict(
        pages=12, has_text=True, model="JEM", agency="Jacksonville Sheriffs Office", revision=None
    ),
    "287gJEM_PinalCoAz2020-06-09.pdf": dict(
        pages=12, has_text=True, model="JEM", agency="Pinal County Sheriff's Office", revision=None
    ),
    # 2019 WSO template: no model name anywhere; WSO by its functions (custodial transfer, two
    # authorities). Highlands really reads "the HCSO County Sheriffs Office (HCSO)".
    "287gWSO_HighlandsCoFl2019-10-15.pdf": dict(
        pages=12, has_text=True, model="WSO", agency="HCSO County Sheriffs Office", revision=None
    ),
    "287gWSO_MadisonCoFl2019-09-09.pdf": dict(
        pages=12, has_text=True, model="WSO", agency="Madison County Sherifrs Office", revision=None
    ),
    # Image-only scan. The images show "Warrant Service Officer Program" and "Broome County
    # Sheriff's Office" on page 1, but only page 7 (signature page) has a text layer, and its
    # footer reads "Revised 02/15/2025".
    "BroomeCountyNY_WSO_MOA_031025.pdf": dict(
        pages=10, has_text=False, model="unknown", agency=None, revision="Revised 02/15/2025"
    ),
    # 2025 TFM template (no "I. PARTIES" heading; typed-in form fields).
    "FranklinCoAL_TFM_MOA_031825.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency="Franklin County Sheriff's Office, Alabama",
        revision="Revised 03/07/2025",
    ),
    # 2025 JEM template; the agency sits in a small-font form field below the line.
    "GraysonCountyDCKY_JEM_MOA_030425.pdf": dict(
        pages=11,
        has_text=True,
        model="JEM",
        agency="Grayson County Detention Center",
        revision="Revised 02/15/2025",
    ),
    # 2025 TFM without the model title line on page 1: TFM by its functions only.
    # Section I says "Pittsburg Police Department" (the footer says "Pittsburgh ..., NH").
    "PIttsburghPoliceDeptNH_TFM_MOA_03.03.25.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency="Pittsburg Police Department",
        revision="Revised 02/14/2025",
    ),
    # Image-only scan; images show "Warrant Service Officer Program", "Rusk County Sheriff's
    # Office", footer "Rev 2/14/25". Text layer: a stamped date on page 7 only.
    "RuskCoSOTX_WSO_MOA_030425.pdf": dict(
        pages=10, has_text=False, model="unknown", agency=None, revision=None
    ),
    # Image-only scan; images show "287(g) Jail Enforcement Model", "Virginia Department of
    # Corrections", footer "Revised 02/15/2025". Text layer: a date and a name on page 7 only.
    "VADOC_JEM_MOA_022825.pdf": dict(
        pages=12, has_text=False, model="unknown", agency=None, revision=None
    ),
    "crowWingCoMN_TFM_MOA_03.19.25.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency="Crow Wing County Sheriff's Office, MN",
        revision="Revised 03/07/2025",
    ),
    # The image shows "Jackson County Sheriff's Office (JCSO)"; the OCR layer reads it as
    # 'Jacksoo Coooty Sh";w, Office (JCSO)'.
    "jacksonCountySherrifsOffice_TF_MOA_03122025.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency_has="Jacksoo Coooty",
        revision="Revised 02/12/2025",
    ),
    "jeffersonCountySherrifsOffice_TF_MOA_03122025.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency="Jefferson County Sheriff's Office",
        revision="Revised 02/12/2025",
    ),
    "lafayetteCountySherrifsOffice_TF_MOA_03122025.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency="Lafayette County Sheriff's Office",
        revision="Revised 02/12/2025",
    ),
    # Typographic apostrophe in the source, normalised to a plain one.
    "lakeCountySherrifsOffice_TF_MOA_03122025.pdf": dict(
        pages=14,
        has_text=True,
        model="TFM",
        agency="Lake County Sheriff's Office",
        revision="Revised 02/12/2025",
    ),
    # The image shows "NASSAU COUNTY POLICE DEPARTMENT (NCPD)" in a tiny form field; the OCR
    # layer reads "NASSAUCOUNlYPOUCEDEPARTh!ENT[NCPD)".
    "nassauCoPoliceDept_TFM_MOA_03.03.2025.pdf": dict(
        pages=14, has_text=True, model="TFM", agency_has="NASSAUCOUN", revision="Revised 02/12/2025"
    ),
}
REVISION_DATES = {
    "Revised 02/12/2025": "2025-02-12",
    "Revised 02/14/2025": "2025-02-14",
    "Revised 02/15/2025": "2025-02-15",
    "Revised 03/07/2025": "2025-03-07",
    None: None,
}


@cache
def _read_sample(name: str) -> MoaDocument:
    return read_moa_path(SAMPLES / name)


# --- the 16 real samples ---------------------------------------------------------------------


@needs_samples
def test_table_covers_every_sample() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.pdf")) == sorted(EXPECTED)


@needs_samples
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_reads_as_checked_by_eye(name: str) -> None:
    want = EXPECTED[name]
    doc = _read_sample(name)
    assert doc.pages == want["pages"]
    assert doc.has_text is want["has_text"]
    assert doc.model == want["model"], doc.model_evidence
    if "agency_has" in want:
        assert doc.agency_text is not None and str(want["agency_has"]) in doc.agency_text
    else:
        assert doc.agency_text == want["agency"]
    assert doc.template_revision == want["revision"]
    assert doc.template_date == REVISION_DATES[want["revision"]]  # type: ignore[index]
    assert doc.text.count("\f") == doc.pages - 1


@needs_samples
def test_truncated_real_sample_raises_moa_error() -> None:
    # Franklin's file has incremental updates: its first half ends inside an older revision that
    # pdfminer would happily parse, so this guards the end-of-file check specifically.
    for name in ("FranklinCoAL_TFM_MOA_031825.pdf", "lakeCountySherrifsOffice_TF_MOA_03122025.pdf"):
        data = (SAMPLES / name).read_bytes()
        with pytest.raises(MoaError) as err:
            read_moa(data[: len(data) // 2], name)
        assert name in str(err.value)
        assert "truncated" in err.value.problem


@needs_samples
def test_corrupt_body_with_eof_marker_raises_moa_error() -> None:
    name = "lakeCountySherrifsOffice_TF_MOA_03122025.pdf"
    data = (SAMPLES / name).read_bytes()
    with pytest.raises(MoaError) as err:
        read_moa(data[: len(data) // 2] + b"\n%%EOF\n", name)
    assert str(err.value).startswith(f"{name}: corrupt PDF")
    assert "Traceback" not in str(err.value)


@needs_samples
def test_moa_record_of_a_real_sample_is_flat_json() -> None:
    name = "GraysonCountyDCKY_JEM_MOA_030425.pdf"
    record = moa_record(_read_sample(name), SAMPLES / name)
    assert json.loads(json.dumps(record)) == {
        "file": str(SAMPLES / name),
        "pages": 11,
        "has_text": True,
        "model": "JEM",
        "agency_text": "Grayson County Detention Center",
        "template_revision": "Revised 02/15/2025",
    }


# --- bad input -------------------------------------------------------------------------------

HTML_404 = (
    b"<!DOCTYPE html>\n<html><head><title>Page not found</title></head><body>404</body></html>"
)


def test_html_page_served_as_pdf_raises_moa_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "287gWSO_SomewhereCoTX.pdf"
    path.write_bytes(HTML_404)
    with pytest.raises(MoaError) as err:
        read_moa_path(path)
    assert isinstance(err.value, ValueError)
    assert err.value.name == str(path)
    assert str(err.value).startswith(f"{path}: not a PDF")
    assert "HTML" in err.value.problem


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty file"),
        (b"PK\x03\x04 zip archive", "not a PDF"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog", "truncated"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", "corrupt PDF"),
    ],
)
def test_bad_bytes_raise_moa_error(data: bytes, problem: str) -> None:
    with pytest.raises(MoaError) as err:
        read_moa(data, "x.pdf")
    assert str(err.value).startswith("x.pdf: ")
    assert problem in err.value.problem


def test_missing_file_raises_moa_error(tmp_path: Path) -> None:
    with pytest.raises(MoaError, match="cannot read file"):
        read_moa_path(tmp_path / "absent.pdf")


@given(body=st.binary(max_size=2000))
def test_arbitrary_pdf_like_bytes_never_leak_pdfminer_errors(body: bytes) -> None:
    try:
        read_moa(b"%PDF-1.4\n" + body + b"\n%%EOF\n", "fuzz.pdf")
    except MoaError as err:
        assert str(err).startswith("fuzz.pdf: ")


# --- a hand-made PDF: end to end without the shared samples -----------------------------------


WSO_2019_PAGE = wso_page()


def test_hand_made_wso_pdf_reads_end_to_end() -> None:
    doc = read_moa(tiny_pdf([WSO_2019_PAGE, WSO_2019_PAGE]), "example.pdf")
    assert (doc.pages, doc.has_text, doc.text_pages) == (2, True, 2)
    assert doc.model == "WSO"
    assert doc.agency_text == "Example County Sheriff's Office"
    assert (doc.template_revision, doc.template_date) == ("Rev 2/14/25", "2025-02-14")
    assert moa_record(doc, "example.pdf") == {
        "file": "example.pdf",
        "pages": 2,
        "has_text": True,
        "model": "WSO",
        "agency_text": "Example County Sheriff's Office",
        "template_revision": "Rev 2/14/25",
    }


def test_mostly_blank_pdf_has_no_text_layer() -> None:
    doc = read_moa(tiny_pdf([[], WSO_2019_PAGE, [], []]), "scan.pdf")
    assert doc.pages == 4
    assert doc.text_pages == 1
    assert doc.has_text is False  # one text page out of four is not a text layer


def test_whitespace_only_page_is_not_text() -> None:
    doc = read_moa(tiny_pdf([[" " * 80] * 30]), "blank.pdf")
    assert (doc.has_text, doc.model, doc.agency_text, doc.template_revision) == (
        False,
        "unknown",
        None,
        None,
    )


# --- optional OCR hook (with a stand-in tesseract) ---------------------------------------------


def _fake_tesseract(bin_dir: Path, text: str) -> None:
    script = bin_dir / "tesseract"
    script.write_text(f"#!/bin/sh\ncat > /dev/null\ncat <<'EOF'\n{text}\nEOF\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_ocr_hook_fills_blank_pages_when_tesseract_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tesseract(tmp_path, "\n".join(WSO_2019_PAGE))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert ocr_available()
    blank = tiny_pdf([[], []])
    plain = read_moa(blank, "scan.pdf")
    assert (plain.model, plain.ocr_pages) == ("unknown", 0)
    ocred = read_moa(blank, "scan.pdf", ocr=True)
    assert ocred.ocr_pages == 2
    assert ocred.has_text is False  # still describes the PDF's own text layer
    assert ocred.model == "WSO"
    assert ocred.agency_text == "Example County Sheriff's Office"


def test_ocr_request_without_tesseract_leaves_pages_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no tesseract
    assert not ocr_available()
    doc = read_moa(tiny_pdf([[]]), "scan.pdf", ocr=True)
    assert (doc.ocr_pages, doc.text, doc.model) == (0, "", "unknown")


# --- the rule table and string helpers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "model"),
    [
        ("MEMORANDUM OF AGREEMENT 287(g) Jail Enforcement Model I. PARTIES", "JEM"),
        ("MEMORANDUM OF AGREEMENT\n287(g) Task Force Model\n", "TFM"),
        ("MEMORANDUM OF AGREEMENT\nWarrant Service Officer Program\nI. PARTIES", "WSO"),
        ("MEMORANDUM OF AGREEMENT\n287(g) Tribal Task Force Model\n", "TTFM"),
        # functions only (older templates, or a title lost to OCR)
        (
            "assigned to various units, teams, or task forces ... the power and authority to "
            "arrest without a warrant any alien ... likely to escape before a warrant",
            "TFM",
        ),
        (
            "officers assigned to detention duties ... the power and authority to interrogate "
            "any person detained in the participating law enforcement agency's detention center",
            "JEM",
        ),
        (
            "to promote public safety by facilitating the custodial\ntransfer of specific aliens "
            "... only delegated the two authorities listed below",
            "WSO",
        ),
        # OCR glued words and broke lines
        (
            "promote public safety byfacilitating the\ncustodial transfer; delegated"
            " thetwo authorities",
            "WSO",
        ),
        # a title outweighs incidental function wording of another model
        (
            "287(g) Jail Enforcement Model ... arrest without a warrant ... task force officers",
            "JEM",
        ),
        # not enough evidence, or evenly split evidence: do not guess
        ("", "unknown"),
        ("MEMORANDUM OF AGREEMENT between ICE and the Sheriff", "unknown"),
        ("the power to arrest without warrant", "unknown"),
        (
            "assigned to detention duties; arrested and booked into; task force officers; "
            "arrest without a warrant",
            "unknown",
        ),
    ],
)
def test_detect_model(text: str, model: str) -> None:
    assert detect_model(text)[0] == model


def test_detect_model_reports_its_evidence() -> None:
    model, evidence = detect_model("287(g) Task Force Model; task force officers")
    assert model == "TFM"
    assert evidence == ("TFM: names the Task Force Model", "TFM: task force officers")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rusk County Sheriff's Office   Rev 2/14/25 1", ("Rev 2/14/25", "2025-02-14")),
        ("Franklin County 3 Revised 03/07/2025", ("Revised 03/07/2025", "2025-03-07")),
        ("Revised 02/ 12/2025", ("Revised 02/12/2025", "2025-02-12")),
        # OCR-mangled footers lose the vote to the clean ones
        (
            "Revised 02/11/2025\fRev sed 02/14/2025\fRevised 02/1412025\fRevised 02/14/2025\f"
            "Revised 02/14/2025",
            ("Revised 02/14/2025", "2025-02-14"),
        ),
        ("Revised 13/45/2025", (None, None)),
        ("dated December 2014; page 7 of 12", (None, None)),
    ],
)
def test_find_template_revision(text: str, expected: tuple[str | None, str | None]) -> None:
    assert find_template_revision(text) == expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Madison County Sherifrs Office (MCSO)", "Madison County Sherifrs Office"),
        ("Jefferson County Sheriff's Office ,", "Jefferson County Sheriff's Office"),
        ("Lake County\nSheriff\u2019s  Office", "Lake County Sheriff's Office"),
        ("_Fr_an_kl_in_ C_ou_nt_y(cid:3) Office", "Franklin County Office"),
        ("NASSAUCOUNlYPOUCEDEPARTh!ENT[NCPD)", "NASSAUCOUNlYPOUCEDEPARTh!ENT"),
        ("(cid:3), ", None),
        ("", None),
    ],
)
def test_clean_agency(raw: str, clean: str | None) -> None:
    assert clean_agency(raw) == clean


def test_moa_record_keys_are_the_cli_contract() -> None:
    doc = MoaDocument(
        name="a.pdf",
        pages=3,
        has_text=False,
        model="unknown",
        agency_text=None,
        template_revision=None,
        template_date=None,
    )
    record = moa_record(doc, Path("dir/a.pdf"))
    assert list(record) == [
        "file",
        "pages",
        "has_text",
        "model",
        "agency_text",
        "template_revision",
    ]
    assert record["file"] == os.path.join("dir", "a.pdf")
    assert json.loads(json.dumps(record)) == record


# --- benchmark helper ---------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_bench_counts_pages_and_failures(tmp_path: Path, workers: int) -> None:
    from bench.moa_reader import bench

    good = tmp_path / "good.pdf"
    good.write_bytes(tiny_pdf([WSO_2019_PAGE, [], WSO_2019_PAGE]))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(HTML_404)
    result = bench([good, bad, good], workers=workers)
    counts = (result["files"], result["failed"], result["pages"], result["workers"])
    assert counts == (3, 1, 6, workers)
    assert result["seconds"] > 0 and result["pages_per_second"] > 0
    assert result["peak_rss_mb"] >= result["rss_self_mb"] > 0

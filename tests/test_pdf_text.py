"""parsers.pdf_text: a page's characters and text exactly as pdfplumber reads them, cheaper.

The proof is a comparison with pdfplumber itself (``page.chars``, ``page.extract_text()``, the
same after ``page.filter``), on hand-made pages that exercise each case (a moved MediaBox,
rotated pages, rotated, scaled and mirrored text, spacing, kerning, text in Form XObjects,
vertical fonts, characters without Unicode), on generated text (hypothesis) and on real pages
of the samples; and for :class:`FontSharing`, that equal font definitions share one font and
anything else is built as pdfminer builds it.
"""

from __future__ import annotations

import io

import pdfplumber
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pdfminer.pdfinterp import PDFResourceManager
from pdfminer.pdftypes import PDFStream
from pdfminer.psparser import LIT
from support.pdfs import content_pdf, tiny_pdf, wso_page
from support.shared import MOA_SAMPLES, SAMPLES_MISSING

from parsers.moa import MoaError, read_moa
from parsers.pdf_paths import thin_page
from parsers.pdf_text import CHAR_KEYS, FontSharing, PageReadError, page_chars, page_text

_FORM_FIELD = 5  # pdfplumber's y tolerance that the MOA reader uses for the parties paragraph


def _no_blanks(obj: dict) -> bool:
    return not (obj.get("object_type", "char") == "char" and obj["text"] == "_")


def pdfplumber_reading(page) -> tuple:
    """What pdfplumber itself reads of ``page``: its characters (the keys text layout uses),
    its text, and its text without underscores and with a 5pt y tolerance."""
    chars = [{key: char[key] for key in CHAR_KEYS} for char in page.chars]
    filtered = page.filter(_no_blanks).extract_text(y_tolerance=_FORM_FIELD)
    return chars, page.extract_text(), filtered


def our_reading(page, fonts) -> tuple:
    chars = page_chars(page, fonts)
    filtered = page_text(page, [c for c in chars if _no_blanks(c)], y_tolerance=_FORM_FIELD)
    return chars, page_text(page, chars), filtered


def both_readings(pdf: bytes, pages: list[int] | None = None) -> tuple[list, list]:
    """(pdfplumber's, ours) for each page (or the given page indexes) of ``pdf``, each page
    read the same way first (its unpainted paths thinned, as the MOA reader does); an error
    is compared by its type and message."""
    readings: tuple[list, list] = ([], [])
    for side, read in enumerate((pdfplumber_reading, our_reading)):
        try:
            with pdfplumber.open(io.BytesIO(pdf)) as doc:
                fonts = FontSharing()
                for index in range(len(doc.pages)) if pages is None else pages:
                    page = doc.pages[index]
                    thin_page(page.page_obj)
                    readings[side].append(read(page) if side == 0 else read(page, fonts))
        except Exception as exc:  # noqa: BLE001 - the same failure either way is the check
            cause = exc.__cause__ or exc.__context__ or exc
            readings[side].append((type(cause).__name__, str(exc)))
    return readings


def assert_read_alike(pdf: bytes, pages: list[int] | None = None) -> list:
    theirs, ours = both_readings(pdf, pages)
    assert ours == theirs
    assert [repr(page) for page in ours] == [repr(page) for page in theirs]  # -0.0, 1 vs 1.0
    return ours


# --- hand-made pages ---------------------------------------------------------------------------

# A Type0 font with Identity-H or Identity-V encoding and no ToUnicode: characters without
# Unicode ("(cid:N)"), written left to right or top to bottom.
_CID_FONT = (
    "<< /Type /Font /Subtype /Type0 /BaseFont /Minimal /Encoding /Identity-{0} "
    "/DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Minimal "
    "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
    "/FontDescriptor << /Type /FontDescriptor /FontName /Minimal /Flags 4 "
    "/FontBBox [0 -200 1000 800] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 "
    "/StemV 80 >> /DW 600 /W [1 [500 700] 3 5 400] >>] >>"
)
CID_FONTS = f"/H1 {_CID_FONT.format('H')} /V1 {_CID_FONT.format('V')}"

TEXT = b"BT /F1 11 Tf 72 700 Td (Homeland Security \\(DHS\\), and the) Tj T* ET\n"
FORM = b"BT /F1 9 Tf 10 20 Td (in a form: Sheriff's Office) Tj ET\n"


@pytest.mark.parametrize(
    ("content", "options"),
    [
        (TEXT, {}),
        (TEXT, {"mediabox": "36 18.5 648 810.25"}),  # origin moved: pdfplumber shifts back
        (TEXT, {"page_entries": "/Rotate 90"}),
        (TEXT, {"page_entries": "/Rotate 270", "mediabox": "10 20 600 800"}),
        (TEXT, {"page_entries": "/CropBox [50 50 500 700]"}),
        # rotated, mirrored, skewed and scaled text; rise, spacing, horizontal scaling, kerning
        (
            b"BT /F1 10 Tf 0 1 -1 0 300 200 Tm (turned a quarter) Tj "
            b"-1 0 0 1 400 500 Tm (mirrored) Tj 1 0 0 -1 100 100 Tm (upside) Tj "
            b"1 0.2 0.3 1 50 400 Tm (skewed) Tj 2 0 0 0.5 50 300 Tm (scaled) Tj ET\n"
            b"BT /F1 12 Tf 72 600 Td 3 Ts 1.5 Tc 4 Tw 80 Tz (spaced out words) Tj "
            b"0 Ts 0 Tc 0 Tw 100 Tz [(Ke) 120 (rn) -300 (ed)] TJ 14 TL T* (next line) ' "
            b'3 Tr (invisible OCR layer) Tj 0 Tr 2 4 (quoted) " '
            b"-100 Tz (mirrored by scaling) Tj ET\n",
            {},
        ),
        # text in Form XObjects, drawn twice (moved and scaled), between lines and images
        (
            b"q 1 0 0 1 0 0 cm /Fm1 Do Q q 0.5 0 0 0.5 200 300 cm /Fm1 Do Q\n"
            + TEXT
            + b"0 0 m 612 792 l S 10 10 100 20 re f\n"
            + b"BI /W 2 /H 1 /BPC 8 /CS /G ID \x00\xff EI\n",
            {"forms": {"Fm1": FORM}},
        ),
        # no Unicode for the characters, written horizontally and vertically
        (
            b"BT /H1 12 Tf 72 700 Td <000100020003> Tj ET\n"
            b"BT /V1 12 Tf 300 700 Td <000100020004> Tj [<0001> 200 <0002>] TJ ET\n"
            b"BT /V1 8 Tf 0 1 -1 0 400 300 Tm <0003> Tj ET\n",
            {"fonts": CID_FONTS},
        ),
        (b"0 0 m 1 1 l S\n", {}),  # no characters at all
    ],
)
def test_hand_made_pages_read_as_pdfplumber_reads_them(content: bytes, options: dict) -> None:
    pages = assert_read_alike(content_pdf([[content], [TEXT]], **options))
    assert len(pages) == 2 and all(isinstance(page, tuple) for page in pages)
    assert len(pages[1][0]) > 20  # the second page's characters


def test_vertical_and_unmapped_characters_are_read_as_pdfminer_reads_them() -> None:
    pdf = content_pdf([[b"BT /V1 12 Tf 300 700 Td <00010002> Tj ET\n"]], fonts=CID_FONTS)
    ((chars, text, _),) = assert_read_alike(pdf)
    assert [c["text"] for c in chars] == ["(cid:1)", "(cid:2)"]
    assert chars[0]["top"] < chars[1]["top"] and chars[0]["x0"] == chars[1]["x0"]
    assert text == "(cid:1)\n(cid:2)"  # upright characters one below the other: two lines


def test_underscores_of_a_form_blank_can_be_left_out() -> None:
    line = b"BT /F1 11 Tf 72 700 Td (and ____________) Tj /F1 8 Tf 20 -3 Td (Lake County) Tj ET\n"
    ((chars, text, filtered),) = assert_read_alike(content_pdf([[line]]))
    assert "_" in text and "_" not in filtered and "Lake County" in filtered
    assert sum(c["text"] == "_" for c in chars) == 12


def test_the_text_of_a_whole_moa_page() -> None:
    ((chars, text, _),) = assert_read_alike(tiny_pdf([wso_page()]))
    # Helvetica's standard encoding draws ' as a right quotation mark; runs of spaces are gaps
    want = [" ".join(line.replace("'", "\u2019").split()) for line in wso_page()]
    assert text.splitlines() == want
    assert {c["upright"] for c in chars} == {True}


# --- generated text ------------------------------------------------------------------------------

_NUM = st.one_of(st.integers(-20, 700).map(str), st.floats(-3, 3).map(lambda x: f"{x:.3f}"))
_WORDS = st.sampled_from(["Sheriff", "(DHS), and", "a \\(b\\)", "____", "   ", "x"])
_MATRIX = st.sampled_from(
    ["1 0 0 1", "0 1 -1 0", "-1 0 0 1", "1 0 0 -1", "0 -1 1 0", "2 0 0 0.5", "1 0.2 0.3 1"]
)
_TEXT_OP = st.one_of(
    st.tuples(_MATRIX, _NUM, _NUM).map(lambda t: f"{t[0]} {t[1]} {t[2]} Tm"),
    st.tuples(st.sampled_from(["/F1", "/H1", "/V1"]), st.integers(-4, 30)).map(
        lambda t: f"{t[0]} {t[1]} Tf"
    ),
    st.tuples(_NUM, st.sampled_from(["Tc", "Tw", "Ts", "TL"])).map(" ".join),
    st.integers(-150, 200).map(lambda z: f"{z} Tz"),
    st.tuples(_NUM, _NUM).map(lambda xy: f"{xy[0]} {xy[1]} Td"),
    st.just("T*"),
    _WORDS.map(lambda w: f"({w}) Tj"),
    st.lists(st.one_of(_WORDS.map(lambda w: f"({w})"), _NUM), max_size=4).map(
        lambda parts: f"[{' '.join(parts)}] TJ"
    ),
    st.sampled_from(["<0001 0002> Tj", "<00030004> Tj"]),
)
_BLOCK = st.lists(_TEXT_OP, max_size=12).map(lambda ops: "BT /F1 10 Tf " + " ".join(ops) + " ET")
_GRAPHICS = st.one_of(
    st.tuples(_MATRIX, _NUM, _NUM).map(lambda t: f"q {t[0]} {t[1]} {t[2]} cm"),
    st.sampled_from(["Q", "/Fm1 Do", "0 0 m 5 5 l S", "1 1 9 9 re f"]),
)


@given(
    blocks=st.lists(st.one_of(_BLOCK, _GRAPHICS), min_size=1, max_size=6),
    box=st.sampled_from(["0 0 612 792", "36 18 648 810", "-10 -10 300 400"]),
    rotate=st.sampled_from([0, 90, 180, 270]),
)
def test_any_text_reads_as_pdfplumber_reads_it(blocks: list[str], box: str, rotate: int) -> None:
    pdf = content_pdf(
        [["\n".join(blocks).encode("latin-1")]],
        mediabox=box,
        page_entries=f"/Rotate {rotate}",
        fonts=CID_FONTS,
        forms={"Fm1": FORM},
    )
    assert_read_alike(pdf)


# --- errors ------------------------------------------------------------------------------------

BROKEN_FONT = "/B1 << /Type /Font /Subtype /Type0 /BaseFont /NoDescendants >>"


def test_a_page_pdfminer_cannot_read_raises_as_pdfplumber_does() -> None:
    pdf = content_pdf([[b"BT /B1 12 Tf (x) Tj ET\n"]], fonts=BROKEN_FONT)
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        with pytest.raises(PageReadError) as err:
            page_chars(doc.pages[0], FontSharing())
    assert isinstance(err.value.__cause__, KeyError)
    theirs, ours = both_readings(pdf)
    assert ours == theirs == [("KeyError", "'DescendantFonts'")]
    with pytest.raises(MoaError) as moa_err:
        read_moa(pdf, "broken.pdf")
    assert str(moa_err.value) == (
        "broken.pdf: corrupt PDF, pdfminer could not parse it (KeyError: 'DescendantFonts')"
    )


# --- FontSharing ----------------------------------------------------------------------------------


def _font(**entries) -> dict:
    return {"Type": LIT("Font"), "Subtype": LIT("Type1"), "BaseFont": LIT("Helvetica"), **entries}


def _to_unicode(data: bytes) -> PDFStream:
    return PDFStream({"Length": len(data)}, data)


CMAP = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
1 begincodespacerange <00> <FF> endcodespacerange
1 beginbfchar <41> <0042> endbfchar
endcmap CMapName currentdict /CMap defineresource pop end end"""


def test_equal_font_definitions_share_one_font() -> None:
    fonts = FontSharing()
    first = fonts.get_font(11, _font(Widths=[500, 600], ToUnicode=_to_unicode(CMAP)))
    again = fonts.get_font(12, _font(Widths=[500, 600], ToUnicode=_to_unicode(CMAP)))
    assert again is first
    assert fonts.get_font(11, {}) is first  # an object read before is not read again
    assert first.to_unichr(0x41) == "B"  # the CMap was read
    assert fonts.get_font(None, _font(Widths=[500, 600], ToUnicode=_to_unicode(CMAP))) is first


@pytest.mark.parametrize(
    "other",
    [
        _font(Widths=[500, 601], ToUnicode=_to_unicode(CMAP)),
        _font(Widths=[500.0, 600], ToUnicode=_to_unicode(CMAP)),  # 500 and 500.0 stay apart
        _font(Widths=[500, 600], ToUnicode=_to_unicode(CMAP.replace(b"<0042>", b"<0043>"))),
        _font(Widths=[500, 600], ToUnicode=_to_unicode(CMAP), BaseFont=LIT("Courier")),
        _font(Widths=[500, 600]),
    ],
)
def test_different_font_definitions_get_fonts_of_their_own(other: dict) -> None:
    fonts = FontSharing()
    first = fonts.get_font(11, _font(Widths=[500, 600], ToUnicode=_to_unicode(CMAP)))
    assert fonts.get_font(12, other) is not first


def test_a_definition_that_cannot_be_compared_is_built_as_pdfminer_builds_it() -> None:
    looping = _font()
    looping["Self"] = looping
    fonts = FontSharing()
    font = fonts.get_font(None, looping)
    assert font.fontname == PDFResourceManager().get_font(None, looping).fontname == "Helvetica"
    assert fonts.get_font(None, looping) is not font  # never shared
    broken = {"Type": LIT("Font"), "Subtype": LIT("Type0")}
    for manager in (FontSharing(), PDFResourceManager()):
        with pytest.raises(KeyError, match="DescendantFonts"):
            manager.get_font(7, broken)


# --- real pages ---------------------------------------------------------------------------------


@pytest.mark.skipif(not MOA_SAMPLES.is_dir(), reason=SAMPLES_MISSING)
@pytest.mark.parametrize(
    ("name", "pages"),
    [
        # Paper Capture over a scan: fonts of each page's own, text inside Form XObjects
        ("PIttsburghPoliceDeptNH_TFM_MOA_03.03.25.pdf", [0, 1]),
        # Word through Distiller: form fields typed over underscores
        ("GraysonCountyDCKY_JEM_MOA_030425.pdf", [0]),
        # the 2019 scan: a MediaBox of fractional size
        ("287gWSO_HighlandsCoFl2019-10-15.pdf", [0]),
        # a page turned 270 degrees with a stamped date
        ("RuskCoSOTX_WSO_MOA_030425.pdf", [6]),
    ],
)
def test_real_pages_read_as_pdfplumber_reads_them(name: str, pages: list[int]) -> None:
    ours = assert_read_alike((MOA_SAMPLES / name).read_bytes(), pages)
    assert all(len(chars) > 20 for chars, _, _ in ours)

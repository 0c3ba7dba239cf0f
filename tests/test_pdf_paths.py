"""parsers.pdf_paths: runs of unpainted paths dropped from page content, nothing else changed.

The proof that thinning is invisible: pdfplumber reads every object of a page (characters,
lines, curves, rectangles, images) the same with and without it, on generated content streams
(hypothesis) and on real pages of the 2020 samples whose OCR layer is drawn as outlines.
"""

from __future__ import annotations

import io

import pdfplumber
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pdfminer.pdftypes import PDFStream
from support.pdfs import content_pdf
from support.shared import MOA_SAMPLES, SAMPLES_MISSING

from parsers.pdf_paths import drop_unpainted_paths, thin_page

# One glyph outline as the 2020 samples draw it: segments of every kind, closed, never painted.
GLYPH = (
    b"0 0 m\n3.2 7.68 l\n3.36 7.84 3.52 8.32 3.68 8.48 c\n-1.6 2.56 m\n.5 -2.4 4.32 4 v\n"
    b"1 1 +2 2. y\n0 0 612 792 re\nh\nn\n"
)


def read_objects(pdf: bytes, *, thin: bool) -> list:
    """Every object pdfplumber reads from each page, or the error it raises."""
    pages = []
    try:
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            for page in doc.pages:
                if thin:
                    thin_page(page.page_obj)
                pages.append(_comparable(page.objects))
    except Exception as exc:  # noqa: BLE001 - the same failure either way is the check
        return [type(exc).__name__]
    return pages


def _comparable(objects: dict) -> dict:
    """Objects as values: an image's stream by its description, not by identity; and without
    the name pdfminer gives an inline image (from id() of an object: new on every read)."""
    return {
        kind: [
            {k: repr(v) if isinstance(v, PDFStream) else v for k, v in o.items() if k != "name"}
            if kind == "image"
            else o
            for o in objs
        ]
        for kind, objs in objects.items()
    }


def thinned(data: bytes) -> bytes:
    return drop_unpainted_paths(data)[0]


# --- what is dropped and what is kept ----------------------------------------------------------


def test_an_unpainted_outline_becomes_a_bare_n():
    page = b"q 0.75 0 0 -0.75 0 792 cm\n" + GLYPH + b"1 0 0 1 7.8 -0.8 cm\n" + GLYPH + b"Q\n"
    assert drop_unpainted_paths(page) == (
        b"q 0.75 0 0 -0.75 0 792 cm\nn\n1 0 0 1 7.8 -0.8 cm\nn\nQ\n",
        True,
    )
    assert thinned(b"5.28 0 m 5.28 1056 l h W* n\n0 0 1 1 re W n ") == b"n\nn "


def test_a_path_left_open_before_a_dropped_run_is_still_ended_by_its_n():
    content = b"0 0 m 100 100 l q 5 5 m 6 6 l n Q S\n"
    assert thinned(content) == b"0 0 m 100 100 l q n Q S\n"
    pdf = content_pdf([[content]])
    assert read_objects(pdf, thin=True) == read_objects(pdf, thin=False) == [{}]  # nothing drawn


@pytest.mark.parametrize(
    "content",
    [
        b"0 0 m 1 1 l S\n",  # painted: stroked, filled, both
        b"0 0 m 1 1 l h f*\n0 0 1 1 re B\n",
        b"0 0 m 1 1 l n",  # the end of the stream: no whitespace after n
        b"0 0 m 1 1 n\n",  # an operand short: not a run
        b"BT /F1 12 Tf (0 0 m 1 1 l n ) Tj ET\n",  # in strings, nested and escaped
        b"BT (a \\) (b) 0 0 m n \\\\) Tj ET\n",
        b"[ (a) 0 0 m n ] TJ\n",  # in an array, a dictionary, a procedure
        b"/P << /A 0 0 m n >> BDC EMC\n{ 0 0 m n }\n",
        b"BI /W 1 /H 1 ID \x000 0 m n\n EI 0 0 m n\n",  # inline image: stop
        b"/A#20B gs 0 0 m n\n",  # a name with # escapes: stop
    ],
)
def test_painted_paths_and_paths_inside_other_tokens_are_kept(content):
    assert thinned(content) == content


def test_the_scan_stops_at_what_it_does_not_know_and_says_so():
    assert drop_unpainted_paths(b"0 0 m n\n1x 0 0 m n\n") == (b"n\n1x 0 0 m n\n", False)
    assert drop_unpainted_paths(b"0 0 m n\n(unterminated 0 0 m n\n") == (
        b"n\n(unterminated 0 0 m n\n",
        False,
    )
    assert drop_unpainted_paths(b"0 0 m n\n<41>> 0 0 m n\n")[1] is False
    # A stream that ends inside a token: the next stream of the page is left alone.
    assert drop_unpainted_paths(b"0 0 m n\nQ") == (b"n\nQ", False)
    nesting: list[bytes] = []
    assert drop_unpainted_paths(b"[ (a) ", nesting) == (b"[ (a) ", True)
    assert drop_unpainted_paths(b"0 0 m n ] TJ\n", nesting) == (b"0 0 m n ] TJ\n", True)


def test_a_page_drawn_as_outlines_reads_the_same_with_much_less_to_read():
    outlines = b"q 1 0 0 1 72 700 cm\n" + GLYPH * 400 + b"Q\n"
    text = b"BT /F1 11 Tf 72 700 Td (Pinal County Sheriff's Office) Tj ET\n"
    ruled = b"0 0 m 100 0 l S\n10 10 50 20 re f\n"
    pdf = content_pdf([[outlines + text + ruled], [ruled, outlines, text]])
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        thin_page(page.page_obj)
        assert len(page.page_obj.contents[0].get_data()) < len(outlines) / 20
        assert "Pinal County" in page.extract_text()
    assert read_objects(pdf, thin=True) == read_objects(pdf, thin=False)


# --- any content: the same objects with and without thinning ------------------------------------

_NUM = st.one_of(
    st.integers(0, 600).map(str),
    st.floats(-50, 650, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.sampled_from([".5", "-.25", "3.", "+2", "0"]),
)


def _op(name: str, count: int) -> st.SearchStrategy[str]:
    return st.lists(_NUM, min_size=count, max_size=count).map(lambda a: " ".join([*a, name]))


_SEGMENT = st.one_of(
    _op("m", 2), _op("l", 2), _op("c", 6), _op("v", 4), _op("y", 4), _op("re", 4), st.just("h")
)
_SEGMENTS = st.lists(_SEGMENT, min_size=1, max_size=4).map(" ".join)
_UNPAINTED = st.sampled_from(["n", "W n", "W* n"])
_PAINTED = st.sampled_from(["S", "s", "f", "F", "f*", "B", "B*", "b", "b*"])
# A path: a run that is dropped, or segments that are painted, or left open for later.
_PATH = st.one_of(
    st.tuples(_SEGMENTS, _UNPAINTED).map(" ".join),
    st.tuples(_SEGMENTS, _PAINTED).map(" ".join),
    _SEGMENTS,
    _UNPAINTED,
    _PAINTED,
)
_STATE = st.one_of(
    st.sampled_from(["q", "Q", "0.5 g", "1 0 0 RG", "2 w", "[3 1] 0 d", "[ 3 1 m n ] 0 d", "7"]),
    st.sampled_from(["0.75 0 0 -0.75 0 792 cm", "W"]),
    st.tuples(_NUM, _NUM).map(lambda xy: f"1 0 0 1 {xy[0]} {xy[1]} cm"),
)
# A path left open, a dropped run, then the open path painted (or not, as the run ended it).
_INTERRUPTED = st.tuples(_SEGMENTS, _STATE, _SEGMENTS, _UNPAINTED, _PAINTED).map(" ".join)
# Text that looks like a run of paths (a run needs whitespace after its n).
_TEXT = st.sampled_from(["Sheriff", "0 0 m 1 1 l n ", "a \\( 1 2 re W n\n", "(0 0 m n )", "x\\\\"])
_SHOW = st.one_of(
    _TEXT.map(lambda t: f"BT /F1 12 Tf 72 700 Td ({t}) Tj ET"),
    _TEXT.map(lambda t: f"BT /F1 9 Tf 10 TL T* [({t}) -120 ( 0 0 m n )] TJ ({t}) ' ET"),
)
_OTHER = st.sampled_from(
    [
        "/Artifact << /BBox [0 0 612 792] /Type /Watermark >> BDC",
        "/P << /MCID 3 /Alt 1 2 m n >> BDC",  # an odd dictionary unless thinned inside
        "EMC",
        "[ 0 0 m n ]",
        "<4142> 0 0 m n",
        "% a comment 0 0 m n",
    ]
)
# What the scan stops at (the rest of the page is left as it is).
_STOP = st.sampled_from(
    [
        "BI /W 8 /H 1 /BPC 8 /CS /G ID 0 0 m n\n EI",  # image data a run would match
        "/A#20B",
        "1x",
        "(unterminated 0 0 m",
    ]
)
_PIECE = st.one_of(*[_PATH] * 4, _INTERRUPTED, _STATE, _STATE, _SHOW, _SHOW, _OTHER, _STOP)
_SPACE = st.sampled_from([" ", "\n", "\r\n", "\t", "  \n"])


@st.composite
def _pages(draw) -> list[list[bytes]]:
    pieces = draw(st.lists(st.tuples(_PIECE, _SPACE), min_size=4, max_size=60))
    content = "".join(p + s for p, s in pieces).encode("latin-1")
    cuts = sorted(draw(st.lists(st.integers(0, len(content)), max_size=2)))
    bounds = [0, *cuts, len(content)]
    return [[content[a:b] for a, b in zip(bounds, bounds[1:]) if b > a] or [b" "]]


@given(pages=_pages())
def test_thinning_never_changes_what_pdfplumber_reads(pages):
    pdf = content_pdf(pages)
    assert read_objects(pdf, thin=True) == read_objects(pdf, thin=False)


# --- real pages -------------------------------------------------------------------------------


@pytest.mark.skipif(not MOA_SAMPLES.is_dir(), reason=SAMPLES_MISSING)
@pytest.mark.parametrize(
    ("name", "index"),
    [("287gJEM_PinalCoAz2020-06-09.pdf", 11), ("287gJEM_JacksonvilleCoFl2020-06-09.pdf", 11)],
)
def test_a_real_outlined_page_reads_the_same_thinned(name, index):
    data = (MOA_SAMPLES / name).read_bytes()
    read = {}
    for thin in (False, True):
        with pdfplumber.open(io.BytesIO(data)) as doc:
            page = doc.pages[index]
            size = len(page.page_obj.contents[0].get_data())
            if thin:
                thin_page(page.page_obj)
                assert len(page.page_obj.contents[0].get_data()) < size / 5
            read[thin] = (_comparable(page.objects), page.extract_text())
    assert read[True] == read[False]
    assert len(read[True][0]["char"]) > 1000

"""A page's text as pdfplumber's ``Page.extract_text`` gives it, without pdfplumber's objects.

pdfplumber reads a page by letting pdfminer lay out every object on it (characters, lines,
rectangles, curves, images) and then copying each one into a dict of all its attributes, with
colours, graphic state and fonts resolved recursively. On the sample MOAs that copying cost
more than pdfminer's own reading, and the MOA reader uses only the characters' text and place.

:func:`page_chars` asks pdfminer for the characters of a page alone (paths and images make no
characters, so they are not even built) and gives each character the keys that pdfplumber's
text layout reads, computed as pdfplumber computes them. :func:`page_text` lays them out with
pdfplumber's own ``chars_to_textmap`` and the arguments ``Page.extract_text`` passes to it. The
text is therefore pdfplumber's, character for character: tests/test_pdf_text.py compares the two
on hand-made and generated pages and on real ones (all 203 pages of the 16 samples agreed, char
for char, when this was written). :class:`FontSharing` builds each distinct font of a document
once. Together they read the samples in half the time.
"""

from __future__ import annotations

from typing import Any

from pdfminer.converter import PDFLayoutAnalyzer
from pdfminer.layout import LTChar
from pdfminer.pdfcolor import PDFColorSpace
from pdfminer.pdffont import PDFFont, PDFUnicodeNotDefined
from pdfminer.pdfinterp import PDFGraphicState, PDFPageInterpreter, PDFResourceManager
from pdfminer.pdftypes import PDFObjRef, PDFStream
from pdfminer.psparser import PSKeyword, PSLiteral
from pdfminer.utils import Matrix, apply_matrix_rect
from pdfplumber.page import Page
from pdfplumber.utils import chars_to_textmap

__all__ = ["CHAR_KEYS", "FontSharing", "PageReadError", "page_chars", "page_text"]

# What pdfplumber's word and text-map code reads of a character (its text, place and size).
CHAR_KEYS = ("text", "x0", "x1", "top", "bottom", "doctop", "width", "height", "size", "upright")


class PageReadError(Exception):
    """pdfminer failed on a page; the failure is the ``__cause__`` and the message is its own
    (as pdfplumber wraps it)."""


class _CharsOnly(PDFLayoutAnalyzer):
    """A pdfminer device (no layout analysis) that keeps the characters of one pdfplumber page
    as pdfplumber's char dicts (:data:`CHAR_KEYS`), in drawing order: the order in which
    pdfplumber walks pdfminer's layout (into figures depth first). Paths and images build
    nothing."""

    def __init__(self, resources: PDFResourceManager, page: Page) -> None:
        super().__init__(resources, pageno=page.page_number, laparams=None)
        self.chars: list[dict[str, Any]] = []
        # pdfplumber's coordinates: y measured down from the top of the page; pdfminer's are
        # relative to the MediaBox, which pdfplumber moves back by the box's origin.
        self._height = page.height
        self._x_shift, self._y_shift = page.mediabox[:2]
        self._doctop = page.initial_doctop

    def paint_path(self, *args: Any, **kwargs: Any) -> None:
        """Lines, rectangles and curves are never read."""

    def render_image(self, *args: Any, **kwargs: Any) -> None:
        """Images are never read (nor decoded)."""

    def render_char(
        self,
        matrix: Matrix,
        font: PDFFont,
        fontsize: float,
        scaling: float,
        rise: float,
        cid: int,
        ncs: PDFColorSpace,
        graphicstate: PDFGraphicState,
    ) -> float:
        """What pdfminer's ``render_char`` and ``LTChar`` compute of a character, kept as a
        dict; the horizontal case (every sample's) computed here with the very operations, in
        the same order, of ``LTChar`` (so the same floats), without building the object."""
        try:
            text = font.to_unichr(cid)
        except PDFUnicodeNotDefined:
            text = self.handle_undefined_char(font, cid)
        width = font.char_width(cid)
        if font.is_vertical():
            char = LTChar(
                matrix, font, fontsize, scaling, rise, text, width, font.char_disp(cid), ncs,
                graphicstate,
            )  # fmt: skip
            adv, upright, size = char.adv, char.upright, char.size
            (x0, y0, x1, y1) = (char.x0, char.y0, char.x1, char.y1)
        else:
            adv = width * fontsize * scaling
            descent = font.get_descent() * fontsize
            (a, b, c, d, _e, _f) = matrix
            upright = a * d * scaling > 0 and b * c <= 0
            (x0, y0, x1, y1) = apply_matrix_rect(
                matrix, (0, descent + rise, adv, descent + rise + fontsize)
            )
            if x1 < x0:
                (x0, x1) = (x1, x0)
            if y1 < y0:
                (y0, y1) = (y1, y0)
            size = y1 - y0
        top = (self._height - y1) + self._y_shift
        self.chars.append(
            {
                "text": text,
                "x0": x0 + self._x_shift if self._x_shift != 0 else x0,
                "x1": x1 + self._x_shift if self._x_shift != 0 else x1,
                "top": top,
                "bottom": (self._height - y0) + self._y_shift,
                "doctop": self._doctop + top,
                "width": x1 - x0,
                "height": y1 - y0,
                "size": size,
                "upright": upright,
            }
        )
        return adv


# A font definition nested deeper than this is not shared (pdfminer builds it as before).
_MAX_DEPTH = 12
_NUMBER_TYPES = frozenset({int, float})


class FontSharing(PDFResourceManager):
    """pdfminer's resource manager, building one font per distinct definition.

    pdfminer builds a font once per font object of the document. Scans that Acrobat's Paper
    Capture made searchable give every page font objects of its own, equal to other pages'
    (and a Type0 font's descendant is never kept at all), so the same ToUnicode CMap was parsed
    again on every page. Here a font whose definition (the font dictionary with everything it
    refers to, streams by their decoded bytes) equals one built before is that font: a pdfminer
    font is a function of its definition alone. A definition that cannot be read this way is
    built as pdfminer builds it, errors included. Use one per document.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_object: dict[object, PDFFont] = {}
        self._by_definition: dict[object, PDFFont] = {}

    def get_font(self, objid: object, spec: Any) -> PDFFont:
        """The font of ``spec`` (the dictionary of object ``objid``, or None for a direct one)."""
        if objid and objid in self._by_object:
            return self._by_object[objid]
        try:
            key = _definition(spec, _MAX_DEPTH)
        except Exception:  # noqa: BLE001 - a damaged definition: pdfminer's own way and errors
            return super().get_font(objid, spec)
        font = self._by_definition.get(key)
        if font is None:
            font = self._by_definition[key] = super().get_font(objid, spec)
        if objid:
            self._by_object[objid] = font
        return font


def _definition(obj: Any, depth: int) -> object:
    """A hashable value equal for equal PDF objects, references followed, streams decoded."""
    if depth < 0:
        raise RecursionError("font definition nested too deeply")
    if isinstance(obj, PDFObjRef):
        return _definition(obj.resolve(), depth - 1)
    if isinstance(obj, PDFStream):
        return ("stream", _definition(obj.attrs, depth - 1), obj.get_data())
    if isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda item: item[0])
        return ("dict", tuple((key, _definition(value, depth - 1)) for key, value in items))
    if isinstance(obj, list | tuple):
        if all(type(value) in _NUMBER_TYPES for value in obj):  # a font's /Widths: long
            return ("numbers", tuple(obj), tuple(map(type, obj)))
        return ("list", tuple(_definition(value, depth - 1) for value in obj))
    if isinstance(obj, PSLiteral | PSKeyword):
        return obj  # interned by pdfminer: one object per name
    hash(obj)
    return (type(obj), obj)  # 1, 1.0 and True stay apart


def page_chars(page: Page, resources: PDFResourceManager | None = None) -> list[dict[str, Any]]:
    """The characters of a pdfplumber ``page``, in pdfplumber's order, each with
    :data:`CHAR_KEYS` valued as in ``page.chars``. ``resources`` is the document's resource
    manager (pdfplumber's by default; one :class:`FontSharing` per document reads faster).
    Raises :class:`PageReadError` where pdfplumber raises its ``PdfminerException``."""
    resources = page.pdf.rsrcmgr if resources is None else resources
    device = _CharsOnly(resources, page)
    try:
        PDFPageInterpreter(resources, device).process_page(page.page_obj)
    except Exception as exc:  # noqa: BLE001 - pdfminer raises a zoo of exception types
        raise PageReadError(exc) from exc
    return device.chars


def page_text(page: Page, chars: list[dict[str, Any]], **settings: Any) -> str:
    """``page.extract_text(**settings)`` of the given ``chars`` of ``page`` (all of
    :func:`page_chars`, or a selection of them as ``page.filter`` would keep)."""
    layout = {"layout_bbox": page.bbox, "layout_width": page.width, "layout_height": page.height}
    return chars_to_textmap(chars, **{**layout, **settings}).as_string

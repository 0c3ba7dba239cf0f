"""Drop the paths a PDF page builds and then throws away unpainted, before pdfminer reads it.

Two 2020 MOAs (the Pinal and Jacksonville samples) carry an OCR text layer next to a page drawn
as glyph outlines: three megabytes of ``x y m ... x1 y1 x2 y2 x3 y3 c ... h n``, path segments
ended by ``n`` (end the path, paint nothing). pdfminer tokenizes every one of those numbers in
Python and then discards the path: its ``n`` only empties the current path. Replacing each such
run by a bare ``n`` therefore changes nothing pdfminer reports (the same characters, the same
painted shapes, the same operand stack: every operator in a run takes exactly its own operands),
and reads those pages several times faster.

A run is replaced only where pdfminer sees the very same tokens: at the top level of the
content (never inside an array, dictionary or string). The scanner follows pdfminer's
tokenizer; at anything it is not sure of (an inline image, a name with ``#`` escapes, an
unusual token, an unterminated string) it stops and leaves the rest of the page as it is.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pdfminer.pdftypes import stream_value

__all__ = ["drop_unpainted_paths", "thin_page"]

_NUMBER = rb"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_ARG = _NUMBER + rb"\s+"
# One path-construction operator with exactly its operands: m l (2), c (6), v y re (4), h (0).
# Written as one nest of shared prefixes, so that the operands of a c are read once, not thrice.
_SEGMENT = rb"(?:(?:%s){2}(?:[ml]|(?:%s){2}(?:[vy]|re|(?:%s){2}c))|h)\s+" % ((_ARG,) * 3)
# Ends a run of segments without painting it: ``n``, after an optional (no-op) clip ``W``/``W*``.
_UNPAINTED_END = re.compile(rb"(?:W\*?\s+)?n(?=\s)")
# Cheap test for whether a stream can hold a run at all (a segment operator, then ``n``).
_MAYBE_RUN = re.compile(rb"\s(?:[hlcmvy]|re)\s+(?:W\*?\s+)?n\s")

_STRING_MARK = re.compile(rb"[()\\]")
_CLEAN_WORD = re.compile(_NUMBER + rb"|[A-Za-z][^#/%\[\]()<>{}\s]*|['\"]")
_TOKEN = re.compile(
    rb"(?P<space>\s+)"
    rb"|(?P<segments>(?:" + _SEGMENT + rb")+)"
    rb"|(?P<open>\[|<<|\{)"
    rb"|(?P<close>\]|>>|\})"
    rb"|(?P<string>\()"
    rb"|(?P<hex><[0-9A-Fa-f\s]*>)"
    rb"|(?P<comment>%[^\r\n]*)"
    rb"|(?P<name>/[^#/%\[\]()<>{}\s]*)"
    rb"|(?P<word>[^/%\[\]()<>{}\s]+)"
)
_PAIRS = {b"]": b"[", b">>": b"<<", b"}": b"{"}
_INLINE_IMAGE = {b"BI", b"ID", b"EI"}


def drop_unpainted_paths(data: bytes, nesting: list[bytes] | None = None) -> tuple[bytes, bool]:
    """``data`` (a decoded content stream) with every unpainted path run replaced by ``n``.

    Returns (content, clean): ``clean`` is False when the scan stopped early (the rest was
    left as it is), so that a following content stream of the same page must not be touched.
    ``nesting`` carries the arrays and dictionaries left open from one content stream of a
    page to the next.
    """
    nesting = [] if nesting is None else nesting
    pieces: list[bytes] = []
    kept_from = pos = 0
    size = len(data)
    while pos < size:
        match = _TOKEN.match(data, pos)
        if match is None:
            break
        kind, end = match.lastgroup, match.end()
        if kind == "segments":
            tail = _UNPAINTED_END.match(data, end)
            if tail and not nesting:
                pieces += [data[kept_from:pos], b"n"]
                kept_from = end = tail.end()
        elif kind == "open":
            nesting.append(match[0])
        elif kind == "close":
            if not nesting or nesting.pop() != _PAIRS[match[0]]:
                break
        elif kind == "string":
            end = _string_end(data, end)
            if end < 0:
                break
        elif kind == "word":  # also what follows a "#" in a name: pdfminer reads it as an escape
            word = match[0]
            if word in _INLINE_IMAGE or not _CLEAN_WORD.fullmatch(word):
                break
        pos = end
    if not pieces:
        return data, False if pos < size else _between_tokens(data)
    pieces.append(data[kept_from:])
    return b"".join(pieces), pos >= size and _between_tokens(data)


def thin_page(page_obj: Any) -> None:
    """Thin the content of a pdfminer ``PDFPage``: its content streams are replaced by thinned
    copies (a stream shared with another page is never changed in place).

    Only pages with something to drop are scanned. Anything unexpected (a stream that does
    not decode, say) leaves the page as it is, for pdfminer to meet and report as before.
    """
    try:
        streams = [stream_value(ref) for ref in page_obj.contents]
        contents = [stream.get_data() for stream in streams]
    except Exception:  # noqa: BLE001 - pdfminer reports the problem itself, later
        return
    worth = [i for i, data in enumerate(contents) if _MAYBE_RUN.search(data)]
    if not worth:
        return
    thinned_contents: list[Any] = list(streams)
    nesting: list[bytes] = []
    for i in range(worth[-1] + 1):
        thinned, clean = drop_unpainted_paths(contents[i], nesting)
        if thinned is not contents[i]:
            twin = copy.copy(streams[i])  # same object id, attributes and raw bytes
            twin.data = thinned
            thinned_contents[i] = twin
        if not clean:
            break
    if thinned_contents != streams:
        page_obj.contents = thinned_contents


def _string_end(data: bytes, pos: int) -> int:
    """Position after the literal string whose ``(`` ends before ``pos``; -1 if unterminated."""
    depth = 1
    while True:
        mark = _STRING_MARK.search(data, pos)
        if mark is None:
            return -1
        char, pos = mark[0], mark.end()
        if char == b"\\":
            pos += 1  # the escaped byte (octal digits and line ends are never delimiters)
        elif char == b"(":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos


def _between_tokens(data: bytes) -> bool:
    """Whether pdfminer's tokenizer is between tokens at the end of ``data`` (its last byte is
    whitespace), so that the next content stream of the page starts afresh."""
    return not data or data[-1:].isspace()

"""What a body of bytes is, before anything parses it: a zip (an xlsx), a PDF, an HTML page.

Pure byte checks shared by the fetch stage (is this response a block page?) and the parsers
(name the problem of a file that is not what its name says).
"""

from __future__ import annotations

ZIP_MAGIC = b"PK"
PDF_MAGIC = b"%PDF"
PDF_EOF_WINDOW = 1024  # PDF readers accept the %%EOF marker anywhere in the last 1024 bytes
_HEAD = 1024


def looks_like_html(body: bytes, content_type: str | None = None) -> bool:
    """True for markup: an HTML content type, a body whose first non-blank byte is ``<``, or
    an ``<html`` tag near the start (a block or error page served in place of a file)."""
    if "html" in (content_type or "").lower():
        return True
    head = body[:_HEAD].lstrip().lower()
    return head[:1] == b"<" or b"<html" in head


def pdf_problem(data: bytes) -> str | None:
    """Why ``data`` is not a whole PDF (empty, not a PDF, cut short), or None."""
    if not data:
        return "empty file (0 bytes)"
    if not data.startswith(PDF_MAGIC):
        what = "looks like an HTML page" if looks_like_html(data) else "no %PDF header"
        return f"not a PDF, {what} (starts with {data[:20]!r})"
    if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
        return (
            f"truncated PDF: no %%EOF marker in the last {PDF_EOF_WINDOW} bytes "
            f"of its {len(data)} bytes"
        )
    return None

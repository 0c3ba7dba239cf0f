"""Read signed 287(g) Memorandum of Agreement (MOA) PDFs into flat records.

ICE links one signed MOA per participating agency. These are scans with an OCR text layer of
uneven quality (and sometimes no text layer at all), so everything here is written to degrade
gracefully: a field we cannot read reliably is ``None`` / ``"unknown"`` rather than a guess.

What the text reliably gives, and what this module extracts:

* the page count, and whether there is a real text layer (``has_text``);
* the 287(g) model (``JEM``, ``TFM``, ``WSO``, ``TTFM`` or ``unknown``), decided by the scored
  rule table :data:`MODEL_RULES` below;
* the agency named in the parties paragraph (section I. PARTIES in the JEM/WSO templates, the
  untitled opening paragraph in the 2025 Task Force template);
* the template revision printed in the page footer (``Rev 2/14/25``, ``Revised 03/07/2025``).

All functions are pure: bytes in, frozen record out; no network and no disk writes. The only
side door is the optional OCR hook (``ocr=True``), which runs the external ``tesseract``
program when it is installed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pdfplumber

from parsers.pdf_paths import thin_page
from parsers.pdf_text import FontSharing, page_chars, page_text
from parsers.sniff import pdf_problem

__all__ = [
    "MODELS",
    "MODEL_RULES",
    "MoaDocument",
    "MoaError",
    "ModelRule",
    "clean_agency",
    "detect_model",
    "find_template_revision",
    "moa_record",
    "ocr_available",
    "read_moa",
    "read_moa_path",
]

UNKNOWN = "unknown"
MODELS: tuple[str, ...] = ("JEM", "TFM", "WSO", "TTFM")


@dataclass(frozen=True)
class ModelRule:
    """One piece of evidence for a 287(g) model: a phrase, the model it points to, a weight."""

    pattern: str
    model: str
    weight: int
    why: str


# ---------------------------------------------------------------------------------------------
# Model detection table. Patterns are matched against the whole document text after
# normalisation (lower case, whitespace runs collapsed to one space, "(cid:N)" glyph codes and
# underscores removed, typographic quotes made plain). A literal space in a pattern matches zero
# or one whitespace character, because the OCR layer often glues words ("ofthe").
#
# Every rule that matches adds its weight to its model (each rule counts once). The model with
# the highest total wins if it reaches MIN_MODEL_SCORE and is strictly ahead of the runner-up;
# otherwise the model is "unknown". Title phrases weigh 10 so a title always beats incidental
# function wording; function phrases weigh 1, so the 2019-2020 WSO template (which prints no
# model name) and a title lost to OCR noise still resolve when two or more of them agree.
#
# Function phrases were chosen by reading the 16 sample MOAs (2019 WSO, 2020 JEM, 2025 JEM/TFM):
# * JEM delegates, to officers "assigned to detention duties", the power to interrogate "any
#   person detained in the ... detention center" and to process aliens "booked into" the jail.
# * TFM puts officers on "units, teams, or task forces" as "task force officers" and delegates
#   warrantless arrest in the field of an alien "likely to escape before a warrant can be
#   obtained".
# * WSO only serves warrants on aliens already in the agency's jail: its purpose is "to promote
#   public safety by facilitating the custodial transfer" of those aliens, and it delegates only
#   "the two authorities" (serve arrest warrants, serve removal warrants). The JEM template also
#   lists the warrant-serving powers, so those generic phrases are deliberately NOT evidence.
# ---------------------------------------------------------------------------------------------
MODEL_RULES: tuple[ModelRule, ...] = (
    # Titles / program names (checked anywhere in the text; JEM repeats it in Appendix A).
    ModelRule(r"tribal task force", "TTFM", 10, "names the Tribal Task Force Model"),
    ModelRule(r"(?<!tribal)(?<!tribal\s)task force model", "TFM", 10, "names the Task Force Model"),
    ModelRule(r"jail enforcement model", "JEM", 10, "names the Jail Enforcement Model"),
    ModelRule(r"warrant service officer", "WSO", 10, "names the Warrant Service Officer program"),
    # Jail Enforcement Model: interrogation and processing inside the jail.
    ModelRule(r"assigned to detention duties", "JEM", 1, "officers assigned to detention duties"),
    ModelRule(
        r"interrogate any person detained in the",
        "JEM",
        1,
        "interrogation of persons detained in the jail",
    ),
    ModelRule(
        r"identify(ing)? and process(ing)? removable aliens",
        "JEM",
        1,
        "identifying and processing removable aliens in the jail",
    ),
    ModelRule(r"arrested and booked into", "JEM", 1, "aliens arrested and booked into the jail"),
    # Task Force Model: officers in the field.
    ModelRule(r"task force officers?", "TFM", 1, "task force officers"),
    ModelRule(r"units, teams, or task forces", "TFM", 1, "assigned to units, teams, task forces"),
    ModelRule(r"arrest without (a )?warrant", "TFM", 1, "warrantless arrest"),
    ModelRule(
        r"likely to escape before a warrant",
        "TFM",
        1,
        "arrest of an alien likely to escape before a warrant is obtained",
    ),
    # Warrant Service Officer: serving warrants on aliens already in custody, nothing more.
    ModelRule(
        r"promote public safety by facilitating the custodial transfer",
        "WSO",
        1,
        "purpose: custodial transfer of aliens already in the jail",
    ),
    ModelRule(
        r"custodial transfer of (specific|designated) aliens",
        "WSO",
        1,
        "custodial transfer of designated aliens in the jail",
    ),
    ModelRule(r"delegated (only )?the two authorities", "WSO", 1, "only two delegated authorities"),
)
MIN_MODEL_SCORE = 2

# A page "has text" when its text layer holds at least this many non-whitespace characters: a
# full template page yields 2,000-4,000, a scanned page with a stamped date or an OCR'd
# signature block yields a few dozen.
PAGE_TEXT_MIN_CHARS = 200
# The document has a real text layer when at least this share of its pages has text.
DOC_TEXT_MIN_SHARE = 0.5

# PDF readers accept the end-of-file marker anywhere in the last 1024 bytes.

_CID_RE = re.compile(r"\(cid:\d+\)")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})

# Parties paragraph: "... Department of Homeland Security (DHS), and [the] AGENCY, pursuant to
# which ..." (2019 WSO, 2025 TFM) or "... (DHS), and AGENCY, hereinafter the law enforcement
# agency ..." (JEM, 2025 WSO). OCR renders DHS as OHS and so on, hence the loose acronym.
_PARTIES_RE = re.compile(
    r"Homeland\s*Security\s*\(\s*\S{2,4}\s*\)\s*,?\s*and\s+"
    r"(?:the(?=\s|[A-Z]))?\s*"
    r"(?P<agency>.{0,200}?)\s*"
    r"(?:,?\s*\(?\s*hereinafter\b|,?\s*pursuant\s*to\b)",
    re.S,
)
# Vertical tolerance for the parties paragraph: filled-in form fields sit a few points off the
# line they belong to (they are set in a smaller font); 5pt folds them back in place while
# keeping body lines (12pt apart) separate.
_PARTIES_Y_TOLERANCE = 5
_PARTIES_MAX_PAGES = 3
_TRAILING_ACRONYM_RE = re.compile(r"\s*[(\[]\s*[A-Z]{2,6}\s*[)\]]$")
_EDGE_JUNK = " \t,;:.'\"-"

# Footer template revision: "Rev 2/14/25", "Revised 03/07/2025", "Rev. 2/14/25".
_REVISION_RE = re.compile(
    r"\b(?P<label>Rev(?:ised|\.)?)[ \t]*:?[ \t]*"
    r"(?P<m>\d{1,2})[ \t]?/[ \t]?(?P<d>\d{1,2})[ \t]?/[ \t]?(?P<y>\d{4}|\d{2})(?!\d)",
    re.I,
)


class MoaError(ValueError):
    """An MOA file could not be read; the message names the file and the problem."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class MoaDocument:
    """What one MOA PDF says, as far as its text layer lets us tell.

    ``has_text`` is about the PDF's own text layer (OCR done by :func:`read_moa` with
    ``ocr=True`` does not change it); ``text_pages`` is how many pages carry real text and
    ``ocr_pages`` how many pages had their text filled in by tesseract.
    ``model_evidence`` lists the :data:`MODEL_RULES` reasons that matched, for auditing.
    """

    name: str
    pages: int
    has_text: bool
    model: str
    agency_text: str | None
    template_revision: str | None
    template_date: str | None
    text: str = field(default="", repr=False)  # long; kept out of logs and test failures
    text_pages: int = 0
    ocr_pages: int = 0
    model_evidence: tuple[str, ...] = field(default=(), repr=False)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def read_moa(data: bytes, name: str = "<bytes>", *, ocr: bool = False) -> MoaDocument:
    """Read one MOA PDF from ``data``; ``name`` labels the file in errors and in the record.

    Pages are processed one at a time and released right after, so memory stays near the cost
    of one page plus the document's object index.

    ``ocr=True`` is optional and off by default: pages without a text layer are then rendered
    and passed to ``tesseract`` when it is installed (see :func:`ocr_available`); without it the
    pages simply stay empty.

    Raises :class:`MoaError` for anything that is not a complete, readable PDF (an HTML error
    page saved as ``.pdf``, a truncated download, a damaged file), never a raw pdfminer error.
    """
    _check_envelope(data, name)
    use_ocr = ocr and ocr_available()
    page_texts: list[str] = []
    text_pages = 0
    ocr_pages = 0
    agency: str | None = None
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            fonts = FontSharing()  # pages' equal fonts built once
            for index, page in enumerate(pdf.pages):
                try:
                    thin_page(page.page_obj)  # invisible outlines: read faster, same text
                    chars = page_chars(page, fonts)  # the characters alone: faster, same text
                    text = page_text(page, chars)
                    has_layer = _visible_chars(text) >= PAGE_TEXT_MIN_CHARS
                    text_pages += has_layer
                    if not has_layer and use_ocr:
                        ocr_text = _ocr_page(page)
                        if _visible_chars(ocr_text) > _visible_chars(text):
                            text = ocr_text
                            ocr_pages += 1
                    if agency is None and index < _PARTIES_MAX_PAGES:
                        agency = _find_agency(_parties_view(page, chars) if has_layer else text)
                    page_texts.append(text)
                finally:
                    page.close()
            page_count = len(page_texts)
    except Exception as exc:  # pdfminer raises a zoo of exception types on damaged input
        raise MoaError(name, _describe_parse_error(exc)) from exc

    if page_count == 0:
        raise MoaError(name, "PDF has no pages")
    text = "\f".join(page_texts)
    model, evidence = detect_model(text)
    revision, revision_date = find_template_revision(text)
    return MoaDocument(
        name=name,
        pages=page_count,
        has_text=text_pages > 0 and text_pages >= DOC_TEXT_MIN_SHARE * page_count,
        model=model,
        agency_text=agency,
        template_revision=revision,
        template_date=revision_date,
        text=text,
        text_pages=text_pages,
        ocr_pages=ocr_pages,
        model_evidence=evidence,
    )


def read_moa_path(path: str | os.PathLike[str], *, ocr: bool = False) -> MoaDocument:
    """Read the MOA PDF at ``path`` (convenience wrapper; the path is the record's name)."""
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MoaError(name, f"cannot read file: {exc.strerror or exc}") from exc
    return read_moa(data, name, ocr=ocr)


def moa_record(doc: MoaDocument, file: str | os.PathLike[str]) -> dict[str, Any]:
    """Flat, JSON-ready record for one MOA (the contract of ``ice287g moa read --format json``)."""
    return {
        "file": os.fspath(file),
        "pages": doc.pages,
        "has_text": doc.has_text,
        "model": doc.model,
        "agency_text": doc.agency_text,
        "template_revision": doc.template_revision,
    }


def ocr_available() -> bool:
    """True when the optional ``tesseract`` OCR program is on PATH."""
    return shutil.which("tesseract") is not None


# ---------------------------------------------------------------------------------------------
# Text analysis (pure string functions, usable on their own)
# ---------------------------------------------------------------------------------------------


def detect_model(text: str) -> tuple[str, tuple[str, ...]]:
    """Score ``text`` against :data:`MODEL_RULES`; return (model, reasons that matched)."""
    haystack = _normalise_for_match(text)
    scores: Counter[str] = Counter()
    evidence: list[str] = []
    for rule, regex in _COMPILED_RULES:
        if regex.search(haystack):
            scores[rule.model] += rule.weight
            evidence.append(f"{rule.model}: {rule.why}")
    ranked = scores.most_common()
    if not ranked or ranked[0][1] < MIN_MODEL_SCORE:
        return UNKNOWN, tuple(evidence)
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return UNKNOWN, tuple(evidence)  # two models equally supported: do not guess
    return ranked[0][0], tuple(evidence)


def find_template_revision(text: str) -> tuple[str | None, str | None]:
    """Most frequent footer revision in ``text`` and its ISO date, e.g. ("Rev 2/14/25", ...).

    The footer repeats on every page, so a vote over all cleanly read occurrences outvotes
    the pages where OCR mangled it ("Revised 02/1412025"). The string is kept as printed
    (label and date), with stray spaces inside the date removed.
    """
    votes: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    dates: dict[str, str | None] = {}
    for match in _REVISION_RE.finditer(text):
        month, day, year = int(match["m"]), int(match["d"]), match["y"]
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        try:
            iso = date(full_year, month, day).isoformat()
        except ValueError:
            continue  # "Revised 13/45/2025" is OCR noise, not a footer
        label = match["label"]
        label = label[0].upper() + label[1:].lower()
        value = f"{label} {match['m']}/{match['d']}/{year}"
        votes[value] += 1
        first_seen.setdefault(value, match.start())
        dates[value] = iso
    if not votes:
        return None, None
    best = max(votes, key=lambda v: (votes[v], -first_seen[v]))
    return best, dates[best]


def clean_agency(raw: str) -> str | None:
    """Tidy the agency span of the parties paragraph; ``None`` if nothing name-like is left.

    Collapses whitespace, drops "(cid:N)" glyph codes, underscores of the blank it was typed
    into, a trailing "(ABBR)" short name and stray edge punctuation. OCR misspellings are kept:
    they are what the document says, and correcting them is a matching problem for later.
    """
    text = _CID_RE.sub("", raw).replace("_", "").translate(_QUOTES)
    text = " ".join(text.split())
    text = re.sub(r"\s+,", ",", text).strip(_EDGE_JUNK)
    text = _TRAILING_ACRONYM_RE.sub("", text).strip(_EDGE_JUNK)
    if sum(ch.isalpha() for ch in text) < 3:
        return None
    return text


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------

_COMPILED_RULES: tuple[tuple[ModelRule, re.Pattern[str]], ...] = tuple(
    (rule, re.compile(rule.pattern.replace(" ", r"\s?"))) for rule in MODEL_RULES
)


def _normalise_for_match(text: str) -> str:
    text = _CID_RE.sub("", text).replace("_", "").translate(_QUOTES).lower()
    return " ".join(text.split())


def _visible_chars(text: str) -> int:
    return sum(not ch.isspace() for ch in text)


def _find_agency(text: str) -> str | None:
    match = _PARTIES_RE.search(_CID_RE.sub("", text))
    return clean_agency(match["agency"]) if match else None


def _parties_view(page: Any, chars: list[dict[str, Any]]) -> str:
    """Page text laid out for the parties paragraph: underscores of form blanks dropped (they
    interleave with typed-in names) and filled fields folded back onto their line."""
    no_blanks = [char for char in chars if char["text"] != "_"]
    return page_text(page, no_blanks, y_tolerance=_PARTIES_Y_TOLERANCE)


def _check_envelope(data: bytes, name: str) -> None:
    """Cheap checks that catch the common download failures before pdfminer sees the bytes."""
    problem = pdf_problem(data)
    if problem:
        raise MoaError(name, problem)


def _describe_parse_error(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__ or exc
    if type(cause).__name__ == "PDFPasswordIncorrect":
        return "encrypted PDF (password required)"
    detail = str(exc) or str(cause) or type(cause).__name__
    return f"corrupt PDF, pdfminer could not parse it ({type(cause).__name__}: {detail[:200]})"


def _ocr_page(page: Any, resolution: int = 300) -> str:
    """OCR one page with tesseract: render with pdfplumber's renderer, pipe PNG via stdin.

    No temporary files are written (rendering happens in memory, tesseract reads ``stdin`` and
    writes ``stdout``), so ``pdftoppm`` is not needed. Failures leave the page empty.
    """
    buffer = io.BytesIO()
    page.to_image(resolution=resolution).original.save(buffer, format="PNG")
    try:
        result = subprocess.run(
            ["tesseract", "stdin", "stdout"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if result.returncode != 0:
        return ""
    return result.stdout.decode("utf-8", errors="replace")

"""Agency names compared: one word list, one abbreviation table, one similarity.

Three questions use it, each with its own tolerance:

- is a removed and an added agreement one agreement renamed (``diff``): the same words, or
  close keys whose distinctive words all have a close counterpart (:func:`same_words`,
  :func:`words_agree`);
- does an MOA PDF's OCR'd agency text confirm the spreadsheet's agency
  (:func:`agency_similarity`);
- which agencies does a user's query name (``history QUERY``: :func:`matching_keys`).

Keys (``agency_key``, the name part of agency and agreement ids) are built by the normalizer
(:mod:`ice287g.normalize.apply`); everything here only compares.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable

# Abbreviations ICE and the MOA scans use, spelled out before names are compared.
ABBREVIATIONS: dict[str, str] = {
    "co": "county",
    "cnty": "county",
    "so": "sheriffs office",
    "pd": "police department",
    "dept": "department",
    "dps": "department of public safety",
    "bocc": "board of county commissioners",
    "ft": "fort",
    "st": "saint",
    "mt": "mount",
    "twp": "township",
    "sheriff": "sheriffs",
    "sherriffs": "sheriffs",
    "sherrifs": "sheriffs",
    "sherifs": "sheriffs",
}
# "<word> of" at the start of a name does not make another agency ("City of Melbourne ...").
LEADING_WORDS = frozenset({"city", "town", "village", "borough"})

# --- renames (diff) ---------------------------------------------------------------------------
# Words that do not tell two agencies apart (besides the state's own name and code).
RENAME_GENERIC_WORDS = frozenset(
    "the of and a an at county sheriff sheriffs office offices police department dept "
    "state city town township borough village parish pd so".split()
)
WORD_CUTOFF = 0.75  # difflib ratio at which two words of two spellings count as one

# --- MOA PDFs -----------------------------------------------------------------------------------
# The spreadsheet's name is clean; the PDF's is a scan's OCR layer. A PDF agrees when it
# confirms at least half of the spreadsheet name's distinctive words: "Lake County Sheriff's
# Office" vs "Orange County Sheriff's Office" scores 0 (only "lake" is distinctive, and it is
# missing), "Jacksoo Coooty Sh";w, Office" vs "Jackson County Sheriff's Office" scores 1
# ("jacksoo" is an OCR misreading of "jackson").
AGENCY_MATCH_THRESHOLD = 0.5
WORD_MATCH_RATIO = 0.8  # difflib ratio at which two words count as the same (OCR noise)
GLUED_WORD_MIN = 12  # a PDF "word" this long is several words run together by OCR
# Words that say what kind of agency it is, not which one.
PDF_GENERIC_WORDS = frozenset(
    "county sheriffs office police department city town village township parish borough "
    "state detention center centre jail correctional corrections facility the of and".split()
)

# --- history QUERY ------------------------------------------------------------------------------
QUERY_CUTOFF = 0.8  # difflib ratio of a query's key to an agency's key


def _ascii(name: str) -> str:
    """Lower-case ASCII, apostrophes and periods dropped ("Sheriff's" = "Sheriffs"), & = and."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"['.`]", "", text.replace("&", " and "))


def _expand(words: Iterable[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        out.extend(ABBREVIATIONS.get(word, word).split())
    return out


def words(name: str) -> list[str]:
    """Words of an agency name, abbreviations spelled out ("Co" -> county, "SO" -> sheriffs
    office, "PD" -> police department)."""
    return _expand(re.findall(r"[a-z0-9]+", _ascii(name)))


def similarity(x: str, y: str) -> float:
    """difflib ratio of two strings, the same whichever order they come in."""
    lo, hi = sorted((x, y))
    return difflib.SequenceMatcher(None, lo, hi, autojunk=False).ratio()


# --- renames ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8192)
def name_tokens(name: str | None, state: str | None) -> tuple[str, ...]:
    """Words of a name with the agency's own state (its name or USPS code) left out, and a
    leading "The" or "City of" dropped."""
    if not name:
        return ()
    text = _ascii(name)
    state_name, code = _state_names(state)
    if state_name:
        text = re.sub(rf"\b{re.escape(state_name)}\b", " ", text)
    found = _expand(w for w in re.split(r"[^0-9a-z]+", text) if w and w != code)
    while found:  # "The ...", "City of Melbourne ..." = "Melbourne ..."
        if found[0] == "the":
            found = found[1:]
        elif found[0] in LEADING_WORDS and len(found) > 2 and found[1] == "of":
            found = found[2:]
        else:
            break
    return tuple(found)


@functools.cache
def _state_names(state: str | None) -> tuple[str | None, str | None]:
    if not state:
        return None, None
    import us

    found = us.states.lookup(state)
    return (found.name.lower() if found else None), state.lower()


def _word_sets(name: str | None, state: str | None) -> tuple[frozenset, frozenset]:
    """(all words, distinctive words) of an agency name."""
    found = frozenset(name_tokens(name, state))
    return found, found - RENAME_GENERIC_WORDS


def words_agree(name_a: str | None, name_b: str | None, state: str | None) -> bool:
    """Every distinctive word of each name has a close word in the other."""
    all_a, own_a = _word_sets(name_a, state)
    all_b, own_b = _word_sets(name_b, state)

    def covered(own, other) -> bool:
        return all(w in other or any(similarity(w, o) >= WORD_CUTOFF for o in other) for w in own)

    return covered(own_a, all_b) and covered(own_b, all_a)


def same_words(name_a: str | None, name_b: str | None, state: str | None) -> bool:
    """The same words, maybe reordered, abbreviated or prefixed with the state's name."""
    wa = sorted(name_tokens(name_a, state))
    return bool(wa) and wa == sorted(name_tokens(name_b, state))


# --- MOA PDFs -----------------------------------------------------------------------------------
def agency_similarity(sheet: str, pdf: str) -> float:
    """How far the PDF's agency text confirms the spreadsheet's agency name, from 0 to 1.

    The share of the spreadsheet name's distinctive words (all words but county, sheriff's,
    office, police, department, detention center, jail, ... unless nothing else is left) that
    the PDF has, where a word is found when a PDF word is close to it (difflib ratio >= 0.8:
    "Sherifrs", "Pittsburg"), or when it sits inside a run-together PDF word of 12+ letters
    ("NASSAUCOUNlYPOUCE..."). A PDF that uses the name's initials ("HCSO" for Highlands County
    Sheriff's Office) scores 1. Agreement is a score >= AGENCY_MATCH_THRESHOLD (0.5).
    """
    sheet_words, pdf_words = words(sheet), words(pdf)
    if not sheet_words or not pdf_words:
        return 0.0
    initials = "".join(word[0] for word in sheet_words)
    if len(initials) >= 3 and initials in pdf_words:
        return 1.0
    distinctive = [w for w in sheet_words if w not in PDF_GENERIC_WORDS] or sheet_words
    glued = [w for w in pdf_words if len(w) >= GLUED_WORD_MIN]

    def found(word: str) -> bool:
        if word in pdf_words:
            return True
        if any(
            difflib.SequenceMatcher(None, word, p).ratio() >= WORD_MATCH_RATIO for p in pdf_words
        ):
            return True
        return len(word) >= 4 and any(word in g for g in glued)

    return sum(found(w) for w in distinctive) / len(distinctive)


# --- history QUERY ------------------------------------------------------------------------------
def matching_keys(query_key: str, keys: Iterable[str]) -> set[str]:
    """Agency keys a query's key names: the same key, else keys containing it, else
    difflib-close keys (spelling tolerant)."""
    keys = set(keys)
    if not query_key:
        return set()
    for rule in (lambda k: k == query_key, lambda k: query_key in k):
        hit = {k for k in keys if rule(k)}
        if hit:
            return hit
    return set(difflib.get_close_matches(query_key, sorted(keys), n=10, cutoff=QUERY_CUTOFF))

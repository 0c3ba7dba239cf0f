"""Agency names compared: one module, one abbreviation table, one way to split a name.

Every comparison of agency names in the project goes through here:

- are two listings one agency (identity resolution, ``ice287g.identity``; the diff, history,
  terminations and the pending -> participating links all speak in its identities):
  :func:`compare`, :func:`similar`, :func:`score`;
- does an MOA PDF's OCR'd agency text confirm the spreadsheet's agency
  (:func:`agency_similarity`);
- which agencies does a user's query name (``history QUERY``: :func:`matching_keys`).

Keys (``agency_key``, the name part of agency and agreement ids) are built by the normalizer
(:mod:`ice287g.normalize.apply`); everything here only compares.

How two names are compared (``compare``):

1. Both become words (``words``): lower-case ASCII, apostrophes dropped ("Sheriff's" ->
   sheriffs), abbreviations spelled out (``ABBREVIATIONS``: PD, SO, Co, BOCC, DPS, St, Ft,
   ...), filler words left out (``FILLER``: office, department, services, division, of, ...),
   and a leading "The", "City of", "Town of", ... dropped.
2. Each word is one of three sorts: a *kind* word says what sort of agency it is (sheriff,
   police, jail, marshal, ...; grouped in ``KIND_FAMILIES``), a *generic* word says nothing
   about which agency (county, state, city, public, safety, the agency's own state name),
   every other word is *distinctive* (place names, "beach", "west", "airport", "board").
3. Two names are **similar** when they do not name different kinds of agency (a sheriff's
   office is not a county jail) and every distinctive word of each has a counterpart in the
   other (the same word, or one a typo away, ``EDITS``: "Albermarle" ~ "Albemarle", "Greens
   Fork" ~ "Green Forks", by rapidfuzz's optimal-string-alignment distance). Names with no
   distinctive word at all (state agencies: "New Hampshire State Police") are similar when
   their generic and kind words cover each other the same way. So "Melbourne" and "West
   Melbourne" or "Melbourne Beach" Police Departments are not similar, "Quarryville" and
   "Quarryville Borough" Police Departments are.

``score`` (0..1) ranks pairs that are not similar: the share of the shorter name's distinctive
words that the other has (1.0 when one name contains the other).

The MOA check and the query match tolerate more (OCR noise, a user's typing): see
their docstrings.
"""

from __future__ import annotations

import difflib
import functools
import heapq
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

# --- the tables (every rule as data) ----------------------------------------------------------
# Abbreviations and misspellings -> the words they stand for.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "co": ("county",),
    "cnty": ("county",),
    "cty": ("county",),
    "so": ("sheriffs", "office"),
    "sheriff": ("sheriffs",),
    "sherriff": ("sheriffs",),
    "sherriffs": ("sheriffs",),
    "sherrifs": ("sheriffs",),
    "sherifs": ("sheriffs",),
    "pd": ("police", "department"),
    "dept": ("department",),
    "dpt": ("department",),
    "ofc": ("office",),
    "dps": ("department", "public", "safety"),
    "doc": ("department", "corrections"),
    "bocc": ("board", "county", "commissioners"),
    "hwy": ("highway",),
    "univ": ("university",),
    "twp": ("township",),
    "pct": ("precinct",),
    "ft": ("fort",),
    "st": ("saint",),
    "mt": ("mount",),
    "correction": ("corrections",),
    "constables": ("constable",),
    "marshals": ("marshal",),
}
# Words that never tell two agencies apart: the form of the organisation, not the agency.
FILLER = frozenset(
    "the of and at for a an in on office offices department departments service services "
    "division bureau unit section agency law enforcement".split()
)
# A leading "<word> of" that does not make another agency: "City of Melbourne Police ...".
LEADING_OF = frozenset({"city", "town", "village", "borough", "county", "township"})
# Kinds of agency. Two names that each name a kind, and share none, are different agencies
# (Okaloosa County Sheriff's Office is not Okaloosa County Corrections).
KIND_FAMILIES: dict[str, str] = {
    "sheriffs": "sheriff",
    "police": "police",
    "patrol": "police",
    "trooper": "police",
    "troopers": "police",
    "jail": "custody",
    "jails": "custody",
    "detention": "custody",
    "corrections": "custody",
    "correctional": "custody",
    "prison": "custody",
    "rehabilitation": "custody",
    "marshal": "marshal",
    "constable": "constable",
    "attorney": "prosecutor",
    "attorneys": "prosecutor",
    "prosecutor": "prosecutor",
    "guard": "guard",
}
# Words that say nothing about which agency it is (besides the agency's own state name).
GENERIC = frozenset(
    "county counties state city town township borough village parish municipal regional "
    "public safety highway facility center centre".split()
)
# Two spellings of one word: how many edits (insert, delete, substitute, swap two neighbours)
# a word of at least this many letters may be apart. Typos in ICE's sheets are mostly one
# edit ("Greens Fork", "Macro Island", "Minehaha"); real neighbours are often two (Marion /
# Martin, Anderson / Henderson) but some are one (Walker / Waller): listings side by side
# are never joined on fuzzy words alone (see link.py).
EDITS: tuple[tuple[int, int], ...] = ((9, 2), (4, 1))

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


_APOSTROPHE = "['`\u2019\u2018\u02bc\u00b4]"
_POSSESSIVE = re.compile(rf"(?<=s){_APOSTROPHE}s\b")  # "Constables's" -> constables
_DROPPED = re.compile(rf"{_APOSTROPHE}|\.")  # "Sheriff's" -> sheriffs, "P.D." -> pd
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")  # "4th District" -> 4 district
_DIGITS = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")  # "Pct.1" -> pct 1
_NON_WORD = re.compile(r"[^0-9a-z]+")


# --- words -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32768)
def tokens(name: str | None) -> tuple[str, ...]:
    """Every word of a name, lower-case ASCII, apostrophes and periods dropped, & = and,
    abbreviations spelled out: "Boca Raton PD" -> ("boca", "raton", "police", "department")."""
    if not name:
        return ()
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = _POSSESSIVE.sub("", text.replace("&", " and "))
    text = _DIGITS.sub(" ", _ORDINAL.sub(r"\1", _DROPPED.sub("", text)))
    out: list[str] = []
    for raw in _NON_WORD.split(text):
        if raw:
            out.extend(ABBREVIATIONS.get(raw, (raw,)))
    return tuple(out)


@functools.lru_cache(maxsize=32768)
def words(name: str | None) -> tuple[str, ...]:
    """The words that tell agencies apart: ``tokens`` without filler and a leading
    "The" / "City of": "Town of Palm Beach PD" -> ("palm", "beach", "police")."""
    out = list(tokens(name))
    while out:
        if out[0] == "the":
            out = out[1:]
        elif out[0] in LEADING_OF and len(out) > 2 and out[1] == "of":
            out = out[2:]
        else:
            break
    return tuple(w for w in out if w not in FILLER)


@functools.cache
def state_words(state: str | None) -> frozenset[str]:
    """Words of a state's name (for "NH": new, hampshire): generic in that state's names."""
    if not state:
        return frozenset()
    import us

    found = us.states.lookup(state)
    return frozenset(words(found.name)) if found else frozenset()


@dataclass(frozen=True)
class Parts:
    """A name's words sorted by what they say."""

    words: frozenset[str]
    distinctive: frozenset[str]
    generic: frozenset[str]
    kinds: frozenset[str]  # kind families, e.g. {"sheriff"}


@functools.lru_cache(maxsize=32768)
def parts(name: str | None, state: str | None = None) -> Parts:
    ws = frozenset(words(name))
    own = state_words(state)
    kinds = frozenset(KIND_FAMILIES[w] for w in ws if w in KIND_FAMILIES)
    generic = frozenset(w for w in ws if w in GENERIC or w in own or w in KIND_FAMILIES)
    return Parts(ws, ws - generic, generic, kinds)


def same_word(a: str, b: str) -> bool:
    """One word spelled two ways: equal, the same kind family, or (not numbers) within the
    edits ``EDITS`` allows for its length."""
    if a == b:
        return True
    fa, fb = KIND_FAMILIES.get(a), KIND_FAMILIES.get(b)
    if fa or fb:
        return fa == fb
    if a.isdigit() or b.isdigit():
        return False
    return _close(a, b)


@functools.lru_cache(maxsize=65536)
def _close(a: str, b: str) -> bool:
    shortest = min(len(a), len(b))
    for length, edits in EDITS:
        if shortest >= length:
            return OSA.distance(a, b, score_cutoff=edits) <= edits
    return False


def covers(these: frozenset[str], others: frozenset[str]) -> bool:
    """Every word of `these` has a spelling in `others`."""
    return all(any(same_word(w, o) for o in others) for w in these)


# --- comparing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    similar: bool
    score: float  # 0..1, for ranking
    reason: str  # why (not) similar, for review listings
    same_words: bool = False  # the very same words (abbreviations and filler aside)


def compare(a: str | None, b: str | None, state: str | None = None) -> Match:
    """Whether two names of agencies in `state` are alike (see the module docstring)."""
    return _compare(a or "", b or "", state)


@functools.lru_cache(maxsize=65536)
def _compare(a: str, b: str, state: str | None) -> Match:
    pa, pb = parts(a, state), parts(b, state)
    if not pa.words or not pb.words:
        return Match(False, 0.0, "empty name")
    sc = score(a, b, state)
    if pa.kinds and pb.kinds and not pa.kinds & pb.kinds:
        kinds = f"{'/'.join(sorted(pa.kinds))} vs {'/'.join(sorted(pb.kinds))}"
        return Match(False, sc, f"different kinds of agency ({kinds})")
    if pa.words == pb.words:
        return Match(True, 1.0, "same words", same_words=True)
    own = state_words(state)
    if pa.distinctive or pb.distinctive:
        da, db = pa.distinctive, pb.distinctive
    else:  # state agencies: compare what is left once the state's own name is set aside
        da, db = pa.generic - own, pb.generic - own
    if covers(da, db) and covers(db, da):
        return Match(True, sc, "same distinctive words")
    return Match(False, sc, "different distinctive words")


def similar(a: str | None, b: str | None, state: str | None = None) -> bool:
    return compare(a, b, state).similar


def score(a: str | None, b: str | None, state: str | None = None) -> float:
    """Share of the shorter name's distinctive words found in the other (0..1)."""
    pa, pb = parts(a, state), parts(b, state)
    da, db = pa.distinctive or pa.words, pb.distinctive or pb.words
    if not da or not db:
        return 0.0
    short, long_ = (da, db) if len(da) <= len(db) else (db, da)
    return sum(any(same_word(w, o) for o in long_) for w in short) / len(short)


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
    sheet_words, pdf_words = list(tokens(sheet)), list(tokens(pdf))
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
    return closest(close_scores(query_key, keys), keys)


def close_scores(query_key: str, keys: Iterable[str]) -> dict[str, float]:
    """The keys close to a query's key (difflib ratio at least QUERY_CUTOFF), with their
    ratio: the test of ``difflib.get_close_matches``, kept so that a question asked of many
    versions scores each distinct key once (``closest`` then picks within each version)."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(query_key)
    out = {}
    for key in keys:
        matcher.set_seq1(key)
        if (
            matcher.real_quick_ratio() >= QUERY_CUTOFF
            and matcher.quick_ratio() >= QUERY_CUTOFF
            and matcher.ratio() >= QUERY_CUTOFF
        ):
            out[key] = matcher.ratio()
    return out


CLOSE_MATCHES = 10  # at most this many close keys answer a query


def closest(scores: dict[str, float], keys: Iterable[str]) -> set[str]:
    """The best-scored of `keys` (as ``difflib.get_close_matches`` ranks them)."""
    ranked = heapq.nlargest(CLOSE_MATCHES, ((scores[k], k) for k in set(keys) if k in scores))
    return {k for _, k in ranked}

"""Which list a workbook is, participating or pending: all the evidence, weighted.

ICE's two workbooks share most columns and trade names: on 2025-09-22 the "participating" URL
served the pending list, and from January 2026 the pending workbook carries an MOA column
(every cell "link pending"), which used to be a participating-only column. No single signal
can be trusted, so each signal votes for a list with the weight in ``LIST_SIGNALS`` and the
heavier side wins:

- content: a SIGNED column holding dates (only the participating list has signing dates, in
  every layout seen so far) and a header that is a known layout of one list (``LAYOUTS``) are
  decisive; an empty SIGNED column, MOA cells that link documents, or no SIGNED column under
  a header never seen only lean. An MOA column holding nothing but "link pending" says nothing.
- names: the file name (``participating...``, ``pending...``, ``287gParticipatingAgencies...``,
  ``ParticipatingAgency...``), and the text and URL of the page link it was downloaded from.

A decisive signal outweighs all the names together, so content wins where it is decisive and
the names decide where the columns are ambiguous. Signals that voted for the other list are
reported as a conflict, never dropped. Pure functions: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import unquote

LISTS = ("participating", "pending")

# Signal -> (weight, what it is). The weights are the whole decision rule: change them here.
# A decisive weight must exceed the sum of every non-decisive one (a test holds this).
DECISIVE = 100
LIST_SIGNALS: dict[str, tuple[int, str]] = {
    "signed_dates": (
        DECISIVE,
        "participating: a `SIGNED` column holding dates (only that list has signing dates)",
    ),
    "layout": (DECISIVE, "the list of the known header layout it matches (`LAYOUTS`)"),
    "signed_column": (4, "participating: a `SIGNED` column without any date"),
    "moa_links": (4, "participating: MOA cells linking documents"),
    "no_signed_column": (1, "pending: no `SIGNED` column under a header never seen"),
    "name": (3, "the list the file name names (`participating…`, `pending…`, `287gPartic…`)"),
    "link_text": (2, 'the list the text of the page link names ("Pending Agencies")'),
    "url": (1, "the list the download URL names (often repeating the file name)"),
}
# The words that name a list in a file name, link text or URL.
LIST_WORDS: dict[str, re.Pattern] = {
    "participating": re.compile(r"participat", re.IGNORECASE),
    "pending": re.compile(r"pending", re.IGNORECASE),
}


@dataclass(frozen=True)
class Layout:
    """A header ICE has used: its column names (upper case, single spaces) in ICE's order;
    a sheet matches it in any order."""

    name: str
    list: str
    columns: tuple[str, ...]
    seen: str


def _layout(name: str, lst: str, columns: str, seen: str) -> Layout:
    return Layout(name, lst, tuple(c.strip() for c in columns.split(",")), seen)


# Every layout seen, per list and era. A header not here is flagged `new_layout`.
LAYOUTS: tuple[Layout, ...] = (
    _layout(
        "participating-2025-02",
        "participating",
        "STATE, LAW ENFORCEMENT AGENCY, TYPE, SUPPORT TYPE, SIGNED, MOA",
        "2025-02-21 to 2025-03-07",
    ),
    _layout(
        "participating-2025-03",
        "participating",
        "STATE, LAW ENFORCEMENT AGENCY, TYPE, COUNTY, SUPPORT TYPE, SIGNED, MOA",
        "2025-03-17 to 2025-06-27 (COUNTY added)",
    ),
    _layout(
        "participating-2025-07",
        "participating",
        "STATE, LAW ENFORCEMENT AGENCY, TYPE, COUNTY, SUPPORT TYPE, SIGNED, MOA, ADDENDUM",
        "from 2025-07-01 (ADDENDUM added)",
    ),
    _layout(
        "pending-2025-02",
        "pending",
        "STATE, LAW ENFORCEMENT AGENCY, TYPE, SUPPORT TYPE",
        "until 2025-03-12",
    ),
    _layout(
        "pending-2025-03",
        "pending",
        "STATE, LAW ENFORCEMENT AGENCY, TYPE, COUNTY, SUPPORT TYPE",
        "2025-03-17 to 2025-12-31 (COUNTY added)",
    ),
    _layout(
        "pending-2026-01",
        "pending",
        "STATE, LAW ENFORCEMENT AGENCY, TYPE, COUNTY, SUPPORT TYPE, MOA",
        "from January 2026 (MOA added, cells 'link pending')",
    ),
)
_BY_COLUMNS = {frozenset(layout.columns): layout for layout in LAYOUTS}


@dataclass(frozen=True)
class Decision:
    list: str
    evidence: tuple[str, ...]  # signals that voted for the list, strongest first
    dissent: tuple[str, ...]  # signals that voted for the other list (same order)


def describe() -> str:
    """Markdown tables of the signal weights and the known layouts (kept in the README)."""
    out = ["| signal | weight | votes for |", "|---|---|---|"]
    out += [f"| `{s}` | {w} | {what} |" for s, (w, what) in LIST_SIGNALS.items()]
    out += ["", "| layout | list | columns (any order) | seen |", "|---|---|---|---|"]
    for layout in LAYOUTS:
        columns = ", ".join(layout.columns)
        out.append(f"| `{layout.name}` | {layout.list} | {columns} | {layout.seen} |")
    return "\n".join(out)


def layout_of(header_keys: list[str]) -> Layout | None:
    """The known layout with exactly these column names, or None for a header never seen."""
    return _BY_COLUMNS.get(frozenset(k for k in header_keys if k))


def named_list(text: str | None) -> str | None:
    """The list a name, link text or URL names; None when it names neither or both."""
    if not text:
        return None
    named = [lst for lst, pattern in LIST_WORDS.items() if pattern.search(text)]
    return named[0] if len(named) == 1 else None


def content_votes(
    header_keys: list[str], fields: set[str], signed: list, moa_links: list
) -> tuple[Layout | None, dict[str, str]]:
    """(layout, {signal: list}) from the sheet: its header, SIGNED cells, MOA link targets."""
    layout = layout_of(header_keys)
    votes: dict[str, str] = {}
    if "signed" in fields:
        dated = any(_looks_dated(v) for v in signed)
        votes["signed_dates" if dated else "signed_column"] = "participating"
    elif layout is None:
        votes["no_signed_column"] = "pending"
    if layout is not None:
        votes["layout"] = layout.list
    if any(moa_links):
        votes["moa_links"] = "participating"
    return layout, votes


def name_votes(name: str, link_text: str | None = None, url: str | None = None) -> dict[str, str]:
    """{signal: list} from the file name and the page link it was downloaded from."""
    texts = {
        "name": name.rsplit("/", 1)[-1],
        "link_text": link_text,
        "url": unquote(url) if url else None,
    }
    return {signal: lst for signal, text in texts.items() if (lst := named_list(text))}


def decide(votes: dict[str, str]) -> Decision:
    """The heavier list wins; on a tie, the side with the strongest single signal, then
    pending (the list that claims less)."""

    order = list(LIST_SIGNALS)

    def weight(signal: str) -> int:
        return LIST_SIGNALS[signal][0]

    def side(lst: str) -> list[str]:
        chosen = (s for s, v in votes.items() if v == lst)
        return sorted(chosen, key=lambda s: (-weight(s), order.index(s)))

    sides = {lst: side(lst) for lst in LISTS}
    totals = {lst: sum(map(weight, s)) for lst, s in sides.items()}
    strongest = {lst: max(map(weight, s), default=0) for lst, s in sides.items()}
    winner = max(LISTS, key=lambda lst: (totals[lst], strongest[lst], lst == "pending"))
    loser = next(lst for lst in LISTS if lst != winner)
    return Decision(winner, tuple(sides[winner]), tuple(sides[loser]))


def _looks_dated(value: object) -> bool:
    """A SIGNED cell holding a date: a date cell, an Excel serial, or text with digits."""
    if isinstance(value, (date, datetime)):
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value > 0
    return isinstance(value, str) and any(ch.isdigit() for ch in value)

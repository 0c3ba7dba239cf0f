"""When was a workbook published? From ICE's file name, an ISO date, or the last-saved time.

ICE prints no "as of" date inside its workbooks; the date lives in the file name, in forms
that drifted over 2025 (see ../shared/ice-corpus/README.md):

    participatingAgencies.xlsx               undated (early 2025)
    participatingAgencies04032025pm.xlsx     MMDDYYYY + am / mid / pm
    participatingAgencies05122025amB.xlsx    ... + a re-issue marker (B, 2, _b)
    pendingAgencies11122025.xlsx             no half-day suffix
    287gParticipatingAgencies091526pm.xlsx   MMDDYY, new stem
    ParticipatingAgency091826am.xlsx         MMDDYY, singular stem

Names also carry typos (9 digits, year 4025, last year's year in January). A name date is
trusted only when it is a real date close to the workbook's own last-saved time
(docProps/core.xml); a name whose month and day fit the saved time but whose year is off by
one (``participatingAgencies01062025pm.xlsx`` saved 2026-01-06) keeps its month and day with
the year fixed; otherwise the saved time is used, and the record says where the date came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

# Half-day suffix -> order within a day. A re-issue marker (B, 2, _b) sorts just after its
# half-day. Unknown or absent suffixes rank 0 and are ordered by saved time only.
SUFFIX_RANK: dict[str, int] = {"": 0, "am": 10, "mid": 20, "pm": 30}
REISSUE_MARKERS = ("_b", "b", "2")

# How far a name date may sit from the saved time and still be believed. A file is never
# published before it is saved (one day of slack for time zones); ICE re-serves old bytes
# under new dated names for a week or two at most in the 2025 record.
MAX_DAYS_BEFORE_SAVED = 1
MAX_DAYS_AFTER_SAVED = 45
# Years a name may be off by and still have its month and day believed (flag name_year_fixed):
# in early January ICE types last year's year.
YEAR_TYPOS = (1, -1)
# ICE works on Washington time: a file saved at 02:57 UTC on March 13 was published March 12.
PUBLISHER_TZ = ZoneInfo("America/New_York")

_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_ICE = re.compile(
    r"^(?:287g)?(?:participating|pending)agenc(?:y|ies)"
    r"(?P<digits>\d*)(?P<suffix>[a-z0-9_]*?)(?:\s*\(\d+\))?\.xlsx$",
    re.IGNORECASE,
)


class UndatableError(ValueError):
    """Neither the name nor the workbook says when it was published."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class PublicationDate:
    date: date
    source: str  # "iso_name" | "ice_name" | "saved_time" | "observed"
    suffix: str  # the half-day suffix as written ("pm", "amB", ...), "" if none
    suffix_rank: int
    flags: tuple[str, ...] = field(default_factory=tuple)


def parse_ice_name(name: str) -> tuple[date | None, str, list[str]]:
    """(date or None, suffix, flags) from an ICE file name; date None when absent or bad."""
    base = name.rsplit("/", 1)[-1]
    match = _ICE.match(base)
    if not match:
        return None, "", []
    digits, suffix = match.group("digits"), match.group("suffix")
    if not digits:
        return None, suffix, ["name_undated"]
    parsed = None
    if len(digits) == 8:
        parsed = _safe_date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    elif len(digits) == 6:
        parsed = _safe_date(2000 + int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    if parsed is None:
        return None, suffix, [f"name_date_invalid:{digits}"]
    return parsed, suffix, []


def suffix_rank(suffix: str) -> int:
    """Order of a half-day suffix within one day (am < mid < pm; re-issues just after)."""
    s = suffix.lower()
    for marker in REISSUE_MARKERS:
        base = s[: -len(marker)]
        if s.endswith(marker) and base in SUFFIX_RANK and base:
            return SUFFIX_RANK[base] + 5
    return SUFFIX_RANK.get(s, 0)


def publication_date(
    name: str, saved_at: datetime | None, observed_at: datetime | None = None
) -> PublicationDate:
    """Publication date of a workbook served or stored under `name`.

    Order of trust: an ISO date in the name (our own archive names), ICE's dated name when
    plausible, the last-saved time, and last the time the file was observed (a download or
    an archive capture). Raises UndatableError when none is available.
    """
    base = name.rsplit("/", 1)[-1]
    iso = _ISO.search(base)
    if iso:
        d = _safe_date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if d is not None:
            return PublicationDate(d, "iso_name", "", 0)
    name_date, suffix, flags = parse_ice_name(base)
    rank = suffix_rank(suffix)
    saved = _local_or_none(saved_at)
    if name_date is not None:
        if saved is None or _plausible(name_date, saved):
            return PublicationDate(name_date, "ice_name", suffix, rank, tuple(flags))
        for years in YEAR_TYPOS:
            fixed = _safe_date(name_date.year + years, name_date.month, name_date.day)
            if fixed is not None and _plausible(fixed, saved):
                return PublicationDate(fixed, "ice_name", suffix, rank, (*flags, "name_year_fixed"))
        flags.append(f"name_date_implausible:{name_date.isoformat()}")
    if saved is not None:
        return PublicationDate(saved, "saved_time", suffix, rank, tuple(flags))
    observed = _local_or_none(observed_at)
    if observed is not None:
        return PublicationDate(observed, "observed", suffix, rank, tuple(flags))
    raise UndatableError(
        base,
        "cannot date it: no usable date in the file name and no last-saved time "
        "in docProps/core.xml",
    )


def _local_or_none(moment: datetime | None) -> date | None:
    """`local_date`, or None for no moment or one at the edge of year 1 or 9999 (a broken
    clock or a hostile file: no usable time)."""
    try:
        return local_date(moment) if moment else None
    except OverflowError:
        return None


def _plausible(name_date: date, saved: date) -> bool:
    # Differences, not saved +/- a delta: a saved time in year 1 or 9999 must not overflow.
    return (saved - name_date).days <= MAX_DAYS_BEFORE_SAVED and (
        name_date - saved
    ).days <= MAX_DAYS_AFTER_SAVED


def local_date(moment: datetime) -> date:
    """The calendar date at ICE (US Eastern time) of a moment; naive moments are UTC."""
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PUBLISHER_TZ).date()


def _safe_date(year: int, month: int, day: int) -> date | None:
    if not 2000 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None

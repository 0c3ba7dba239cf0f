"""County names: typos and suffixes fixed, FIPS codes resolved, and a county filed under the
wrong state told apart from a misspelling of one in the row's own state.

Tables in ``rules.py`` (``COUNTY_CORRECTIONS``, ``COUNTY_SUFFIXES``, ``COUNTY_FIPS_SPELLINGS``,
``COUNTY_OWN_STATE_CUTOFF``); FIPS codes and county lists from addfips. Every function
returns (clean value, flags) like the rest of :mod:`ice287g.normalize.apply`.
"""

from __future__ import annotations

import difflib
import functools

from ice287g.normalize import rules
from parsers.workbook import header_key as fold

Flags = tuple[str, ...]


@functools.lru_cache(maxsize=8192)
def county_name(raw: str, state: str | None) -> tuple[str | None, Flags]:
    key = fold(raw)
    if key in rules.MISSING_TOKENS:
        return None, (("county_missing",) if key else ())
    words = " ".join(raw.replace("\xa0", " ").split()).split(" ")
    last = words[-1].upper()
    flags: Flags = ()
    bare = key
    if last in rules.COUNTY_SUFFIXES:
        if len(words) == 1:  # just "County": no county named
            return None, ("county_missing",)
        canonical = rules.COUNTY_SUFFIXES[last]
        if canonical.upper() != last:
            flags = ("county_corrected",)
        words[-1] = canonical
        bare = fold(" ".join(words[:-1]))
    for lookup in (key, fold(" ".join(words)), bare):
        fixed = rules.COUNTY_CORRECTIONS.get((state or "", lookup))
        if fixed:
            return fixed, ("county_corrected",)
    return " ".join(words), flags


@functools.lru_cache(maxsize=8192)
def county_fips(state: str | None, county: str | None) -> str | None:
    if not state or not county:
        return None
    spelling = rules.COUNTY_FIPS_SPELLINGS.get((state, fold(county)), county)
    return _fips().get_county_fips(spelling, state=state)


@functools.cache
def _fips():
    import addfips  # loads its tables once, only when a county needs resolving

    return addfips.AddFIPS()


def fips_flagged(county: str | None, state: str | None) -> tuple[str | None, Flags]:
    code = county_fips(state, county)
    if not county or code:
        return code, ()
    elsewhere = states_with_county(county)
    # e.g. Kershaw County filed under FL; not Overton County under TX (alike a TX county)
    if len(elsewhere) == 1 and state not in elsewhere and not _alike_in_state(county, state):
        return None, ("county_fips_unresolved", f"state_county_mismatch:{elsewhere[0]}")
    return None, ("county_fips_unresolved",)


@functools.lru_cache(maxsize=1024)
def states_with_county(county: str) -> tuple[str, ...]:
    """USPS codes of the states where a county of this name resolves (only asked for
    counties that did not resolve in their own row's state, so rarely)."""
    codes = sorted({code for code in rules.STATE_CODES.values() if len(code) == 2})
    return tuple(c for c in codes if county_fips(c, county))


def _alike_in_state(county: str, state: str | None) -> bool:
    """A county of `state` is spelled much like `county` (a misspelling, not a wrong state)."""
    names = _county_names().get(state or "", ())
    return bool(
        difflib.get_close_matches(_bare_county(county), names, 1, rules.COUNTY_OWN_STATE_CUTOFF)
    )


def _bare_county(name: str) -> str:
    words = name.lower().split()
    suffixes = {s.lower() for s in rules.COUNTY_SUFFIXES.values()}
    return " ".join(words[:-1] if len(words) > 1 and words[-1] in suffixes else words)


@functools.cache
def _county_names() -> dict[str, tuple[str, ...]]:
    """USPS code -> bare county names, from addfips' own county list."""
    import csv

    import addfips.addfips as af
    import us

    path = af.AddFIPS.data.joinpath(af.COUNTY_FILES[max(af.COUNTY_FILES)])
    by_fips = us.states.mapping("fips", "abbr")
    names: dict[str, list[str]] = {}
    with path.open("rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            state = by_fips.get(row["statefp"])
            if state:
                names.setdefault(state, []).append(_bare_county(row["name"]))
    return {state: tuple(n) for state, n in names.items()}

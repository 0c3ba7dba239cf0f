"""Every normalization rule, as data. Review and extend here; ``apply.py`` and ``counties.py``
only apply them.

Conventions:
- Lookup keys are "folded" first: NBSP -> space, runs of whitespace -> one space, trimmed,
  upper-cased (``parsers.workbook.header_key``: one fold for headers and values). Case and
  whitespace fixes are cosmetic and not flagged (the raw value is kept beside the clean one).
- A value found in a ``*_CORRECTIONS`` table is a real correction and flags the row.
- A value found nowhere is kept out of the clean column (missing) and flags the row, so a new
  variant from ICE shows up in review instead of slipping through.
"""

from __future__ import annotations

import us

# --- state -> USPS code -------------------------------------------------------------------
# Canonical names and codes come from the maintained `us` package (states, DC, territories).
STATE_CODES: dict[str, str] = {
    **{s.name.upper(): s.abbr for s in us.states.STATES_AND_TERRITORIES},
    **{s.abbr: s.abbr for s in us.states.STATES_AND_TERRITORIES},
    us.states.DC.name.upper(): "DC",
    "DC": "DC",
    "WASHINGTON DC": "DC",
    "WASHINGTON, D.C.": "DC",
    "U.S. VIRGIN ISLANDS": "VI",
    "US VIRGIN ISLANDS": "VI",
    "NORTHERN MARIANA ISLANDS": "MP",
    "COMMONWEALTH OF THE NORTHERN MARIANA ISLANDS": "MP",
}
# Typos seen in ICE's files (flag: state_corrected).
STATE_CORRECTIONS: dict[str, str] = {
    "UTAHJ": "UT",
    "WEST VIRIGINIA": "WV",
    "PENNSLYVANIA": "PA",
    "MCHIGAN": "MI",
    "MISSISIPPI": "MS",
    "TENNESEE": "TN",
    "LOUSIANA": "LA",
}
# Unlisted values closer than this (difflib ratio) to one state name are taken, flagged
# state_guessed; anything else is left missing and flagged state_unknown.
STATE_GUESS_CUTOFF = 0.88

# --- support model -> JEM / TFM / WSO / TTFM -----------------------------------------------
MODELS: dict[str, str] = {
    "JAIL ENFORCEMENT MODEL": "JEM",
    "TASK FORCE MODEL": "TFM",
    "WARRANT SERVICE OFFICER": "WSO",
    "TRIBAL TASK FORCE MODEL": "TTFM",
    "JEM": "JEM",
    "TFM": "TFM",
    "WSO": "WSO",
    "TTFM": "TTFM",
}
MODEL_CORRECTIONS: dict[str, str] = {
    "JAIL ENFORCMENT MODEL": "JEM",
    "JAIL ENFORCEMENT": "JEM",
    "TASK FORCE OFFICER": "TFM",
    "TASK FORCE": "TFM",
    "WARRANT SERVICES OFFICER": "WSO",
    "WARRANT SERVICE OFFICE": "WSO",
    "WARRANT SERVICE OFFICERS": "WSO",
    "WARRANT SERVICE": "WSO",
    "TRIBAL TASK FORCE": "TTFM",
}
# Last resort, flagged model_guessed: the first word names the model.
MODEL_PREFIXES: dict[str, str] = {"JAIL": "JEM", "TASK": "TFM", "WARRANT": "WSO", "TRIBAL": "TTFM"}
MODEL_NAMES: dict[str, str] = {
    "JEM": "Jail Enforcement Model",
    "TFM": "Task Force Model",
    "WSO": "Warrant Service Officer",
    "TTFM": "Tribal Task Force Model",
}

# --- agency type -> county / municipality / state / tribal / other -------------------------
AGENCY_TYPES: dict[str, str] = {
    "COUNTY": "county",
    "MUNICIPALITY": "municipality",
    "STATE": "state",
    "STATE AGENCY": "state",
    "TRIBAL": "tribal",
    "TRIBE": "tribal",
    "TRIBAL NATION": "tribal",
    "TRIBAL AGENCY": "tribal",
    "OTHER": "other",
}
AGENCY_TYPE_CORRECTIONS: dict[str, str] = {
    "MUNCIPALITY": "municipality",
    "MUNICIPAL": "municipality",
    "MUNICPALITY": "municipality",
    "CITY": "municipality",
    "COUNTY AGENCY": "county",
}

# --- missing markers (any field) -----------------------------------------------------------
# Typed stand-ins for "unknown", as opposed to Excel error cells, which are always missing.
MISSING_TOKENS: frozenset[str] = frozenset({"", "#N/A", "#NA", "#N?A", "N/A", "NA", "-", "--"})

# --- county --------------------------------------------------------------------------------
# The suffix word, any case or typo -> canonical spelling (flag county_corrected when the
# spelling, not just the case, changed).
COUNTY_SUFFIXES: dict[str, str] = {
    "COUNTY": "County",
    "COUNY": "County",
    "CONTY": "County",
    "COUTNY": "County",
    "COUNTEY": "County",
    "CNTY": "County",
    "PARISH": "Parish",
    "BOROUGH": "Borough",
    "CITY": "City",
}
# Whole-name typos and misnamed county-equivalents, keyed by (state, folded name), each checked
# against the agency it belongs to (flag county_corrected). A key without its suffix word
# ("WHITELY") also matches the name with any suffix ("Whitely County", "Whitely Countey").
# `ice287g counties --unresolved` lists what is left to review.
COUNTY_CORRECTIONS: dict[tuple[str, str], str] = {
    ("KY", "WHITELY"): "Whitley County",
    ("NY", "HERKIMBER"): "Herkimer County",
    ("OK", "BRYANT"): "Bryan County",
    ("PA", "MIFFIN"): "Mifflin County",
    ("SC", "LEXIGNTON"): "Lexington County",
    ("MD", "ALLEGANCY"): "Allegany County",
    ("LA", "CALACASIEU PARISH"): "Calcasieu Parish",
    ("FL", "ST. LUICE COUNTY"): "St. Lucie County",
    ("TX", "SOMERVILL"): "Somervell County",
    ("AL", "FRANKIN COUNTY"): "Franklin County",
    ("AR", "LAFAYTTE COUNTY"): "Lafayette County",
    ("AR", "LAYAFETTE COUNTY"): "Lafayette County",
    ("AR", "POP COUNTY"): "Pope County",
    ("AR", "PULAKSI COUNTY"): "Pulaski County",
    ("AR", "BOWIE COUNTY"): "Miller County",  # Texarkana PD (AR); Bowie is the Texas side
    ("FL", "FLAGER COUNTY"): "Flagler County",
    ("FL", "FLAGERE COUNTY"): "Flagler County",
    ("GA", "MURRARY COUNTY"): "Murray County",
    ("IN", "STUEBEN COUNTY"): "Steuben County",
    ("KS", "LYON'S COUNTY"): "Lyon County",
    ("KS", "SEDGQICK COUNTY"): "Sedgwick County",
    ("LA", "ARCADIA COUNTY"): "Acadia Parish",  # Morse PD
    ("LA", "GERMAN COAST COUNTY"): "St. Charles Parish",
    ("LA", "LAFOURCHE COUNTY"): "Lafourche Parish",
    ("LA", "SAINT LANDRY COUNTY"): "St. Landry Parish",
    ("LA", "ST. LANDRY COUNTY"): "St. Landry Parish",
    ("LA", "UNION COUNTY"): "Union Parish",
    ("MI", "BERRIAN COUNTY"): "Berrien County",
    ("MN", "FREEDOM COUNTY"): "Freeborn County",
    ("NC", "ALBEMARLE COUNTY"): "Pasquotank County",  # Albemarle District Jail
    ("NC", "ALBERMARLE COUNTY"): "Pasquotank County",
    ("PA", "ALLEGHANY COUNTY"): "Allegheny County",
    ("PA", "DAMASCUS COUNTY"): "Wayne County",  # Damascus Township
    ("SC", "MCCORKMICK COUNTY"): "McCormick County",
    ("TN", "SPARTA-WHITE COUNTY"): "White County",
    ("TX", "FALL COUNTY"): "Falls County",  # Marlin PD
    ("TX", "LAMPASS COUNTY"): "Lampasas County",
    ("TX", "PALMER COUNTY"): "Parmer County",
    ("VA", "HOPEWELL COUNTY"): "Hopewell city",  # an independent city
    ("VA", "PORTSMOUTH COUNTY"): "Portsmouth city",
    ("GU", "KATTAN DISTRICT"): "Guam",  # no district-level FIPS; Guam is one county-equivalent
}

# Correct names that addfips knows only under another spelling: (state, folded name) -> the
# spelling it resolves (used for the FIPS code only; the name is kept as ICE wrote it).
COUNTY_FIPS_SPELLINGS: dict[tuple[str, str], str] = {
    ("LA", "LASALLE PARISH"): "La Salle Parish",
}
# A county that does not resolve in its row's state but does in exactly one other state is
# flagged state_county_mismatch:ST, unless a county of the row's own state is this alike
# (difflib ratio, suffix words dropped): then it is more likely a misspelling of that county
# (Overton County under TX) and stays merely unresolved. The 2025 mismatches are below 0.6.
COUNTY_OWN_STATE_CUTOFF = 0.7

# --- signed --------------------------------------------------------------------------------
# Text forms typed into the SIGNED column, tried in order: regex -> (month, day, year) groups.
SIGNED_TEXT_PATTERNS: tuple[str, ...] = (
    r"^(\d{1,2})/(\d{1,2})/(\d{4})$",  # 05/08/2025
    r"^(\d{1,2})/(\d{1,2})(\d{4})$",  # 05/082025, 7/72025 (slash dropped)
    r"^(\d{1,2})-(\d{1,2})-(\d{4})$",  # 05-08-2025
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$",  # 05.08.2025
)
# Years typed with a wrong first digit (5025) are moved into this range (flag signed_year_fixed).
SIGNED_YEAR_RANGE = (2000, 2100)

# --- MOA / ADDENDUM links ------------------------------------------------------------------
CANONICAL_HOST = "www.ice.gov"
ICE_HOSTS: frozenset[str] = frozenset({"www.ice.gov", "ice.gov"})
SAFELINKS_HOST_SUFFIX = "safelinks.protection.outlook.com"
# Cell text that means "the PDF is not online yet" (folded, then matched exactly).
LINK_PENDING_TEXTS: frozenset[str] = frozenset(
    {"LINK PENDING", "PENDING", "LINK PENDING.", "MOA PENDING", "PENDING LINK"}
)

# --- text of every field -------------------------------------------------------------------
# Characters that are never part of a name or a code: C0 and C1 control characters (NUL, ...;
# tab, newline and CR are whitespace and collapsed), DEL, and the invisible bidi controls
# that reorder text on screen (U+202A-202E, U+2066-2069, LRM, RLM, ALM). Removed from the
# clean fields (the raw value keeps them); flag `control_chars_removed`.
CONTROL_CHARS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
# A clean free-text field never starts what a spreadsheet runs as a formula (``=``, ``+``,
# ``-``, ``@``: ``ice287g.safetext``): it gets a leading ``'``; flag `formula_neutralized`.
FORMULA_SAFE_FIELDS = ("agency", "county")

# --- agency name ---------------------------------------------------------------------------
# Characters replaced before whitespace is collapsed (not flagged: cosmetic).
AGENCY_CHAR_MAP: dict[str, str] = {
    "\xa0": " ",
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "`": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
}
# For agency_id only: these become words before all punctuation and spaces are dropped.
ID_WORD_MAP: dict[str, str] = {"&": "and"}

"""Raw workbook rows -> snapshot rows: apply the tables in ``rules.py``, keep every raw value.

Work is column-wise: each distinct raw value of a column is normalized once (values repeat
thousands of times across versions, so results are cached) and mapped onto the rows.
Every function returns (clean value, flags), and the flags of a row are the union of its
fields' flags.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import unicodedata
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import pyarrow as pa

from ice287g.normalize import rules
from ice287g.normalize.counties import county_name, fips_flagged
from ice287g.safetext import spreadsheet_safe
from ice287g.schema import SNAPSHOT_SCHEMA
from parsers.workbook import ParsedWorkbook
from parsers.workbook import header_key as fold

Flags = tuple[str, ...]
_EXCEL_EPOCH = date(1899, 12, 30)
_SIGNED_PATTERNS = [re.compile(p) for p in rules.SIGNED_TEXT_PATTERNS]
_URL_SCHEME = re.compile(r"^(https?):/*", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def raw_text(value: object) -> str | None:
    """A cell value as text, exactly: dates as ISO dates, numbers without a spurious .0."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        midnight = value.time() == datetime.min.time()
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@functools.lru_cache(maxsize=4096)
def state_code(raw: str) -> tuple[str | None, Flags]:
    key = fold(raw)
    if key in rules.MISSING_TOKENS:
        return None, ("state_missing",)
    if key in rules.STATE_CODES:
        return rules.STATE_CODES[key], ()
    if key in rules.STATE_CORRECTIONS:
        return rules.STATE_CORRECTIONS[key], ("state_corrected",)
    names = [n for n in rules.STATE_CODES if len(n) > 2]
    close = difflib.get_close_matches(key, names, n=2, cutoff=rules.STATE_GUESS_CUTOFF)
    if close and len({rules.STATE_CODES[c] for c in close}) == 1:
        return rules.STATE_CODES[close[0]], ("state_guessed",)
    return None, ("state_unknown",)


@functools.lru_cache(maxsize=4096)
def model_code(raw: str) -> tuple[str | None, Flags]:
    key = fold(raw)
    if key in rules.MISSING_TOKENS:
        return None, ("model_missing",)
    if key in rules.MODELS:
        return rules.MODELS[key], ()
    if key in rules.MODEL_CORRECTIONS:
        return rules.MODEL_CORRECTIONS[key], ("model_corrected",)
    first = key.split(" ", 1)[0]
    if first in rules.MODEL_PREFIXES:
        return rules.MODEL_PREFIXES[first], ("model_guessed",)
    return None, ("model_unknown",)


@functools.lru_cache(maxsize=4096)
def agency_type(raw: str) -> tuple[str | None, Flags]:
    key = fold(raw)
    if key in rules.MISSING_TOKENS:
        return None, ("agency_type_missing",)
    if key in rules.AGENCY_TYPES:
        return rules.AGENCY_TYPES[key], ()
    if key in rules.AGENCY_TYPE_CORRECTIONS:
        return rules.AGENCY_TYPE_CORRECTIONS[key], ("agency_type_corrected",)
    return "other", ("agency_type_other",)


def signed_date(value: object) -> tuple[date | None, Flags]:
    """SIGNED cell -> date. Text forms are repaired, impossible years moved back into range."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ("signed_missing",)
    flags: list[str] = []
    if isinstance(value, datetime):
        d = value.date()
    elif isinstance(value, date):
        d = value
    elif isinstance(value, (int, float)):
        try:
            d = _EXCEL_EPOCH + timedelta(days=int(value))
        except (OverflowError, ValueError):  # a serial past year 9999, inf, NaN
            return None, ("signed_unparsed",)
        flags.append("signed_from_serial")
    else:
        d = _signed_text(str(value).strip())
        if d is None:
            return None, ("signed_unparsed",)
        flags.append("signed_text_repaired")
    low, high = rules.SIGNED_YEAR_RANGE
    if not low <= d.year <= high:
        year = low + d.year % 1000 if low <= low + d.year % 1000 <= high else None
        try:
            d = d.replace(year=year) if year else None
        except ValueError:
            d = None
        if d is None:
            return None, (*flags, "signed_unparsed")
        flags.append("signed_year_fixed")
    return d, tuple(flags)


@functools.lru_cache(maxsize=1024)
def _signed_text(text: str) -> date | None:
    for pattern in _SIGNED_PATTERNS:
        m = pattern.match(text)
        if m:
            month, day, year = (int(g) for g in m.groups())
            try:
                return date(year, month, day)
            except ValueError:
                return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


@functools.lru_cache(maxsize=16384)
def canonical_url(target: str) -> tuple[str | None, Flags]:
    """A hyperlink target -> one canonical https://www.ice.gov/... URL, and what was repaired."""
    url = target.strip()
    flags: list[str] = []
    if url.lower().startswith("chrome-extension://"):
        start = url.lower().find("http", len("chrome-extension://"))
        if start < 0:
            return None, ("url_unusable",)
        url = url[start:]
        flags.append("url_chrome_extension")
    for _ in range(3):  # SafeLinks can be nested
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith(rules.SAFELINKS_HOST_SUFFIX):
            break
        inner = parse_qs(parts.query).get("url")
        if not inner:
            return None, (*flags, "url_unusable")
        url = inner[0].strip()
        flags.append("url_safelinks")
    match = _URL_SCHEME.match(url)
    if match:
        if match.group(0) != match.group(1) + "://":
            flags.append("url_slashes_repaired")
        scheme, rest = match.group(1).lower(), url[match.end() :]
        url = f"{scheme}://{rest}"
    elif url.startswith("/"):
        url = f"https://{rules.CANONICAL_HOST}{url}"
        flags.append("url_relative")
    elif url.lower().startswith(("www.", "ice.gov/")):
        url = f"https://{url}"
        flags.append("url_no_scheme")
    else:
        return None, (*flags, "url_unusable")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return None, (*flags, "url_unusable")
    if parts.scheme == "http":
        flags.append("url_http")
    if host in rules.ICE_HOSTS:
        if host != rules.CANONICAL_HOST:
            flags.append("url_host_repaired")
        host = rules.CANONICAL_HOST
    else:
        flags.append("url_offsite")
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
    if not path.lower().endswith(".pdf"):
        flags.append("url_not_pdf")
    return urlunsplit(("https", host, path, parts.query, "")), tuple(flags)


def link_field(
    text: object, target: str | None, prefix: str, required: bool
) -> tuple[str | None, str | None, Flags]:
    """(url, status, flags) of an MOA/ADDENDUM cell from its text and hyperlink target."""
    text_s = raw_text(text) or ""
    folded = fold(text_s)
    flags: list[str] = []
    if target:
        url, url_flags = canonical_url(target)
        flags += [f"{prefix}_{f}" for f in url_flags]
        if url:
            return url, "available", tuple(flags)
    if folded.startswith(("HTTP", "WWW.", "/DOCLIB")):
        url, url_flags = canonical_url(text_s)
        flags += [f"{prefix}_{f}" for f in url_flags]
        if url:
            return url, "available", (*flags, f"{prefix}_url_from_text")
    if folded in rules.LINK_PENDING_TEXTS:
        return None, "pending", tuple(flags)
    if not folded and not required:
        return None, None, tuple(flags)
    if folded == "LINK":
        flags.append(f"{prefix}_link_without_target")
    return None, "missing", (*flags, f"{prefix}_missing")


@functools.lru_cache(maxsize=16384)
def agency_name(raw: str) -> str | None:
    text = unicodedata.normalize("NFC", raw)
    for old, new in rules.AGENCY_CHAR_MAP.items():
        text = text.replace(old, new)
    text = " ".join(text.split())
    text = re.sub(r"\s+'\s*s\b", "'s", text)  # "Sheriff 's" -> "Sheriff's"
    return text or None


@functools.lru_cache(maxsize=16384)
def agency_key(name: str) -> str:
    """Name -> key equal for spellings that differ only in case, spacing or punctuation."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    for old, new in rules.ID_WORD_MAP.items():
        text = text.replace(old, f" {new} ")
    return _NON_ALNUM.sub("", text)


def agency_id(state: str | None, name: str | None) -> str | None:
    if not name:
        return None
    key = agency_key(name)
    return f"{state or 'XX'}:{key}" if key else None


# How a support model ICE's cell does not name (flag ``model_unknown``) is written in text.
UNKNOWN_MODEL = "unknown"


def agreement_id(agency: str | None, model: str | None) -> str | None:
    return f"{agency}:{model or UNKNOWN_MODEL}" if agency else None


def normalize(parsed: ParsedWorkbook) -> pa.Table:
    """All rows of one workbook as a table in SNAPSHOT_SCHEMA."""
    n = len(parsed)
    cols, errors = parsed.columns, parsed.errors
    participating = parsed.list == "participating"
    flags: list[list[str]] = [[] for _ in range(n)]

    def raw_column(field: str) -> list[str | None]:
        texts = _mapped(cols[field], raw_text)
        for i, text in errors.get(field, {}).items():  # Excel error cells: raw is the error
            texts[i] = text
        return texts

    def usable(field: str) -> list[str]:
        """Raw text with Excel error cells blanked (an error is 'missing', not a value) and
        control characters removed (flagged)."""
        texts = [t or "" for t in raw[field]]
        for i in errors.get(field, {}):
            texts[i] = ""
        cleaned = _mapped(texts, _without_controls)
        for i in [i for i, (t, c) in enumerate(zip(texts, cleaned)) if t != c]:
            if "control_chars_removed" not in flags[i]:
                flags[i].append("control_chars_removed")
        return cleaned

    def formula_safe(field: str, values: list) -> list:
        if field not in rules.FORMULA_SAFE_FIELDS:
            return values
        safe = [spreadsheet_safe(v) for v in values]
        for i in [i for i, (v, s) in enumerate(zip(values, safe)) if v != s]:
            if "formula_neutralized" not in flags[i]:
                flags[i].append("formula_neutralized")
        return safe

    def clean_column(values: list, fn, other: list | None = None) -> list:
        keys = values if other is None else list(zip(values, other))
        results = _mapped(keys, fn, star=other is not None)
        for i in [i for i, r in enumerate(results) if r[1]]:
            flags[i].extend(results[i][1])
        return [r[0] for r in results]

    raw = {
        f: raw_column(f)
        for f in ("state", "agency", "agency_type", "county", "model", "signed", "moa", "addendum")
    }
    for field, cells in errors.items():
        for i in cells:
            flags[i].append(f"excel_error:{field}")
    for i in [i for i, h in enumerate(parsed.hidden) if h]:
        flags[i].append("hidden_row")
    state = clean_column(usable("state"), state_code)
    agency = formula_safe("agency", clean_column(usable("agency"), _agency_name_flagged))
    atype = clean_column(usable("agency_type"), agency_type)
    if "county" in parsed.fields:
        county = formula_safe("county", clean_column(usable("county"), county_name, state))
        for i in errors.get("county", {}):  # an Excel error (#N/A) is an unknown county
            flags[i].append("county_missing")
    else:
        county = [None] * n
    fips = clean_column(county, fips_flagged, state)
    model = clean_column(usable("model"), model_code)
    moa_links, add_links = parsed.links["moa"], parsed.links["addendum"]
    if participating:
        signed_in = list(cols["signed"])
        for i in errors.get("signed", {}):
            signed_in[i] = None
        signed = clean_column(signed_in, signed_date)
        moa = clean_column(raw["moa"], _link_moa, moa_links)
        moa_url, moa_status = [m[0] for m in moa], [m[1] for m in moa]
    else:
        signed = moa_url = moa_status = [None] * n
    add = clean_column(raw["addendum"], _link_addendum, add_links)
    agency_ids = [agency_id(s, a) for s, a in zip(state, agency)]
    # Duplicates: the same row again, ignoring only surrounding whitespace.
    trimmed = [[v.strip() if isinstance(v, str) else v for v in col] for col in raw.values()]
    seen: set = set()
    for i, identity in enumerate(zip(*trimmed, moa_links, add_links)):
        if identity in seen:
            flags[i].append("duplicate_row")
        seen.add(identity)
    columns = {
        "row": parsed.row_numbers,
        "list": [parsed.list] * n,
        "state": state,
        "state_raw": raw["state"],
        "agency": agency,
        "agency_raw": raw["agency"],
        "agency_type": atype,
        "agency_type_raw": raw["agency_type"],
        "county": county,
        "county_raw": raw["county"],
        "county_fips": fips,
        "model": model,
        "model_raw": raw["model"],
        "signed": signed,
        "signed_raw": raw["signed"],
        "moa_url": moa_url,
        "moa_status": moa_status,
        "moa_text_raw": raw["moa"],
        "moa_link_raw": moa_links,
        "addendum_url": [a[0] for a in add],
        "addendum_status": [a[1] for a in add],
        "addendum_text_raw": raw["addendum"],
        "addendum_link_raw": add_links,
        "agency_id": agency_ids,
        "agreement_id": [agreement_id(a, m) for a, m in zip(agency_ids, model)],
        "hidden": parsed.hidden,
        "flags": flags,
        "extra": [
            json.dumps({k: raw_text(x) for k, x in e.items()}, ensure_ascii=False) if e else None
            for e in parsed.extra
        ],
    }
    return pa.table(columns, schema=SNAPSHOT_SCHEMA)


_CONTROL_CHARS = re.compile(rules.CONTROL_CHARS)


def _without_controls(text: str) -> str:
    """`text` without control characters (the same object when it has none)."""
    return _CONTROL_CHARS.sub("", text) if _CONTROL_CHARS.search(text) else text


_MEMO: dict = {}
_MEMO_LIMIT = 200_000


def _mapped(values: list, fn, star: bool = False) -> list:
    """[fn(v) for v in values] (fn(*v) with star), calling fn once per distinct value ever.

    Successive versions repeat nearly every value, so results persist across workbooks in a
    plain dict; the new values of a version are found with one set difference.
    """
    memo = _MEMO.setdefault(fn, {})
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    for v in set(values).difference(memo):
        memo[v] = fn(*v) if star else fn(v)
    return [memo[v] for v in values]


# Adapters giving every field the same (value, flags) shape for ``clean_column``.
def _agency_name_flagged(raw: str) -> tuple[str | None, Flags]:
    name = agency_name(raw)
    return name, (() if name else ("agency_missing",))


def _link_moa(text, target):
    url, status, flags = link_field(text, target, "moa", True)
    return (url, status), flags


def _link_addendum(text, target):
    url, status, flags = link_field(text, target, "addendum", False)
    return (url, status), flags

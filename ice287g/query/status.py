"""Is the record current and trustworthy? Warnings about ICE's format drift and stale lists.

A version warns when its header was never seen before (``new_layout``) and when the signals
that decide its list disagree (``list_conflict``); a list warns when it stopped updating
while the other kept going (so a list misfiled under the other one, or a download that keeps
failing, shows instead of silently freezing the record). ``status`` gathers them per list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from ice287g.store.ledger import NEW_VERSION, NOT_MODIFIED, PUBLICATIONS, SAME_BYTES
from parsers.filename import local_date
from parsers.lists import LISTS

# A list whose newest version (or last sighting on ICE's page) is more than this many days
# older than the other list's newest version is stale.
STALE_AFTER_DAYS = 14


def _as_list(value) -> list:
    """A list cell of the catalog (list, numpy array, or missing in an older catalog)."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    return list(value)


def version_warnings(record: Mapping) -> list[str]:
    """Plain-language warnings of one version (a catalog record or row)."""
    flags = _as_list(record.get("flags"))
    out = []
    if "new_layout" in flags:
        header = ", ".join(c for c in _as_list(record.get("columns")) if str(c).strip())
        out.append(f"new layout: {header}")
    for flag in flags:
        if flag.startswith("list_conflict:"):
            lst = record.get("list")
            other = next((x for x in LISTS if x != lst), "?")
            evidence = "+".join(_as_list(record.get("list_evidence"))) or "?"
            dissent = flag.split(":", 1)[1].replace(",", "+")
            out.append(f"list conflict: {lst} by {evidence} over {dissent} ({other})")
    return out


def last_seen(store, as_of: date | None = None) -> dict[str, date]:
    """List -> the last day ICE was seen serving a version of it (publications ledger): a
    list re-served unchanged is current, not stale."""
    keep = (NEW_VERSION, SAME_BYTES, NOT_MODIFIED)
    columns = ["outcome", "list", "captured_at", "fetched_at"]
    seen: dict[str, date] = {}
    for row in PUBLICATIONS.read(store, columns).to_pylist():
        if row["outcome"] not in keep or not row["list"]:
            continue
        day = local_date(row["captured_at"] or row["fetched_at"])
        if (as_of is None or day <= as_of) and day > seen.get(row["list"], date.min):
            seen[row["list"]] = day
    return seen


def stale_lists(
    cat, seen: Mapping[str, date] | None = None, as_of: date | None = None
) -> dict[str, str]:
    """List -> why it is stale, for each list more than STALE_AFTER_DAYS behind the other
    (`cat`: the catalog DataFrame)."""
    newest = {}
    for lst in LISTS:
        dates = cat.loc[cat["list"] == lst, "date"]
        if as_of is not None:
            dates = dates[dates <= as_of]
        if len(dates):
            newest[lst] = max(dates)
    out = {}
    for lst, other in (LISTS, LISTS[::-1]):
        if lst not in newest or other not in newest:
            continue
        last = max(newest[lst], (seen or {}).get(lst, date.min))
        gap = (newest[other] - last).days
        if gap > STALE_AFTER_DAYS:
            since = f", last seen on ICE's page {last}" if last != newest[lst] else ""
            out[lst] = (
                f"{lst} list is stale: newest version {newest[lst]}{since}, {gap} days "
                f"behind {other} ({newest[other]})"
            )
    return out


def stale_notes(store, lists=LISTS, as_of: date | None = None) -> list[str]:
    """Header lines ("# ...") for the stale lists among `lists`."""
    from ice287g.query.versions import catalog

    cat = catalog(store)
    if cat.empty:
        return []
    stale = stale_lists(cat, last_seen(store, as_of), as_of)
    return [f"# {stale[lst]}" for lst in lists if lst in stale]


def status(data_dir=None, today: date | None = None):
    """Per list (a DataFrame): the newest version, its age in days, and its open warnings
    (stale list, suspect newest version, new layout, list conflict)."""
    import pandas as pd

    from ice287g.query.versions import catalog, store_of, version_on

    store = store_of(data_dir)
    cat = catalog(store)
    today = today or local_date(datetime.now(UTC))
    stale = stale_lists(cat, last_seen(store)) if not cat.empty else {}
    rows = []
    for lst in LISTS:
        version = version_on(cat, lst, None)
        if version is None:
            rows.append({"list": lst, "warnings": ["no version stored"]})
            continue
        warnings = [stale[lst]] if lst in stale else []
        if version["suspect"]:
            warnings.append(f"suspect: {version['suspect_reason']}")
        warnings += version_warnings(version)
        rows.append(
            {
                "list": lst,
                "date": version["date"],
                "seq": version["seq"],
                "sha256": version["sha256"],
                "rows": version["rows"],
                "file_name": version["file_name"],
                "age_days": (today - version["date"]).days,
                "warnings": warnings,
            }
        )
    columns = ["list", "date", "seq", "sha256", "rows", "file_name", "age_days", "warnings"]
    counts = {"seq": "Int64", "rows": "Int64", "age_days": "Int64"}
    return pd.DataFrame(rows, columns=columns).astype(counts)

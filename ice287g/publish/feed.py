"""``feed.xml``: an Atom feed with one entry per new version that changed something.

An entry per non-suspect version of either list (after the first of its list) whose change
log records anything: the agreements it lists, and how many were added, removed, returned,
renamed, re-signed or otherwise changed, with the names. Its link opens the page's diff of
that day with the day before. Written with feedgen; the same store gives the same bytes.

The feed is archived by calendar year (RFC 5005, "Archived Feeds"): ``feed.xml``, the
document readers subscribe to, holds the entries of the newest year that has any, and
links (``prev-archive``) to ``feed-YYYY.xml``, the archive of the year before that had
entries, which links to the one before it, and so on; each archive is marked
``<fh:archive/>`` and links back to ``feed.xml`` (``current``). Every entry is in exactly
one of them, and a reader polling ``feed.xml`` fetches a year of entries, not ten.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, time
from html import escape
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ice287g.arrow import dataframe
from ice287g.publish import cache
from ice287g.publish.files import PACKAGE_TITLE

FEED = "feed.xml"
ARCHIVE = "feed-{year}.xml"  # a year's archive document
# RFC 5005's mark of an archive document (its own namespace declared on it).
ARCHIVED = b'  <fh:archive xmlns:fh="http://purl.org/syndication/history/1.0"/>\n'
ENTRIES_NAMED = 25  # agencies named per kind of change in an entry
# How an event of the change log is counted in a feed entry.
KINDS = {
    "listed": "added",
    "removed": "removed",
    "returned": "returned",
    "renamed": "renamed",
    "re_signed": "re-signed",
}
ORDER = ["added", "removed", "returned", "renamed", "re-signed", "other changes"]


def _kind(event: str, field) -> str | None:
    """Every other event (moa_posted, changed, model_added, model_switched) is an "other
    change"."""
    return KINDS.get(event, "other changes")


def _count(n: int, kind: str) -> str:
    return f"{n} {kind.removesuffix('s') if n == 1 and kind.endswith('changes') else kind}"


def _when(day) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _uuid(text: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'ice287g:' + text)}"


class Successor(NamedTuple):
    """A non-suspect version after the first of its list, and the date of the one before."""

    list: str
    previous: object  # datetime.date
    date: object
    seq: int
    sha256: str
    file_name: str
    rows: int


def _successors(cat: pd.DataFrame) -> list[Successor]:
    """Each non-suspect version after the first of its list (``Successor``; a version's own
    events make its entry; the first version of each list is not an entry), by list, then
    date and seq."""
    columns = ["list", "date", "seq", "sha256", "file_name", "rows"]
    kept = cat.loc[~cat["suspect"].to_numpy(), columns].sort_values(["list", "date", "seq"])
    lst, day, *rest = (kept[c].tolist() for c in columns)
    return [
        Successor(lst[i], day[i - 1], day[i], *(col[i] for col in rest))
        for i in range(1, len(lst))
        if lst[i] == lst[i - 1]
    ]


def _names(events: pd.DataFrame) -> list[str]:
    """How each event names its agreement in an entry (a change: with the field's values)."""
    out = []
    for event, agency, state, model, fld, before, after in zip(
        *(events[c].tolist() for c in ("event", "agency", "state", "model", "field")),
        events["before"].tolist(),
        events["after"].tolist(),
        strict=True,
    ):
        name = f"{agency} ({state}, {model})"
        if event == "changed":
            before = "" if pd.isna(before) else before
            after = "" if pd.isna(after) else after
            name += f": {fld} {before} → {after}"
        out.append(name)
    return out


def entries(cat: pd.DataFrame, events: pd.DataFrame, successors=None) -> list[dict]:
    """One record per version that changed something, newest first: list, date, seq,
    sha256, rows, previous date, counts per kind and the agencies named. The change log is
    grouped once (by version and kind), not scanned per version. `successors`: the
    catalog's ``_successors`` when the caller has them."""
    named = pd.DataFrame(
        {
            "list": events["list"].to_numpy(),
            "sha256": events["sha256"].to_numpy(),
            "kind": [_kind(e, f) for e, f in zip(events["event"], events["field"], strict=True)],
            "name": _names(events),
        }
    )
    kinds: dict[tuple, dict[str, list[str]]] = {}
    by_kind = named.groupby(["list", "sha256", "kind"], sort=False)["name"].agg(list)
    for (lst, sha, kind), names in by_kind.items():
        kinds.setdefault((lst, sha), {})[kind] = names
    out = []
    for lst, previous, day, seq, sha, file_name, n in successors or _successors(cat):
        found = kinds.get((lst, sha))
        if not found:
            continue
        out.append(
            {
                "list": lst,
                "date": day,
                "seq": int(seq),
                "sha256": sha,
                "file_name": file_name,
                "rows": int(n),
                "previous": previous,
                "kinds": {k: found[k] for k in ORDER if k in found},
            }
        )
    out.sort(key=lambda e: (e["date"], e["seq"], e["list"]), reverse=True)
    return out


def _link(base: str, entry: dict) -> str:
    query = (
        f"?diff={entry['previous']}..{entry['date']}"
        if entry["previous"] != entry["date"]
        else f"?as_of={entry['date']}"
    )
    if entry["list"] != "participating":
        query += f"&list={entry['list']}"
    return base + query


def _generator(base_url: str | None, updated, name: str = FEED):
    from feedgen.feed import FeedGenerator

    base = base_url or ""
    fg = FeedGenerator()
    fg.id(base + name if base_url else _uuid(name.removesuffix(".xml")))
    fg.title(f"{PACKAGE_TITLE}: new versions")
    fg.subtitle("Each new version of ICE's participating or pending list that changed something.")
    fg.author({"name": "ice287g"})
    fg.link(href=base + name, rel="self")
    fg.link(href=base or "./", rel="alternate")
    fg.language("en")
    fg.updated(_when(updated))
    return fg


def _add(fg, e: dict, base: str) -> None:
    counts = ", ".join(_count(len(v), k) for k, v in e["kinds"].items())
    title = (
        f"{e['list'].capitalize()} list of {e['date']}"
        + (f" (#{e['seq']})" if e["seq"] > 1 else "")
        + f": {e['rows']} rows; {counts}"
    )
    html = [
        f"<p>ICE's {e['list']} list published {e['date']} (file {escape(e['file_name'])}, "
        f"sha256 {e['sha256'][:12]}) compared with the version before it "
        f"({e['previous']}).</p>"
    ]
    for kind, names in e["kinds"].items():
        shown = "".join(f"<li>{escape(n)}</li>" for n in names[:ENTRIES_NAMED])
        rest = len(names) - ENTRIES_NAMED
        more = f"<li>and {rest} more</li>" if rest > 0 else ""
        html.append(f"<h3>{_count(len(names), kind)}</h3><ul>{shown}{more}</ul>")
    item = fg.add_entry()
    item.id(_uuid(f"{e['list']}:{e['sha256']}"))
    item.title(title)
    item.updated(_when(e["date"]))
    item.published(_when(e["date"]))
    item.link(href=_link(base, e), rel="alternate")
    item.content("".join(html), type="html")


def _fragment(e: dict, base_url: str | None) -> str:
    """One entry as it reads inside the feed (feedgen's pretty printing indents by depth, so
    an entry's text does not depend on the entries around it)."""
    fg = _generator(base_url, e["date"])
    _add(fg, e, base_url or "")
    text = fg.atom_str(pretty=True).decode()
    return text[text.index("  <entry>") : text.rindex("</feed>")]


def _years(successors: list[Successor], changes) -> dict[int, list[Successor]]:
    """The versions that have an entry (of `successors`, ``_successors``: those with events
    in `changes`, the change log as Arrow), by calendar year, newest year first. A sha256
    names one version of one list: the versions told of are the change log's distinct
    sha256 (its dictionary's, when kept encoded), not a group-by of every event."""
    told = set(pc.unique(changes["sha256"]).to_pylist())
    out: dict[int, list[tuple]] = {}
    for row in successors:
        if row.sha256 in told:
            out.setdefault(row.date.year, []).append(row)
    return dict(sorted(out.items(), reverse=True))


def _year_key(code: str, base_url, rows: list[Successor], digest: str) -> str:
    """What a year's entries say: each version (list, the date before, date, seq, sha256,
    file name, rows) and the year's digest in the change log (``yearly.parts``)."""
    h = hashlib.sha256(f"{code}|{base_url}|{digest}\n".encode())
    h.update("".join("|".join(map(str, row)) + "\n" for row in rows).encode())
    return h.hexdigest()


def _document(base_url, updated, entries: bytes, year: int | None, older: int | None) -> bytes:
    """An Atom document of `entries` (their text): ``feed.xml`` when `year` is None, else
    the archive of that year; `older`: the year of the archive before it, if any."""
    base = base_url or ""
    fg = _generator(base_url, updated, FEED if year is None else ARCHIVE.format(year=year))
    if year is not None:
        fg.link(href=base + FEED, rel="current")
    if older is not None:
        fg.link(href=base + ARCHIVE.format(year=older), rel="prev-archive")
    head = fg.atom_str(pretty=True)
    end = head.rindex(b"</feed>")
    return head[:end] + (ARCHIVED if year is not None else b"") + entries + head[end:]


def feed_files(cat: pd.DataFrame, changes, base_url: str | None, store, years: dict) -> dict:
    """``feed.xml`` and each year's archive (``feed-YYYY.xml``: its cached file where it can
    be), as ``concat`` parts by file name; links relative to the site unless `base_url` is
    given; each document feedgen's head followed by its entries, newest first. The entries'
    text is cached a calendar year at a time under ``derived/publish/feed/`` by a key of
    what they say (``_year_key``; `changes`: the change log as Arrow, `years`: its digest
    of each year), and each archive by a key of its entries' and the archive before it:
    a new version writes its year's entries and ``feed.xml`` again, not the archives."""
    from ice287g.publish import concat

    folder, scratch = cache.folder(store, "feed")
    try:
        code = cache.code_digest(__file__)
        successors = _successors(cat)
        by_year = _years(successors, changes)
        texts, used = {}, set()
        for year, rows in by_year.items():
            key = _year_key(code, base_url, rows, years[year])
            files = {ext: folder / f"{year}-{key[:16]}.{ext}" for ext in ("xml", "json")}
            if not cache.valid(files):
                mine = {(row.list, row.sha256) for row in rows}
                shas = pa.array(sorted({sha for _, sha in mine}), pa.string())
                mentioned = dataframe(changes.filter(pc.is_in(changes["sha256"], shas)))
                made = entries(cat, mentioned, successors)
                text = "".join(
                    _fragment(e, base_url) for e in made if (e["list"], e["sha256"]) in mine
                )
                cache.write(files, {"xml": text.encode()})
            texts[year] = files["xml"]
            used |= {p.name for p in files.values()}
        newest = list(by_year)  # newest year first
        out: dict = {}
        for i, year in enumerate(newest[1:], 1):
            older = newest[i + 1] if i + 1 < len(newest) else None
            updated = max(row.date for row in by_year[year])
            key = hashlib.sha256(f"{code}|{base_url}|{older}|{texts[year].name}".encode())
            stem = f"archive-{year}-{key.hexdigest()[:16]}"
            files = {ext: folder / f"{stem}.{ext}" for ext in ("xml", "json")}
            if not cache.valid(files):
                body = texts[year].read_bytes()
                cache.write(files, {"xml": _document(base_url, updated, body, year, older)})
            used |= {p.name for p in files.values()}
            out[ARCHIVE.format(year=year)] = concat.of_cached(files["xml"], scratch)
        if newest:
            updated = max(row.date for row in by_year[newest[0]])
            body = texts[newest[0]].read_bytes()
        else:
            updated, body = cat["date"].max(), b""
        older = newest[1] if len(newest) > 1 else None
        out = {FEED: concat.given(_document(base_url, updated, body, None, older)), **out}
        cache.prune(folder, used)
        return out
    finally:
        if scratch is not None:
            scratch.cleanup()

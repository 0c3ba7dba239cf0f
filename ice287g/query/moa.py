"""Questions about the signed MOA PDFs: which links lack a PDF, which PDFs disagree with the
spreadsheet, which mention a phrase.

Read-only: the PDFs are fetched by :mod:`ice287g.jobs.harvest` and read into the documents table
(:mod:`ice287g.store.documents`) by :mod:`ice287g.jobs.documents`.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ice287g.normalize.names import AGENCY_MATCH_THRESHOLD, agency_similarity
from ice287g.query.versions import QueryError, latest, parse_state
from ice287g.store import Store
from ice287g.store.documents import DOCUMENT_SCHEMA, documents_path, read_documents
from ice287g.store.ledger import DEAD_OUTCOMES, last_attempts, stored_urls

CHECK_COLUMNS = ["state", "agency", "model", "agreement_id", "moa_url", "problem", "detail"]
MODEL_DIFFERS = "model differs"
AGENCY_DIFFERS = "agency differs"
LINK_DEAD = "link dead"
NO_TEXT = "no text layer"
UNREADABLE = "unreadable PDF"

SEARCH_COLUMNS = [
    "state",
    "agency",
    "model",
    "agreement_id",
    "document",
    "url",
    "page",
    "hits",
    "snippet",
]
SNIPPET_CONTEXT = 70  # characters each side of a search hit


# --- which URLs to fetch -------------------------------------------------------------------


def agreements(store: Store) -> pd.DataFrame:
    """Rows of the newest participating version (all columns); ``attrs['version']`` says which."""
    return latest("participating", data_dir=store, all_columns=True)


def linked_urls(rows: pd.DataFrame) -> list[str]:
    """MOA and addendum URLs of these rows, each once, in sheet order."""
    seen: dict[str, None] = {}
    for moa, addendum in zip(rows["moa_url"], rows["addendum_url"]):
        for url in (moa, addendum):
            if isinstance(url, str) and url:
                seen.setdefault(url, None)
    return list(seen)


def pending_urls(store: Store, rows: pd.DataFrame | None = None) -> list[str]:
    """URLs of the newest participating version whose PDF is not stored yet.

    Never-tried URLs come first (in sheet order), then those that failed before, least
    recently tried first, so a per-run cap cannot starve any URL.
    """
    rows = agreements(store) if rows is None else rows
    done = stored_urls(store)
    last = last_attempts(store)
    todo = [url for url in linked_urls(rows) if url not in done]
    fresh = [url for url in todo if url not in last]
    retried = sorted((url for url in todo if url in last), key=lambda u: last[u]["fetched_at"])
    return fresh + retried


# --- cross-check -----------------------------------------------------------------------------


def check(store: Store) -> pd.DataFrame:
    """Agreements of the newest participating version whose PDF disagrees with the sheet.

    One row per problem: ``model differs`` (the PDF's model is known and not the sheet's),
    ``agency differs`` (see :func:`agency_similarity`), ``link dead`` (the newest attempt at
    the MOA or addendum URL was not found, blocked or failed), ``no text layer`` (a scan the
    text checks cannot see into), ``unreadable PDF``. Agreements whose PDF has not been
    fetched yet are not judged. ``attrs['version']`` names the version checked.
    """
    rows = agreements(store)
    docs = _documents_by_url(store, with_text=False)
    last = last_attempts(store)
    out: list[dict] = []
    for row in rows.to_dict(orient="records"):
        base = {k: row.get(k) for k in CHECK_COLUMNS[:5]}

        def problem(kind: str, detail: str, base=base) -> None:
            out.append({**base, "problem": kind, "detail": detail})

        for label, url in (("MOA", row.get("moa_url")), ("addendum", row.get("addendum_url"))):
            if not isinstance(url, str) or not url:
                continue
            attempt = last.get(url)
            if url not in docs and attempt and attempt["outcome"] in DEAD_OUTCOMES:
                when = attempt["fetched_at"].strftime("%Y-%m-%d %H:%M")
                problem(
                    LINK_DEAD,
                    f"{label} {attempt['outcome']} on {when} UTC: {attempt['error'] or url}",
                )
        doc = docs.get(row.get("moa_url"))
        if doc is None:
            continue
        if doc["error"]:
            problem(UNREADABLE, doc["error"])
            continue
        if not doc["has_text"]:
            problem(
                NO_TEXT,
                f"{doc['text_pages']} of {doc['pages']} pages carry text: model "
                "and agency cannot be checked (OCR: ice287g moa read --ocr)",
            )
        if (
            doc["model"] not in (None, "unknown")
            and row.get("model")
            and doc["model"] != row["model"]
        ):
            problem(MODEL_DIFFERS, f"PDF: {doc['model']}, spreadsheet: {row['model']}")
        if doc["agency_text"] and row.get("agency"):
            score = agency_similarity(row["agency"], doc["agency_text"])
            if score < AGENCY_MATCH_THRESHOLD:
                problem(
                    AGENCY_DIFFERS,
                    f"PDF names {doc['agency_text']!r} (similarity "
                    f"{score:.2f} < {AGENCY_MATCH_THRESHOLD})",
                )
    df = pd.DataFrame(out, columns=CHECK_COLUMNS)
    df = df.sort_values(["state", "agency", "model", "problem"], kind="stable")
    df = df.reset_index(drop=True)
    df.attrs["version"] = rows.attrs.get("version")
    return df


def _documents_by_url(store: Store, with_text: bool) -> dict[str, dict]:
    columns = [n for n in DOCUMENT_SCHEMA.names if with_text or n != "text"]
    return {row["url"]: row for row in read_documents(store, columns).to_pylist()}


# --- full-text search ------------------------------------------------------------------------


def search(store: Store, text: str, state: str | None = None) -> pd.DataFrame:
    """Agreements of the newest participating version whose MOA or addendum contains ``text``.

    Case-insensitive; runs of whitespace (line and page breaks included) match one space, so
    a phrase broken across lines is found. One row per document: the page of the first hit,
    the number of hits, and a snippet around the first hit.
    """
    needle = " ".join(text.split()).lower()
    if not needle:
        raise QueryError("nothing to search for: give a word or a phrase")
    state_code = parse_state(state) if state else None
    if not documents_path(store).exists():
        raise QueryError(f"no MOA documents in {store.root}: run `ice287g moa fetch` first")
    rows = agreements(store)
    if state_code:
        rows = rows[rows["state"] == state_code]
    urls = set(linked_urls(rows))
    docs = read_documents(store, ["url", "text"])
    docs = docs.filter(pc.is_in(docs["url"], pa.array(sorted(urls), pa.string())))
    hits = {}
    for doc in docs.to_pylist():
        found = _find(doc["text"] or "", needle)
        if found:
            hits[doc["url"]] = found
    out = []
    for row in rows.to_dict(orient="records"):
        for kind, url in (("moa", row.get("moa_url")), ("addendum", row.get("addendum_url"))):
            if isinstance(url, str) and url in hits:
                page, count, snippet = hits[url]
                out.append(
                    {
                        "state": row["state"],
                        "agency": row["agency"],
                        "model": row["model"],
                        "agreement_id": row["agreement_id"],
                        "document": kind,
                        "url": url,
                        "page": page,
                        "hits": count,
                        "snippet": snippet,
                    }
                )
    df = pd.DataFrame(out, columns=SEARCH_COLUMNS)
    df.attrs["version"] = rows.attrs.get("version")
    return df


def _find(text: str, needle: str) -> tuple[int, int, str] | None:
    """(page of the first hit, number of hits, snippet) of ``needle`` in ``text``, or None."""
    first: tuple[int, str] | None = None
    count = 0
    for number, page in enumerate(text.split("\f"), start=1):
        flat = " ".join(page.split())
        lowered = flat.lower()
        at = lowered.find(needle)
        if at < 0:
            continue
        count += lowered.count(needle)
        if first is None:
            start, end = max(0, at - SNIPPET_CONTEXT), at + len(needle) + SNIPPET_CONTEXT
            snippet = flat[start:end]
            snippet = ("…" if start > 0 else "") + snippet + ("…" if end < len(flat) else "")
            first = (number, snippet)
    return (first[0], count, first[1]) if first else None


def documents_listing(store: Store) -> pd.DataFrame:
    """The documents table without its text column, for display."""
    columns = [n for n in DOCUMENT_SCHEMA.names if n != "text"]
    return read_documents(store, columns).to_pandas(date_as_object=True)

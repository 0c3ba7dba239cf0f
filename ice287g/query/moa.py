"""Signed MOA PDFs in the store: the harvest ledger, the documents table, cross-check, search.

Layout under the data directory (beside the workbook store):

    raw/<sha[:2]>/<sha256>.pdf   each MOA / addendum PDF exactly as served, write-once
    moa_ledger.parquet           every download attempt, one row each (any outcome)
    moa_documents.parquet        what each stored PDF says (one row per URL), derived: it can be
                                 rebuilt from the ledger and the raw PDFs at any time

A URL counts as done once the ledger shows it stored and its PDF is in ``raw/``; anything else
(a 404, a block page, a truncated body, a refused redirect) is tried again on a later run.
Downloading is in :mod:`ice287g.jobs.harvest`; this module only reads and writes the store.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ice287g.query.versions import QueryError
from ice287g.store.catalog import Store, append_rows, atomic_write_table, read_table

# --- the ledger of download attempts -------------------------------------------------------

STORED = "stored"
ALREADY_STORED = "already stored"
NOT_FOUND = "not found"
BLOCKED = "blocked"
FAILED = "failed"
REFUSED = "refused"
OUTCOMES = (STORED, ALREADY_STORED, NOT_FOUND, BLOCKED, FAILED, REFUSED)
DONE_OUTCOMES = frozenset({STORED, ALREADY_STORED})
DEAD_OUTCOMES = frozenset({NOT_FOUND, BLOCKED, FAILED})

LEDGER_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("fetched_at", pa.timestamp("s", tz="UTC"), "When the attempt was made (UTC)"),
    ("url", pa.string(), "URL as ICE's workbook links it (joins `moa_url`, `addendum_url`)"),
    ("final_url", pa.string(), "URL last requested: after a `--mirror` rewrite and redirects"),
    ("http_status", pa.int32(), "HTTP status of the last response; empty when there was none"),
    ("sha256", pa.string(), "SHA-256 of the PDF (`stored` and `already stored` only)"),
    ("bytes", pa.int64(), "Body bytes received (also when the body was rejected)"),
    (
        "outcome",
        pa.string(),
        "`stored`, `already stored`, `not found`, `blocked`, `failed`, `refused`",
    ),
    ("error", pa.string(), "What went wrong, naming the URL"),
]
LEDGER_SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in LEDGER_FIELDS])

# --- the documents table -------------------------------------------------------------------

DOCUMENT_FIELDS: list[tuple[str, pa.DataType, str]] = [
    (
        "url",
        pa.string(),
        "URL of the MOA or addendum as ICE links it (joins `moa_url` and `addendum_url`)",
    ),
    ("sha256", pa.string(), "SHA-256 of the PDF; the bytes are `raw/<sha[:2]>/<sha>.pdf`"),
    ("pages", pa.int32(), "Page count"),
    ("has_text", pa.bool_(), "The PDF has a real text layer (text on at least half its pages)"),
    ("text_pages", pa.int32(), "Pages whose text layer holds real text"),
    (
        "model",
        pa.string(),
        "Model the text names or describes: `JEM`, `TFM`, `WSO`, `TTFM` or `unknown`",
    ),
    (
        "agency_text",
        pa.string(),
        "Agency named in the parties paragraph, as printed (OCR errors kept)",
    ),
    (
        "template_revision",
        pa.string(),
        "Template revision in the footer, as printed (e.g. `Revised 02/14/2025`)",
    ),
    ("template_date", pa.date32(), "Date of that template revision"),
    ("text", pa.string(), "Full text, pages separated by form feeds"),
    ("ocr_pages", pa.int32(), "Pages whose text came from tesseract (`--ocr`)"),
    ("error", pa.string(), "Why the PDF could not be read (the fields above are then empty)"),
    ("extracted_at", pa.timestamp("s", tz="UTC"), "When the text was extracted (UTC)"),
]
DOCUMENT_SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in DOCUMENT_FIELDS])
_READING_FIELDS = [n for n in DOCUMENT_SCHEMA.names if n not in ("url", "sha256")]
DOCUMENT_BATCH = 25  # documents read between two writes of the table

# --- the cross-check -----------------------------------------------------------------------

CHECK_COLUMNS = ["state", "agency", "model", "agreement_id", "moa_url", "problem", "detail"]
MODEL_DIFFERS = "model differs"
AGENCY_DIFFERS = "agency differs"
LINK_DEAD = "link dead"
NO_TEXT = "no text layer"
UNREADABLE = "unreadable PDF"

# Agency comparison (see agency_similarity). The spreadsheet's name is clean; the PDF's is a
# scan's OCR layer. A PDF agrees when it confirms at least half of the spreadsheet name's
# distinctive words: "Lake County Sheriff's Office" vs "Orange County Sheriff's Office" scores
# 0 (only "lake" is distinctive, and it is missing), "Jacksoo Coooty Sh";w, Office" vs
# "Jackson County Sheriff's Office" scores 1 ("jacksoo" is an OCR misreading of "jackson").
AGENCY_MATCH_THRESHOLD = 0.5
WORD_MATCH_RATIO = 0.8  # difflib ratio at which two words count as the same (OCR noise)
GLUED_WORD_MIN = 12  # a PDF "word" this long is several words run together by OCR
# Words that say what kind of agency it is, not which one.
_GENERIC_WORDS = frozenset(
    "county sheriffs office police department city town village township parish borough "
    "state detention center centre jail correctional corrections facility the of and".split()
)
_ABBREVIATIONS = {
    "co": ("county",),
    "cnty": ("county",),
    "so": ("sheriffs", "office"),
    "pd": ("police", "department"),
    "dept": ("department",),
    "sheriff": ("sheriffs",),
    "sherriffs": ("sheriffs",),
    "sherrifs": ("sheriffs",),
    "sherifs": ("sheriffs",),
}

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


# --- paths and I/O -------------------------------------------------------------------------


def ledger_path(store: Store):
    return store.root / "moa_ledger.parquet"


def documents_path(store: Store):
    return store.root / "moa_documents.parquet"


def read_ledger(store: Store) -> pa.Table:
    """Every download attempt so far (an empty table before the first harvest)."""
    return read_table(ledger_path(store), LEDGER_SCHEMA)


def append_ledger(store: Store, rows: list[dict]) -> None:
    """Add attempts (call with the store lock held)."""
    append_rows(ledger_path(store), LEDGER_SCHEMA, rows)


def read_documents(store: Store, columns: list[str] | None = None) -> pa.Table:
    """The documents table (an empty table before any PDF was read)."""
    path = documents_path(store)
    if not path.exists():
        empty = DOCUMENT_SCHEMA.empty_table()
        return empty.select(columns) if columns else empty
    return pq.read_table(path, columns=columns, schema=DOCUMENT_SCHEMA)


def stored_urls(store: Store) -> dict[str, str]:
    """URL -> sha256 of every URL whose PDF is stored (newest stored attempt wins).

    Only these count as done: a URL whose PDF went missing from ``raw/`` is fetched again.
    """
    ledger = read_ledger(store).select(["url", "sha256", "outcome"]).to_pylist()
    out: dict[str, str] = {}
    for row in ledger:
        if row["outcome"] in DONE_OUTCOMES and row["sha256"]:
            out[row["url"]] = row["sha256"]
    return {url: sha for url, sha in out.items() if store.raw_path(sha, "pdf").exists()}


def last_attempts(store: Store) -> dict[str, dict]:
    """URL -> its newest ledger row."""
    return {row["url"]: row for row in read_ledger(store).to_pylist()}


# --- which URLs to fetch -------------------------------------------------------------------


def agreements(store: Store) -> pd.DataFrame:
    """Rows of the newest participating version (all columns); ``attrs['version']`` says which."""
    from ice287g.query.versions import latest

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


# --- reading stored PDFs into the documents table ------------------------------------------


def reading(data: bytes, name: str, ocr: bool = False) -> dict:
    """The documents-table fields (all but url and sha256) of one PDF; never raises."""
    from parsers.moa import MoaError, read_moa

    now = datetime.now(UTC).replace(microsecond=0)
    try:
        doc = read_moa(data, name, ocr=ocr)
    except MoaError as exc:
        return {**{k: None for k in _READING_FIELDS}, "error": exc.problem, "extracted_at": now}
    return {
        "pages": doc.pages,
        "has_text": doc.has_text,
        "text_pages": doc.text_pages,
        "model": doc.model,
        "agency_text": doc.agency_text,
        "template_revision": doc.template_revision,
        "template_date": date.fromisoformat(doc.template_date) if doc.template_date else None,
        "text": doc.text,
        "ocr_pages": doc.ocr_pages,
        "error": None,
        "extracted_at": now,
    }


def _read_stored(job: tuple[str, str, bool]) -> tuple[str, dict]:
    """(sha, reading) of one stored PDF; top level so that worker processes can run it."""
    sha, path, ocr = job
    with open(path, "rb") as fh:
        return sha, reading(fh.read(), path, ocr)


def update_documents(
    store: Store,
    *,
    ocr: bool = False,
    workers: int = 1,
    rebuild: bool = False,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Read every stored PDF that has no documents row yet; return the new rows.

    A PDF linked under several URLs is read once. ``rebuild`` re-reads every stored PDF and
    replaces the table (e.g. after a parser improvement, or with ``ocr``). Rows are written
    in batches, so an interrupted run keeps what it read.
    """
    wanted = stored_urls(store)
    existing = DOCUMENT_SCHEMA.empty_table() if rebuild else read_documents(store)
    have = set(zip(existing["url"].to_pylist(), existing["sha256"].to_pylist()))
    todo = [(url, sha) for url, sha in wanted.items() if (url, sha) not in have]
    if not todo:
        if rebuild:
            _write_documents(store, [], replace_all=True)
        return []
    known = _readings_by_sha(existing, {sha for _, sha in todo})
    jobs = [
        (sha, str(store.raw_path(sha, "pdf")), ocr)
        for sha in dict.fromkeys(sha for _, sha in todo)
        if sha not in known
    ]
    urls_of: dict[str, list[str]] = {}
    for url, sha in todo:
        urls_of.setdefault(sha, []).append(url)

    new_rows: list[dict] = []
    pending: list[dict] = []

    def add(sha: str, fields: dict) -> None:
        for url in urls_of.get(sha, []):
            row = {"url": url, "sha256": sha, **fields}
            new_rows.append(row)
            pending.append(row)
            if on_row:
                on_row(row)
        if not rebuild and len(pending) >= DOCUMENT_BATCH:
            _write_documents(store, pending)
            pending.clear()

    for sha, fields in known.items():
        add(sha, fields)
    for sha, fields in _read_all(jobs, workers):
        add(sha, fields)
    if rebuild:
        _write_documents(store, new_rows, replace_all=True)
    elif pending:
        _write_documents(store, pending)
    return new_rows


def _readings_by_sha(table: pa.Table, shas: set[str]) -> dict[str, dict]:
    """Readings already in the table for these hashes (a PDF linked under a new URL)."""
    if table.num_rows == 0 or not shas:
        return {}
    rows = table.filter(pc.is_in(table["sha256"], pa.array(sorted(shas)))).to_pylist()
    return {row["sha256"]: {k: row[k] for k in _READING_FIELDS} for row in rows}


def _read_all(jobs: list[tuple[str, str, bool]], workers: int) -> Iterator[tuple[str, dict]]:
    if workers <= 1 or len(jobs) < 2:
        yield from map(_read_stored, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_read_stored, jobs, chunksize=1)


def _write_documents(store: Store, rows: list[dict], replace_all: bool = False) -> None:
    """Merge rows into the table (a URL's new row replaces its old one), atomically."""
    new = pa.Table.from_pylist(rows, DOCUMENT_SCHEMA)
    with store.lock():
        if replace_all:
            table = new
        else:
            current = read_documents(store)
            if current.num_rows and rows:
                urls = pa.array(sorted({r["url"] for r in rows}))
                current = current.filter(pc.invert(pc.is_in(current["url"], urls)))
            table = pa.concat_tables([current, new])
        atomic_write_table(documents_path(store), table)


# --- agency comparison -----------------------------------------------------------------------


def agency_words(name: str) -> list[str]:
    """Lower-case ASCII words of an agency name, apostrophes dropped, abbreviations spelled
    out ("Co" -> county, "SO" -> sheriffs office, "PD" -> police department)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"['`\u2019]", "", text)  # "sheriff's" and "sheriffs" are one word
    words: list[str] = []
    for word in re.findall(r"[a-z0-9]+", text):
        words.extend(_ABBREVIATIONS.get(word, (word,)))
    return words


def agency_similarity(sheet: str, pdf: str) -> float:
    """How far the PDF's agency text confirms the spreadsheet's agency name, from 0 to 1.

    The share of the spreadsheet name's distinctive words (all words but county, sheriff's,
    office, police, department, detention center, jail, ... unless nothing else is left) that
    the PDF has, where
    a word is found when a PDF word is close to it (difflib ratio >= 0.8: "Sherifrs",
    "Pittsburg"), or when it sits inside a run-together PDF word of 12+ letters
    ("NASSAUCOUNlYPOUCE..."). A PDF that uses the name's initials ("HCSO" for Highlands County
    Sheriff's Office) scores 1. Agreement is a score >= AGENCY_MATCH_THRESHOLD (0.5).
    """
    sheet_words, pdf_words = agency_words(sheet), agency_words(pdf)
    if not sheet_words or not pdf_words:
        return 0.0
    initials = "".join(word[0] for word in sheet_words)
    if len(initials) >= 3 and initials in pdf_words:
        return 1.0
    distinctive = [w for w in sheet_words if w not in _GENERIC_WORDS] or sheet_words
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
    state_code = _state(state) if state else None
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


def _state(value: str) -> str:
    from ice287g.normalize.apply import state_code

    code, flags = state_code(value)
    if code is None or any(f.endswith(("unknown", "missing")) for f in flags):
        raise QueryError(f"unknown state {value!r}: use a USPS code such as TX")
    return code


def documents_listing(store: Store) -> pd.DataFrame:
    """The documents table without its text column, for display."""
    columns = [n for n in DOCUMENT_SCHEMA.names if n != "text"]
    return read_documents(store, columns).to_pandas(date_as_object=True)


def describe() -> str:
    """Markdown data dictionary of the documents table and the MOA ledger."""
    out = ["| `moa_documents.parquet` column | type | meaning |", "|---|---|---|"]
    out += [f"| `{n}` | {t} | {d} |" for n, t, d in DOCUMENT_FIELDS]
    out += ["", "| `moa_ledger.parquet` column | type | meaning |", "|---|---|---|"]
    out += [f"| `{n}` | {t} | {d} |" for n, t, d in LEDGER_FIELDS]
    return "\n".join(out)


def read_records(files: list[str], *, ocr: bool = False, workers: int = 1) -> Iterator[dict | str]:
    """For each file, in order: its ``moa read`` record, or the error line naming the file."""
    jobs = [(f, ocr) for f in files]
    if workers <= 1 or len(jobs) < 2:
        yield from map(_record_of, jobs)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        yield from pool.map(_record_of, jobs, chunksize=1)


def _record_of(job: tuple[str, bool]) -> dict | str:
    """Top level so that worker processes can run it."""
    from parsers.moa import MoaError, moa_record, read_moa_path

    path, ocr = job
    try:
        return moa_record(read_moa_path(path, ocr=ocr), path)
    except MoaError as exc:
        return str(exc)


def expand_pdf_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; folders expanded to the ``*.pdf`` files directly inside, sorted."""
    from pathlib import Path

    out: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out += sorted(str(f) for f in p.iterdir() if f.suffix.lower() == ".pdf")
        else:
            out.append(str(p))
    return out

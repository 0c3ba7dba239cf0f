"""Build the whole site into a local folder: the database, the page's assets, the feed, the
rest of ``data/``, and ``index.html``.

Layout::

    index.html                      the page (refers to the assets below by content hash)
    feed.xml                        Atom: one entry per new version that changed something
    feed-YYYY.xml                   the feed's archive of each earlier year (RFC 5005)
    assets/<name>.<sha10>.<ext>     style, script, page data, county boundaries, decoder
    assets/LICENSE-*.txt            licenses of the files installed from npm
    data/...                        the tables (Parquet, CSV), ice287g.db, metadata.json,
                                    datapackage.json, checksums.sha256

Assets are named by their content, so a reader holding the previous ``index.html`` still
finds every file it refers to while a new version is uploaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import partial
from html import escape
from importlib import resources
from pathlib import Path

from ice287g.publish import PublishError, core, database, feed, files, page, pieces, tables
from ice287g.publish.cache import sha256_file
from ice287g.query.versions import catalog

SITE_PACKAGE = "ice287g.publish"
# Files installed from npm (ice287g/publish/vendor/package.json; `make` runs npm ci).
VENDOR = Path(__file__).resolve().parent / "vendor" / "node_modules"
COUNTIES = VENDOR / "us-atlas" / "counties-albers-10m.json"
TOPOJSON = VENDOR / "topojson-client" / "dist" / "topojson-client.min.js"
VENDOR_LICENSES = {
    "us_atlas": VENDOR / "us-atlas" / "LICENSE",
    "topojson": VENDOR / "topojson-client" / "LICENSE",
}


@dataclass
class Site:
    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # site path -> local file

    @property
    def bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())


def _vendor_files() -> None:
    missing = [p for p in (COUNTIES, TOPOJSON, *VENDOR_LICENSES.values()) if not p.is_file()]
    if missing:
        raise PublishError(
            f"{missing[0]} is missing: the page's county boundaries and map decoder install "
            "from npm (run `make`, or `npm ci` in ice287g/publish/vendor)"
        )


def _asset(name: str, digest: str) -> str:
    """The site path of an asset named by its content: assets/<stem>.<sha10>.<suffix>."""
    stem, _, suffix = name.partition(".")
    return f"assets/{stem}.{digest[:10]}.{suffix}"


def _hashed(folder: Path, name: str, data: bytes) -> str:
    """Write `data` as an asset named by its content (``_asset``); its site path."""
    digest = hashlib.sha256(data).hexdigest()
    rel = _asset(name, digest)
    files.write_bytes(folder / rel, data, digest)
    return rel


def _linked(folder: Path, name: str, cached: Path) -> str:
    """A cached file (its digest known from its record) linked as an asset named by its
    content (``_asset``); its site path."""
    rel = _asset(name, sha256_file(cached))
    files.link(cached, folder / rel)
    return rel


def _site_text(name: str) -> str:
    return resources.files(SITE_PACKAGE).joinpath("site", name).read_text(encoding="utf-8")


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _files_table(data: Path, described: dict[str, str]) -> str:
    rows = []
    for p in sorted(data.iterdir()):
        text = described.get(p.name, "")
        rows.append(
            f'<tr><td><a href="data/{escape(p.name)}">{escape(p.name)}</a></td>'
            f"<td>{escape(text)}</td><td>{_size(p.stat().st_size)}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="rows files" id="files-table"><thead><tr>'
        "<th>File</th><th>What it holds</th><th>Size</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def build_site(store, out: Path, base_url: str | None = None) -> Site:
    """Write every file of the site under `out` (an empty folder)."""
    _vendor_files()
    cat = catalog(store)
    if cat.empty:
        raise PublishError(
            f"no versions in {store.root}: run `ice287g refresh` or `ice287g backfill` first"
        )
    base_url = base_url.rstrip("/") + "/" if base_url else None
    generated = max(cat["ingested_at"]).isoformat().replace("+00:00", "Z")
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"

    # 1. what the site is built from, and the database (the long table's files are
    # assembled meanwhile in a background thread: ``pieces.long_table``, started after the
    # identity is read, which would otherwise wait on that thread)
    rec = tables.record(store, cat)
    long = pieces.long_table(store, cat)  # held until written: it may own a temporary folder
    catalog_sha = sha256_file(store.catalog_path)
    published = tables.published_tables(store, cat, long, rec)
    db = database.write_database(
        data / database.DATABASE, published, store, cat, long, [catalog_sha, rec.key]
    )

    # 2. the page's assets
    # Keyed by what each is built from: the identity (its versions, under its code), the
    # catalog file and the daily counts' years.
    ident_key = rec.key
    daily = next(t for t in published if t.name == "daily_counts").yearly.parts
    changes = next(t for t in published if t.name == "changes").yearly.parts
    years = {year: digest for year, _, _, digest in changes}
    # Each is linked from the cache as an asset named by its content.
    core_asset = page.cached(
        store,
        "core",
        [generated, ident_key, catalog_sha, *(d for *_, d in daily)],
        lambda: core.build_core(store, rec.ident, cat, rec.daily_table, rec.daily_years, generated),
        partial(_linked, out, "core.json"),
    )
    history_asset = page.cached(
        store,
        "history",
        [ident_key],
        lambda: page.build_history(store, rec.agreements, rec.changes, changes),
        partial(_linked, out, "history.json"),
    )
    assets = {
        "style": _hashed(out, "style.css", _site_text("style.css").encode()),
        "app": _hashed(out, "app.js", _site_text("app.js").encode()),
        "topojson": _hashed(out, "topojson-client.min.js", TOPOJSON.read_bytes()),
        "counties": _hashed(out, "counties-albers-10m.json", COUNTIES.read_bytes()),
        "core": core_asset,
        "history": history_asset,
    }
    licenses = {}
    for name, path in VENDOR_LICENSES.items():
        rel = f"assets/LICENSE-{path.parent.name}.txt"
        files.write_bytes(out / rel, path.read_bytes())
        licenses[f"license_{name}"] = rel

    # 3. the feed
    for name, part in feed.feed_files(cat, rec.changes, base_url, store, years).items():
        files.place(part, out / name)

    # 4. the rest of data/: the tables, their descriptions, the checksums
    db["db"]  # the database linked (it may be hashed in the background)
    resources_ = files.write_tables(published, data)
    meta = database.datasette_metadata(published, base_url)
    files.write_bytes(
        data / "metadata.json", (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode()
    )
    files.write_datapackage(data, resources_, generated, base_url)
    files.write_checksums(data)

    # 5. the index
    described = {r["path"]: r["title"] for r in resources_}
    described.update(
        {
            database.DATABASE: "SQLite database of the same tables, for Datasette",
            "metadata.json": "Datasette metadata: descriptions, license, canned queries",
            "datapackage.json": "Frictionless Data Package: every file and column described",
            files.CHECKSUMS: "SHA-256 of every file here",
        }
    )
    config = {
        "core": assets["core"],
        "history": assets["history"],
        "counties": assets["counties"],
        "base_url": base_url,
    }
    html = _site_text("index.html")
    values = {
        **assets,
        **licenses,
        "config": json.dumps(config).replace("</", "<\\/"),
        "canonical": f'<link rel="canonical" href="{escape(base_url)}">' if base_url else "",
        "files": _files_table(data, described),
    }
    for key, value in values.items():
        html = html.replace("{{" + key + "}}", value)
    files.write_bytes(out / "index.html", html.encode())

    site = Site(out)
    for p in sorted(out.rglob("*")):
        if p.is_file():
            site.files[p.relative_to(out).as_posix()] = p
    return site

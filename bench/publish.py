"""`make bench` phase of `ice287g publish` on the full store (printed, never asserted):
the first publication to an empty folder (build + copy), its size by part, and a second
publication with nothing changed (rebuilt, compared, nothing uploaded)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.run import line, measure


def _size(root: Path, *patterns: str) -> int:
    return sum(p.stat().st_size for pat in patterns for p in root.glob(pat) if p.is_file())


def bench_publish(store_dir: Path) -> None:
    print("publish on the full store")
    out = Path(tempfile.mkdtemp(prefix="ice287g-bench-site-"))
    try:
        dest = out / "www"
        body = (
            "from ice287g.publish import publish\n"
            f"r = publish({str(dest)!r}, {str(store_dir)!r})\n"
            "extra = [r.files, r.site_bytes, len(r.uploaded), r.bytes_uploaded]"
        )
        first = measure(body)
        files, size, uploaded, _ = first["extra"]
        line("ice287g publish DIR (first, empty folder)", f"{first['seconds']:.2f} s")
        line("  peak memory", f"{first['peak_mb']:.0f} MB")
        line("  site", f"{size / 1e6:.1f} MB", f"{files} files, {uploaded} uploaded")
        for label, patterns in (
            ("  data/ (tables, SQLite, descriptors)", ["data/*"]),
            ("  of which data/ice287g.db", ["data/ice287g.db"]),
            ("  page data (assets/core, assets/history)", ["assets/core.*", "assets/history.*"]),
            ("  county boundaries (us-atlas)", ["assets/counties-*"]),
            ("  index.html, app.js, style.css", ["index.html", "assets/app.*", "assets/style.*"]),
            ("  feed.xml", ["feed.xml"]),
        ):
            line(label, f"{_size(dest, *patterns) / 1e6:.2f} MB")
        again = measure(body)
        line(
            "ice287g publish DIR (again, nothing changed)",
            f"{again['seconds']:.2f} s",
            f"{again['extra'][2]} files uploaded (target 0)",
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


PHASES = [("publish", bench_publish)]

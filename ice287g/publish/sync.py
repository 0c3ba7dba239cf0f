"""Copy a built site to its destination (a folder or any fsspec URL, e.g. ``s3://bucket/prefix``)
incrementally and in an order that keeps the published site whole for its readers.

- Incremental: ``manifest.json`` at the destination lists every published file with its
  SHA-256 and size. A file is uploaded when its hash differs from the manifest's, or when
  the destination's listing does not show it with that size (deleted or truncated by hand).
- Order: ``data/`` first, then the assets, the feed, ``index.html``, and last the manifest
  (so an interrupted run is redone, never skipped, by the next one). The assets are named
  by content, so until the new ``index.html`` lands readers see the old page whole.
- Clean-up: files of the generation before the previous one (listed in the manifest's
  ``previous``) are deleted; files this tool never published are never touched.
- A local folder gets each file under a temporary name, then renamed into place: a hard
  link to the built file when both are on one file system (the build's files, and the
  cached ones they link to, are only ever replaced, never written in place), else a copy.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ice287g.publish import PublishError
from ice287g.publish.cache import sha256_file
from ice287g.store.files import atomic_file

MANIFEST = "manifest.json"
CONTENT_TYPES = {
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/atom+xml; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".gz": "application/gzip",
    ".parquet": "application/vnd.apache.parquet",
    ".db": "application/vnd.sqlite3",
    ".sha256": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
# Named by content: cached for good. Everything else is revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=300, must-revalidate"


@dataclass
class SyncReport:
    dest: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0


def order(paths) -> list[str]:
    """Publishing order: data files, their descriptions and checksums, assets, feed, index."""

    def rank(p: str) -> tuple:
        if p.startswith("data/"):
            name = p.rsplit("/", 1)[-1]
            late = name in ("datapackage.json", "metadata.json", "checksums.sha256")
            return (1 if late else 0, name == "checksums.sha256", p)
        if p.startswith("assets/"):
            return (2, False, p)
        if p == "index.html":
            return (4, False, p)
        return (3, False, p)

    return sorted(paths, key=rank)


def filesystem(dest: str, endpoint_url: str | None = None, storage_options: dict | None = None):
    """(fsspec filesystem, root path) of a destination folder or URL."""
    import fsspec

    options = dict(storage_options or {})
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    try:
        fs, root = fsspec.core.url_to_fs(dest, **options)
    except (ImportError, ValueError) as exc:
        raise PublishError(f"{dest}: cannot publish there ({exc})") from None
    return fs, root.rstrip("/")


def _is_local(fs) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def _read_manifest(fs, root: str) -> dict:
    try:
        manifest = json.loads(fs.cat_file(f"{root}/{MANIFEST}"))
    except FileNotFoundError:
        return {"files": {}, "previous": []}
    except ValueError:
        return {"files": {}, "previous": []}  # unreadable: publish everything again
    manifest.setdefault("files", {})
    manifest.setdefault("previous", [])
    return manifest


def _listing(fs, root: str) -> dict[str, int]:
    """Site path -> size of every file already at the destination."""
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        return {}
    out = {}
    prefix = root.rstrip("/") + "/"
    for path, info in found.items():
        if info.get("type") == "file" and path.startswith(prefix):
            out[path[len(prefix) :]] = int(info.get("size") or 0)
    return out


def _put(fs, local: Path, root: str, rel: str) -> None:
    target = f"{root}/{rel}"
    if _is_local(fs):
        with atomic_file(Path(target)) as tmp:
            # A hard link when on one file system (no file is ever written in place), made
            # under the temporary name itself: renamed over the empty temporary file, ext4
            # would start writing the linked file's data back there and then (its
            # ``auto_da_alloc``), on the publish's time: 30 ms for the big files at ten years.
            tmp.unlink()
            try:
                os.link(local, tmp)
            except OSError:
                shutil.copyfile(local, tmp)
        return
    suffix = Path(rel).suffix
    content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(rel)[0]
    hashed = rel.startswith("assets/") and rel.count(".") >= 2
    extra = {"CacheControl": IMMUTABLE if hashed else REVALIDATE}
    if content_type:
        extra["ContentType"] = content_type
    fs.put_file(str(local), target, **extra)


def sync(
    local_root: Path,
    dest: str,
    endpoint_url: str | None = None,
    storage_options: dict | None = None,
) -> SyncReport:
    """Publish the files under `local_root` to `dest` (see the module docstring)."""
    fs, root = filesystem(dest, endpoint_url, storage_options)
    report = SyncReport(dest)
    try:
        if _is_local(fs):
            Path(root).mkdir(parents=True, exist_ok=True)
        old = _read_manifest(fs, root)
        present = _listing(fs, root)
        files = {
            p.relative_to(local_root).as_posix(): p
            for p in sorted(local_root.rglob("*"))
            if p.is_file()
        }
        new = {r: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for r, p in files.items()}
        for rel in order(files):
            known = old["files"].get(rel)
            if known == new[rel] and present.get(rel) == new[rel]["bytes"]:
                report.unchanged.append(rel)
                continue
            _put(fs, files[rel], root, rel)
            report.uploaded.append(rel)
            report.bytes_uploaded += new[rel]["bytes"]
        kept = sorted(set(old["files"]) - set(new))
        manifest = {"generator": "ice287g publish", "files": new, "previous": kept}
        text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        if present.get(MANIFEST) != len(text) or _manifest_changed(old, manifest):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / MANIFEST
                path.write_bytes(text)
                _put(fs, path, root, MANIFEST)
            report.uploaded.append(MANIFEST)
            report.bytes_uploaded += len(text)
        for rel in sorted(set(old["previous"]) - set(new) - set(old["files"])):
            if rel in present:
                fs.rm_file(f"{root}/{rel}")
                report.deleted.append(rel)
    except PublishError:
        raise
    except Exception as exc:  # OSError, botocore's credential errors, ...: one clear line
        raise PublishError(f"{dest}: publishing failed: {type(exc).__name__}: {exc}") from exc
    return report


def _manifest_changed(old: dict, new: dict) -> bool:
    return old.get("files") != new["files"] or sorted(old.get("previous", [])) != new["previous"]

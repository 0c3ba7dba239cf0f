"""The site's derived state under ``<data_dir>/derived/publish/``: where it lives, and how a
cached set of files is recorded and checked.

A set of files (say ``x.parquet``, ``x.csv``) is valid when its record (``x.json``, written
last) gives each file's sha256 and each file matches it. A file untouched since it was
recorded (same size and modification time, as git's index trusts a file) is not hashed
again; any other is hashed, and a mismatch, a missing file or an unreadable record makes
the set invalid: it is built again, never trusted. Every digest known this way is
remembered (``files.remember``), so the checksums, the Data Package and the sync do not
read the file again (``sha256_file``).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from ice287g.store.files import atomic_write, sha256_bytes, stamp

ROOT = Path("derived") / "publish"


# sha256 of files already hashed, by (device, inode, size, modification time): a file of
# the cache carries its digest in its record, and so does each link to it.
_KNOWN: dict[tuple[int, ...], str] = {}


def _identity(path: Path) -> tuple[int, ...]:
    return stamp(path.stat())


def remember(path: Path, digest: str) -> None:
    """`path` (as it is now) has this sha256: ``sha256_file`` does not read it again."""
    _KNOWN[_identity(path)] = digest


def sha256_file(path: Path) -> str:
    """The sha256 of the file at `path`, read once per process while the file is unchanged
    (the checksums, the data package and the sync each ask for it)."""
    key = _identity(path)
    known = _KNOWN.get(key)
    if known is not None:
        return known
    h = hashlib.sha256()
    with open(path, "rb") as fh, _mapped(fh) as data:
        h.update(data)
    digest = _KNOWN[key] = h.hexdigest()
    return digest


@contextmanager
def _mapped(fh) -> Iterator:
    """The bytes of the open file `fh`, memory-mapped (``b""`` when it is empty): hashed in
    one call, a file of tens of MB releases Python's lock once, not once per block (the
    build's background threads hash the database, 60 MB at ten years, while the main
    thread works; with 1 MB blocks the main thread spent about 0.04 s more handing the lock
    back). The cache's files are only ever replaced, never written in place, so a mapped
    file cannot change under the reader."""
    if os.fstat(fh.fileno()).st_size == 0:
        yield b""
        return
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield data


def code_digest(*modules, label: str = "") -> str:
    """A digest of `label` and the source of `modules` (modules, or paths such as a
    module's ``__file__``): the part of a cache key that changes with the code that writes
    the cached files."""
    h = hashlib.sha256(label.encode())
    for module in modules:
        h.update(Path(getattr(module, "__file__", module)).read_bytes())
    return h.hexdigest()


# The build's background threads: the big files assembled from cached parts and the
# database (copying and hashing tens of MB, work that releases the GIL) are made there
# while the rest of the site is built. Two threads: the tasks of a publish (the long
# table's files, the two yearly tables', the database) touch files of their own, and
# while one thread waits for the kernel or for Python's lock the other works (at ten years
# the main thread no longer waited ~0.13 s for the database at the end, as it did with
# one). Each task has an owner (a cache folder and a name): the next call for the same
# owner waits for it (``settle``), so it never deletes or reads files a newer call has
# written or chosen.
BACKGROUND_THREADS = 2
_BACKGROUND: ThreadPoolExecutor | None = None
_PENDING: dict[tuple, Future] = {}


class Later(Mapping):
    """Files (extension -> path) being made in a background thread (``later``): reading
    one waits for them, and raises what making them raised."""

    def __init__(self, future: Future, keys: tuple[str, ...]):
        self._future, self._keys = future, keys

    def __getitem__(self, ext: str) -> Path:
        return self._future.result()[ext]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def later(owner: tuple, keys: tuple[str, ...], make, *args) -> Later:
    """`make(*args)` (which returns extension -> path for each of `keys`) run in a
    background thread, for `owner` (see ``settle``)."""
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="ice287g-publish")
    settle(owner)
    future = _PENDING[owner] = _BACKGROUND.submit(make, *args)
    return Later(future, keys)


def settle(owner: tuple) -> None:
    """Wait until `owner`'s last background task, if any, is done (its error, if it
    failed, is raised to whoever reads its files, not here)."""
    future = _PENDING.pop(owner, None)
    if future is not None:
        future.exception()


def folder(store, name: str) -> tuple[Path, object]:
    """``derived/publish/<name>`` under the store, or a temporary folder (a
    ``TemporaryDirectory`` to keep alive while the files are used) when the store cannot
    be written."""
    path = store.root / ROOT / name
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return path, None
    except OSError:
        pass
    scratch = tempfile.TemporaryDirectory(prefix=f"ice287g-{name}-")
    return Path(scratch.name), scratch


def stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def record(files: dict[str, Path], digests: dict[str, str]) -> None:
    """Write the record (``files["json"]``) of the other files, whose sha256 are `digests`."""
    entry = {ext: {"sha256": d, "stat": stat(files[ext])} for ext, d in digests.items()}
    atomic_write(files["json"], json.dumps(entry).encode(), sync=False)
    for ext, d in digests.items():
        remember(files[ext], d)


def write(files: dict[str, Path], data: dict[str, bytes]) -> None:
    """Write each of `data` (extension -> bytes) to its file of `files`, then (last) their
    record, which makes the set valid."""
    for ext, body in data.items():
        atomic_write(files[ext], body, sync=False)
    record(files, {ext: sha256_bytes(body) for ext, body in data.items()})


def valid(files: dict[str, Path]) -> bool:
    """Whether every file of the set matches its record (see the module docstring)."""
    try:
        entry = json.loads(files["json"].read_text())
        for ext, path in files.items():
            if ext == "json":
                continue
            known = entry[ext]
            if known["stat"] != stat(path) and sha256_file(path) != known["sha256"]:
                return False
            remember(path, known["sha256"])
    except Exception:  # noqa: BLE001 - a damaged file is rebuilt, never trusted
        return False
    return True


def prune(folder_path: Path, keep: set[str], pattern: str = "*") -> None:
    """Delete the files of `folder_path` matching `pattern` whose names are not in `keep`
    (the cached files a new key replaced)."""
    for stale in folder_path.glob(pattern):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)


def joined(dest: Path, head: bytes, parts: list[Path], memo: Path | None = None) -> str:
    """Write `head` followed by each file of `parts` to `dest`, atomically; its sha256,
    hashed as it is written (``concat.write``, with its `memo`: the files it begins with in
    common with the last file joined under it are not read or hashed again)."""
    from ice287g.publish import concat

    return concat.write(dest, [concat.given(head), *map(concat.of_file, parts)], memo)


def whole_table(files: dict[str, Path], name: str, parquet_parts, placed, empty, head, parts):
    """Write a table's whole files from the files of its parts, then their record:
    ``files["parquet"]`` the `parquet_parts`' row groups joined (``rowgroups.join_to``,
    `placed` its memo), or ``empty()`` (bytes) when there are none; the other data file
    `head` followed by `parts` (``joined``). Each is hashed as it is written, the parts it
    shares with the last whole file not again (``concat``: memos ``<name>.<ext>``)."""
    from ice287g.publish import concat, rowgroups

    folder = files["parquet"].parent
    ext = next(e for e in files if e not in ("parquet", "json"))
    if parquet_parts:
        hashes = concat.memo_of(folder, f"{name}.parquet")
        parquet_sha = rowgroups.join_to(files["parquet"], parquet_parts, placed, hashes)
    else:
        data = empty()
        atomic_write(files["parquet"], data, sync=False)
        parquet_sha = sha256_bytes(data)
    other = joined(files[ext], head, parts, concat.memo_of(folder, f"{name}.{ext}"))
    record(files, {"parquet": parquet_sha, ext: other})


def kept(store, where: str, name: str, key: str, make, read=None):
    """`read(path)` of the file `make()` writes, kept under
    ``derived/publish/<where>/<name>-<key>`` (`key`: a digest of what it is made from) and
    made again when missing or not matching its record; files of `name` under another key
    are deleted. `make()` gives the file's bytes, or its parts (``concat.Part``, written by
    ``concat.write`` under a memo of `name`'s: the parts it begins with in common with the
    last file are not hashed again). Without `read`, the file as a ``concat`` part: the
    file itself, or its bytes when the store cannot be written (the temporary folder that
    holds it then goes when this returns)."""
    from ice287g.publish import concat

    folder_path, scratch = folder(store, where)
    stem = f"{name}-{key[:16]}"
    files = {"data": folder_path / f"{stem}.data", "json": folder_path / f"{stem}.json"}
    try:
        if not valid(files):
            body = make()
            if isinstance(body, bytes):
                write(files, {"data": body})
            else:
                memo = concat.memo_of(folder_path, name)
                record(files, {"data": concat.write(files["data"], body, memo)})
            prune(folder_path, {p.name for p in files.values()}, f"{name}-*")
        if read is None:
            return concat.of_cached(files["data"], scratch)
        return read(files["data"])
    finally:
        if scratch is not None:
            scratch.cleanup()

"""A file written as parts one after the other (bytes given, or a range of a cached file),
hashed (SHA-256) as it is written, where the parts it begins with in common with the last
file written under the same *memo* are neither read nor hashed again.

Each new version of the record rewrites the site's whole-history files
(``versions.csv.gz``, ``versions.parquet``, the ``changes`` and ``daily_counts`` tables):
about 140 MB at ten years, of which only the last part or two changed. Each must be a new
file (the last one may be linked into a published site), so its bytes are copied; but

- the parts it shares with the last file are copied by the kernel (``os.copy_file_range``:
  none of their pages enters this process), and
- their hash is not computed again: the memo (a JSON file) keeps the SHA-256 state after
  each part of the last file, and the hash resumes from the state after the last part they
  share.

Python's ``hashlib`` cannot save a hash's state, so the hash is OpenSSL's own (the
``SHA256_Init``, ``SHA256_Update``, ``SHA256_Final`` of ``libcrypto``, through ctypes), whose
``SHA256_CTX`` (a plain struct of ``openssl/sha.h``) is the state. The library is checked
against ``hashlib`` the first time (a state kept and resumed included); where it is missing
or does not agree, every part is read and hashed by ``hashlib``: the same digest, without
the saving.

A part's identity in the memo: the sha256 of given bytes; for a range of a file, the file's
name, size and modification time and the range (the cache's files are replaced, never
written in place: the trust its records already place in them). A memo that cannot be read,
or was kept by another library, is ignored.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ice287g.store.files import atomic_file, atomic_write

MEMOS = "hashes"  # the memos' folder, in the cache folder of the files written
CTX_BYTES = 112  # sizeof(SHA256_CTX): h[8], Nl, Nh, data[16], num, md_len (32-bit each)
BLOCK = 8 << 20  # a part that is hashed is read this much at a time


# --- a SHA-256 whose state can be kept ------------------------------------------------------
class Sha256:
    """OpenSSL's SHA-256 (``lib``: libcrypto, see ``openssl``), resumed from `state` (the
    bytes ``state()`` gave) when given."""

    def __init__(self, lib, state: bytes | None = None):
        self._lib = lib
        self._ctx = ctypes.create_string_buffer(CTX_BYTES)
        if state is None:
            lib.SHA256_Init(self._ctx)
        else:
            ctypes.memmove(self._ctx, state, CTX_BYTES)

    def update(self, data: bytes) -> None:
        self._lib.SHA256_Update(self._ctx, data, len(data))

    def state(self) -> bytes:
        return self._ctx.raw

    def hexdigest(self) -> str:
        ctx = ctypes.create_string_buffer(self._ctx.raw, CTX_BYTES)  # the state goes on
        out = ctypes.create_string_buffer(32)
        self._lib.SHA256_Final(out, ctx)
        return out.raw.hex()


_OPENSSL: list = []  # [libcrypto or None], once looked up


def openssl():
    """libcrypto with its SHA-256 functions declared, or None when it cannot be loaded or
    does not give hashlib's digests (a state kept and resumed included)."""
    if not _OPENSSL:
        _OPENSSL.append(_load())
    return _OPENSSL[0]


def _load():
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.SHA256_Init.argtypes = [ctypes.c_void_p]
        lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        for f in (lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final):
            f.restype = ctypes.c_int
        sample = bytes(range(256)) * 41  # not a multiple of the 64-byte block
        first = Sha256(lib)
        first.update(sample[:1000])
        resumed = Sha256(lib, first.state())
        resumed.update(sample[1000:])
        if resumed.hexdigest() != hashlib.sha256(sample).hexdigest():
            return None
    except (OSError, AttributeError, ValueError):
        return None
    return lib


def library_name() -> str:
    """What kept a memo's states: the library, and its version when it says."""
    lib = openssl()
    version = getattr(lib, "OpenSSL_version_num", None)
    try:
        number = version() if version is not None else 0
    except (OSError, ValueError):
        number = 0
    return f"{getattr(lib, '_name', '')} {number}"


# --- parts ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """`data`, or `size` bytes of the file `path` from `start`."""

    data: bytes | None = None
    path: Path | None = None
    start: int = 0
    size: int = 0
    stamp: tuple[int, int] = (0, 0)  # the file's size and modification time

    @property
    def identity(self) -> str:
        if self.data is not None:
            return "bytes " + hashlib.sha256(self.data).hexdigest()
        return f"file {self.path.name} {self.stamp[0]} {self.stamp[1]} {self.start} {self.size}"

    def read(self) -> bytes:
        return b"".join(_blocks(self))


def given(data: bytes) -> Part:
    return Part(data=data)


def of_file(path: Path, start: int = 0, size: int | None = None) -> Part:
    """The bytes of the file at `path` from `start`, `size` of them (to its end when None)."""
    st = os.stat(path)
    size = st.st_size - start if size is None else size
    return Part(path=path, start=start, size=size, stamp=(st.st_size, st.st_mtime_ns))


def of_cached(path: Path, scratch) -> Part:
    """A cached file as a part: the file, or its bytes when it is in a temporary folder
    (`scratch`, not None: a store that cannot be written) that goes before it is written."""
    return of_file(path) if scratch is None else given(path.read_bytes())


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _blocks(part: Part):
    """The bytes of `part`, read ``BLOCK`` at a time."""
    if part.data is not None:
        yield part.data
        return
    with open(part.path, "rb") as src:
        at, left = part.start, part.size
        while left:
            data = os.pread(src.fileno(), min(left, BLOCK), at)
            if not data:
                raise OSError(f"{part.path}: shorter than {part.start + part.size} bytes")
            yield data
            at, left = at + len(data), left - len(data)


def _copied(part: Part, fd: int) -> None:
    """Write `part` to `fd` (at its position) without reading it here when it is a file's
    and the kernel can copy it."""
    if part.data is not None:
        _write_all(fd, part.data)
        return
    with open(part.path, "rb") as src:
        at, left = part.start, part.size
        while left:
            try:
                n = os.copy_file_range(src.fileno(), fd, left, at)
            except OSError as e:  # another file system, an old kernel: through this process
                if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                for data in _blocks(replace(part, start=at, size=left)):
                    _write_all(fd, data)
                return
            if n == 0:
                raise OSError(f"{part.path}: shorter than {part.start + part.size} bytes")
            at, left = at + n, left - n


def _hashed(part: Part, fd: int, h) -> None:
    """Write `part` to `fd`, hashing it into `h`."""
    for data in _blocks(part):
        h.update(data)
        _write_all(fd, data)


def memo_of(folder: Path, name: str) -> Path:
    """The memo of the files named `name` written from the cache folder `folder`."""
    return folder / MEMOS / f"{name}.json"


# --- the file -------------------------------------------------------------------------------
def _kept(memo: Path | None) -> tuple[list[str], list[str]]:
    """The parts' identities and the states after each, of the last file written under
    `memo` by this library; nothing when there is no such memo or it cannot be read."""
    if memo is None:
        return [], []
    try:
        kept = json.loads(memo.read_text())
        if kept["library"] != library_name() or len(kept["parts"]) != len(kept["states"]):
            return [], []
        return list(kept["parts"]), list(kept["states"])
    except Exception:  # noqa: BLE001 - a memo is never trusted: any doubt means hash it all
        return [], []


def write(dest: Path, parts: list[Part], memo: Path | None = None) -> str:
    """Write `parts` one after the other to `dest`, atomically; its sha256. `memo`: where the
    hash's state after each part is kept, so that the next file written under it hashes
    only the parts after those it begins with in common with this one (None: no memo)."""
    lib = openssl() if memo is not None else None
    ids = [p.identity for p in parts]
    old, old_states = _kept(memo) if lib is not None else ([], [])
    shared = 0
    while shared < min(len(ids), len(old)) and ids[shared] == old[shared]:
        shared += 1
    if lib is None:
        h = hashlib.sha256()
    else:
        h = Sha256(lib, bytes.fromhex(old_states[shared - 1]) if shared else None)
    states = old_states[:shared]
    with atomic_file(dest) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            for i, part in enumerate(parts):
                if i < shared:
                    _copied(part, fd)
                    continue
                _hashed(part, fd, h)
                if lib is not None:
                    states.append(h.state().hex())
        finally:
            os.close(fd)
    if lib is not None:
        kept = {"library": library_name(), "parts": ids, "states": states}
        atomic_write(memo, json.dumps(kept).encode(), sync=False)
    return h.hexdigest()

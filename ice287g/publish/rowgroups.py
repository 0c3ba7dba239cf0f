"""One Parquet file from several of one schema, without decoding a value: their row groups'
bytes one after the other and a footer listing them all.

A Parquet file is ``PAR1``, the row groups (with their page indexes and bloom filters),
the footer (``FileMetaData``, Thrift compact protocol), its length and ``PAR1``
(https://parquet.apache.org/docs/file-format/). The row groups of the parts are copied
as they are; their footers are read (``decode``), the offsets in them moved by where each
part's bytes now start, and written as one footer (``encode``). pyarrow has no API for
this; the Thrift codec below covers the whole compact protocol and is checked to give a
footer's bytes back exactly. A join can keep each part's row groups as placed (``layout``'s
`memo`), so that joining again after a new last part decodes and encodes that part only;
its bytes are written by ``concat.write``.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"PAR1"
STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)
ENCODED_LIST = -1  # ``encode`` only: a list field whose items are given as their bytes

# Field ids (parquet.thrift) of the offsets within a file, per struct.
FILE_ROWS, FILE_ROW_GROUPS = 3, 4
GROUP_COLUMNS, GROUP_FILE_OFFSET, GROUP_ORDINAL = 1, 5, 7
CHUNK_OFFSETS = (2, 4, 6)  # file_offset, offset_index_offset, column_index_offset
CHUNK_META = 3
META_OFFSETS = (9, 10, 11, 14)  # data, index, dictionary page offsets; bloom filter


class ParquetJoinError(ValueError):
    """The parts cannot be joined (not Parquet, encrypted, or of different schemas)."""


# --- Thrift compact protocol ------------------------------------------------------------------
def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _unzig(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _value(data: bytes, i: int, kind: int):
    if kind in (TRUE, FALSE):  # inside a list: one byte each
        return data[i] == TRUE, i + 1
    if kind == BYTE:
        return data[i], i + 1
    if kind in (I16, I32, I64):
        n, i = _varint(data, i)
        return _unzig(n), i
    if kind == DOUBLE:
        return struct.unpack_from("<d", data, i)[0], i + 8
    if kind == BINARY:
        n, i = _varint(data, i)
        return bytes(data[i : i + n]), i + n
    if kind in (LIST, SET):
        head = data[i]
        i += 1
        size, elem = head >> 4, head & 0x0F
        if size == 15:
            size, i = _varint(data, i)
        items = []
        for _ in range(size):
            v, i = _value(data, i, elem)
            items.append(v)
        return (elem, items), i
    if kind == MAP:
        size, i = _varint(data, i)
        if not size:
            return (0, 0, []), i
        kt, vt = data[i] >> 4, data[i] & 0x0F
        i += 1
        pairs = []
        for _ in range(size):
            k, i = _value(data, i, kt)
            v, i = _value(data, i, vt)
            pairs.append((k, v))
        return (kt, vt, pairs), i
    if kind == STRUCT:
        return _struct(data, i)
    raise ParquetJoinError(f"unknown Thrift type {kind}")


def _struct(data: bytes, i: int) -> tuple[list, int]:
    fields, last = [], 0
    while True:
        head = data[i]
        i += 1
        kind = head & 0x0F
        if kind == STOP:
            return fields, i
        delta = head >> 4
        if delta:
            fid = last + delta
        else:
            n, i = _varint(data, i)
            fid = _unzig(n)
        if kind in (TRUE, FALSE):
            value = kind == TRUE
        else:
            value, i = _value(data, i, kind)
        fields.append([fid, kind, value])
        last = fid


def decode(data: bytes) -> list:
    """A Thrift compact struct as ``[[field id, type, value], ...]``."""
    return _struct(data, 0)[0]


def _put_varint(out: bytearray, n: int) -> None:
    while True:
        if n < 0x80:
            out.append(n)
            return
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zig(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _put_value(out: bytearray, kind: int, value) -> None:
    if kind in (TRUE, FALSE):
        out.append(TRUE if value else FALSE)
    elif kind == BYTE:
        out.append(value)
    elif kind in (I16, I32, I64):
        _put_varint(out, _zig(value))
    elif kind == DOUBLE:
        out += struct.pack("<d", value)
    elif kind == BINARY:
        _put_varint(out, len(value))
        out += value
    elif kind in (LIST, SET):
        elem, items = value
        _put_list_head(out, elem, len(items))
        for v in items:
            _put_value(out, elem, v)
    elif kind == MAP:
        kt, vt, pairs = value
        _put_varint(out, len(pairs))
        if pairs:
            out.append(kt << 4 | vt)
        for k, v in pairs:
            _put_value(out, kt, k)
            _put_value(out, vt, v)
    elif kind == STRUCT:
        _put_struct(out, value)
    elif kind == ENCODED_LIST:  # a list whose items are encoded already: their bytes as they are
        elem, items = value
        _put_list_head(out, elem, len(items))
        for item in items:
            out += item
    else:
        raise ParquetJoinError(f"unknown Thrift type {kind}")


def _put_list_head(out: bytearray, elem: int, size: int) -> None:
    if size < 15:
        out.append(size << 4 | elem)
    else:
        out.append(0xF0 | elem)
        _put_varint(out, size)


def _put_struct(out: bytearray, fields: list) -> None:
    last = 0
    for fid, kind, value in fields:
        wire = (TRUE if value else FALSE) if kind in (TRUE, FALSE) else kind
        wire = LIST if kind == ENCODED_LIST else wire
        if 0 < fid - last <= 15:
            out.append((fid - last) << 4 | wire)
        else:
            out.append(wire)
            _put_varint(out, _zig(fid))
        if kind not in (TRUE, FALSE):
            _put_value(out, kind, value)
        last = fid
    out.append(STOP)


def encode(fields: list) -> bytes:
    out = bytearray()
    _put_struct(out, fields)
    return bytes(out)


# --- Parquet ---------------------------------------------------------------------------------
def footer(path: Path) -> tuple[list, int]:
    """(FileMetaData, where it starts) of the Parquet file at `path`, reading its first and
    last bytes only."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(0)
        if size < 12 or fh.read(4) != MAGIC:
            raise ParquetJoinError(f"{path.name}: not a Parquet file (or an encrypted one)")
        fh.seek(size - 8)
        end = fh.read(8)
        length = struct.unpack("<I", end[:4])[0]
        if end[4:] != MAGIC or length > size - 12:
            raise ParquetJoinError(f"{path.name}: not a Parquet file (or an encrypted one)")
        fh.seek(size - 8 - length)
        return decode(fh.read(length)), size - 8 - length


def _field(fields: list, fid: int):
    return next((f for f in fields if f[0] == fid), None)


def _shift(fields: list, fids, by: int) -> None:
    for f in fields:
        if f[0] in fids:
            f[2] += by


@dataclass
class _Placed:
    """A part as it lands in a joined file: its FileMetaData but the rows and row groups
    (``rest``), its rows, its row groups encoded with their offsets and ordinals moved, and
    where its footer starts."""

    rest: list
    rows: int
    groups: list[bytes]
    start: int


def layout(parts: list[Path], memo: Path | None = None) -> tuple[list, int]:
    """The Parquet file of `parts` (files of one schema, in order) as what to write one
    after the other (``concat.Part``: the magic, each part's row groups as they are in it,
    the footer listing them all), and its rows.

    `memo`: a folder of this join's own, where each part's ``_Placed`` is kept, named by the
    part, its offset and its first row group's ordinal: a part that lands where it landed
    the last time (every part before it unchanged) is copied without its footer read,
    decoded and encoded again. The other files of the folder are deleted."""
    from ice287g.publish import concat

    meta = None
    groups: list[bytes] = []
    rows = 0
    used: set[str] = set()
    out = [concat.given(MAGIC)]
    at = len(MAGIC)
    for path in parts:
        placed, name = _place(path, at - len(MAGIC), len(groups), memo)
        used.add(name)
        if meta is None:
            meta = placed.rest
        elif placed.rest != meta:
            raise ParquetJoinError(f"{path.name}: its schema or metadata differ from the first")
        groups += placed.groups
        rows += placed.rows
        out.append(concat.of_file(path, len(MAGIC), placed.start - len(MAGIC)))
        at += placed.start - len(MAGIC)
    if meta is None:
        raise ParquetJoinError("nothing to join")
    whole = sorted(
        [*meta, [FILE_ROWS, I64, rows], [FILE_ROW_GROUPS, ENCODED_LIST, (STRUCT, groups)]],
        key=lambda f: f[0],
    )
    tail = encode(whole)
    out.append(concat.given(tail + struct.pack("<I", len(tail)) + MAGIC))
    if memo is not None and memo.is_dir():
        for stale in memo.iterdir():
            if stale.name not in used:
                stale.unlink(missing_ok=True)
    return out, rows


def join(parts: list[Path], out, memo: Path | None = None) -> int:
    """Write the Parquet file of `parts` (``layout``, with its `memo`) to the binary file
    `out`; the rows written."""
    written, rows = layout(parts, memo)
    for part in written:
        out.write(part.read())
    return rows


def _place(path: Path, by: int, first: int, memo: Path | None) -> tuple:
    """(``_Placed`` of the part at offset `by` with first ordinal `first`, its memo's name):
    from `memo` when it holds it for this very file (its size and modification time, as the
    cache's records check them, so that a copied store keeps its memo), else worked out (and
    kept there when the folder can be written)."""
    from ice287g.publish.cache import stat
    from ice287g.store.files import atomic_write

    name = f"{path.name}.at-{by}-{first}"
    stamp = stat(path)
    if memo is not None:
        try:
            kept_stamp, placed = pickle.loads((memo / name).read_bytes())
            if kept_stamp == stamp and isinstance(placed, _Placed):
                return placed, name
        except Exception:  # noqa: BLE001 - missing or damaged: worked out again
            pass
    fmd, start = footer(path)
    found = _field(fmd, FILE_ROW_GROUPS)
    encoded = []
    for n, group in enumerate(found[2][1] if found else []):
        _shift(group, (GROUP_FILE_OFFSET,), by)
        for chunk in _field(group, GROUP_COLUMNS)[2][1]:
            _shift(chunk, CHUNK_OFFSETS, by)
            meta_data = _field(chunk, CHUNK_META)
            if meta_data is not None:
                _shift(meta_data[2], META_OFFSETS, by)
        ordinal = _field(group, GROUP_ORDINAL)
        if ordinal is not None:
            ordinal[2] = first + n
        encoded.append(encode(group))
    rest = [f for f in fmd if f[0] not in (FILE_ROWS, FILE_ROW_GROUPS)]
    placed = _Placed(rest, _field(fmd, FILE_ROWS)[2], encoded, start)
    if memo is not None:
        try:
            memo.mkdir(parents=True, exist_ok=True)
            atomic_write(memo / name, pickle.dumps((stamp, placed)), sync=False)
        except OSError:
            pass  # a read-only store: joined all the same
    return placed, name


# --- a joined file ----------------------------------------------------------------------
def join_to(
    dest: Path, parts: list[Path], memo: Path | None = None, hashes: Path | None = None
) -> str:
    """Write the Parquet file of `parts` to `dest`, atomically (``layout``, with its
    `memo`); its sha256, hashed as it is written (``concat.write``, with `hashes` its
    memo: the row groups it shares with the last file joined are not hashed again)."""
    from ice287g.publish import concat

    written, _ = layout(parts, memo)
    return concat.write(dest, written, hashes)

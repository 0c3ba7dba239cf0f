"""Arrow helpers the stages share: a derived Arrow table as a pandas DataFrame, a
date-ordered table's calendar years, a text column's values as numbers in sorted order, and
a derived table kept as an Arrow IPC file (read back by mapping it, nothing decoded).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def dataframe(table: pa.Table):
    """`table` as a pandas DataFrame: dictionary-encoded text decoded (``str``), each date
    column as ``datetime.date`` objects shared by the rows of one day. A column of 100,000
    rows over a few thousand days makes a few thousand objects instead of 100,000, and the
    garbage collector's passes over that many new objects cost more than the rest of the
    conversion (at ten years of history, 0.1 s for the event table alone)."""
    dates = [f.name for f in table.schema if pa.types.is_date32(f.type)]
    rest = table.drop_columns(dates)
    columns = [
        c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in rest.columns
    ]
    out = pa.table(columns, names=rest.column_names).to_pandas()
    for name in dates:
        days = table.column(name).combine_chunks().dictionary_encode()
        shared = np.array([*days.dictionary.to_pylist(), None], dtype=object)
        at = days.indices.fill_null(len(days.dictionary)).to_numpy()
        out.insert(table.column_names.index(name), name, shared[at])
    return out


def year_runs(dates) -> list[tuple[int, int, int]]:
    """(year, first row, rows) of each calendar year of a column of dates in date order."""
    if len(dates) == 0:
        return []
    year = pc.year(dates).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, year[1:] != year[:-1]])
    ends = np.r_[starts[1:], len(year)]
    return [
        (int(year[a]), int(a), int(b - a))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def sorted_codes(column) -> tuple[np.ndarray, list]:
    """Each row's place among the column's distinct values in sorted order (text by code
    point; a missing value after them all), and those values."""
    coded = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(coded.type):
        coded = coded.dictionary_encode()
    words = coded.dictionary.to_pylist()
    order = sorted(range(len(words)), key=words.__getitem__)
    rank = np.empty(len(words) + 1, dtype="int64")
    rank[order] = np.arange(len(words))
    rank[-1] = len(words)
    return rank[coded.indices.fill_null(len(words)).to_numpy()], [words[i] for i in order]


def ipc_bytes(table: pa.Table) -> bytes:
    """`table` as an Arrow IPC file (uncompressed): read back by ``read_ipc`` without
    decoding a value, for derived tables read after every new version (a Parquet file of
    the same rows costs ten times more to read)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(path) -> pa.Table:
    """The table of an Arrow IPC file, memory-mapped (``ipc_bytes``)."""
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()

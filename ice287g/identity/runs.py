"""Runs: maximal stretches of consecutive version positions (``pos``) with the same keys, the
shape in which the identity keeps what was listed when (``observe``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["RUN_COLUMNS", "covering", "same_keys", "segments", "stitch"]

RUN_COLUMNS = ("start", "end")


def segments(obs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Maximal runs of consecutive positions (``pos``) per `keys` value: `keys`, ``start``,
    ``end`` (inclusive), sorted by `keys` and start. A (keys, pos) listed twice counts once."""
    if obs.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in (*keys, *RUN_COLUMNS)})
    cols = [obs[k].to_numpy() for k in (*keys, "pos")]
    cols = [c[np.lexsort(cols[::-1])] for c in cols]  # by keys, then position
    same = same_keys(cols[:-1])
    pos = cols[-1]
    again = same & (pos[1:] == pos[:-1])  # the row before, once more
    if again.any():
        cols = [c[np.r_[True, ~again]] for c in cols]
        same, pos = same_keys(cols[:-1]), cols[-1]
    starts = np.flatnonzero(np.r_[True, ~same | (pos[1:] != pos[:-1] + 1)])
    ends = np.r_[starts[1:] - 1, len(pos) - 1]  # a run's positions go up one by one
    out = {k: col[starts] for k, col in zip(keys, cols)}
    return pd.DataFrame({**out, "start": pos[starts], "end": pos[ends]}).astype("int64")


def same_keys(cols: list[np.ndarray]) -> np.ndarray:
    """Whether each row but the first has the same values as the row before it."""
    same = np.ones(max(len(cols[0]) - 1, 0), dtype=bool)
    for col in cols:
        same &= col[1:] == col[:-1]
    return same


def stitch(runs: pd.DataFrame, added: pd.DataFrame, keys: list[str], first: dict) -> pd.DataFrame:
    """`runs` (``segments``) and `added` (``segments`` of later positions; ``first``: list
    index -> the first added position) as one: an added run that begins at its list's first
    added position continues a run with the same keys that ended just before it. Equal to
    ``segments`` of everything."""
    if added.empty:
        return runs
    begin = added["li"].map(first).to_numpy()
    head = added[added["start"].to_numpy() == begin].assign(end_before=lambda d: d["start"] - 1)
    old = runs.reset_index().rename(columns={"end": "end_before"})
    hit = head.reset_index().merge(old, on=[*keys, "end_before"], suffixes=("_new", ""))
    runs = runs.copy()
    runs.loc[hit["index"].to_numpy(), "end"] = hit["end"].to_numpy()
    rest = added.drop(index=hit["index_new"].to_numpy())
    out = pd.concat([runs, rest], ignore_index=True)
    return out.sort_values([*keys, "start"]).reset_index(drop=True)


def covering(runs: pd.DataFrame, li: int, pos: int) -> pd.DataFrame:
    """The runs of list `li` that cover position `pos`."""
    return runs[(runs["li"] == li) & (runs["start"] <= pos) & (runs["end"] >= pos)]

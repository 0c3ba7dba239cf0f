"""Small generated versions for identity tests: frames as the store adapter hands them over."""

from __future__ import annotations

import hashlib
from datetime import date

import pandas as pd
from support.workbooks import PARTICIPATING_HEADER, PENDING_HEADER

from ice287g.normalize.apply import agency_id, agreement_id

URL = "https://www.ice.gov/doclib/287gMOA/{}.pdf"


def row(
    agency,
    state="FL",
    model="TFM",
    signed=None,
    moa=None,
    status=None,
    addendum=None,
    county=None,
    agency_type="county",
) -> dict:
    """One snapshot row; keys made by the real normalizer (tier a)."""
    aid = agency_id(state, agency)
    moa_url = URL.format(moa) if moa else None
    return {
        "agreement_id": agreement_id(aid, model),
        "agency_id": aid,
        "state": state,
        "agency": agency,
        "model": model,
        "signed": date.fromisoformat(signed) if isinstance(signed, str) else signed,
        "moa_status": status or ("available" if moa_url else ("pending" if signed else None)),
        "moa_url": moa_url,
        "addendum_url": URL.format(addendum) if addendum else None,
        "county": county,
        "county_fips": None,
        "agency_type": agency_type,
    }


def frames(*versions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(versions, rows) from (list, "YYYY-MM-DD", [rows]) or (list, day, seq, [rows])."""
    vs, rs = [], []
    for spec in versions:
        lst, day, *rest = spec
        seq, rows = (rest[0], rest[1]) if len(rest) == 2 else (1, rest[0])
        text = repr((lst, day, seq, sorted(map(repr, rows))))
        sha = hashlib.sha256(text.encode()).hexdigest()
        cols = PARTICIPATING_HEADER if lst == "participating" else PENDING_HEADER
        vs.append(
            {
                "list": lst,
                "date": date.fromisoformat(day),
                "seq": seq,
                "sha256": sha,
                "columns": cols,
            }
        )
        rs += [{**r, "sha256": sha} for r in rows]
    rows_df = pd.DataFrame(rs, columns=[*row("x").keys(), "sha256"])
    return pd.DataFrame(vs), rows_df


def part(day, *rows, seq=1):
    return ("participating", day, seq, list(rows))


def pend(day, *rows, seq=1):
    return ("pending", day, seq, list(rows))

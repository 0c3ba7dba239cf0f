"""County names as ICE typed them across all versions, with FIPS codes: the review list for
``COUNTY_CORRECTIONS`` (``ice287g counties --unresolved``)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from ice287g.query.versions import catalog, store_of

COUNTY_FIELDS: list[tuple[str, str, str]] = [
    ("state", "string", "USPS state code"),
    ("county_raw", "string", "COUNTY as typed"),
    ("county", "string", "County name after cleaning"),
    ("county_fips", "string", "5-digit FIPS code, empty when it does not resolve"),
    ("rows", "integer", "Rows with this value in the newest version that has it"),
    ("versions", "integer", "Versions (both lists) with this value"),
    ("first_seen", "date", "Date of the first version with it"),
    ("last_seen", "date", "Date of the last version with it"),
    ("agencies", "string", "Agencies listed with it in that newest version, joined with `; `"),
]


def counties(unresolved: bool = False, data_dir=None) -> pd.DataFrame:
    """Every distinct (state, county as typed) across all versions, with its FIPS code;
    `unresolved` keeps those whose county does not resolve to a FIPS code."""
    store = store_of(data_dir)
    cat = catalog(store).sort_values(["date", "list", "seq"]).reset_index(drop=True)
    cols = ["state", "county_raw", "county", "county_fips", "agency"]
    tables = []
    for i, v in enumerate(cat.itertuples()):
        t = store.read_snapshot(v.snapshot, columns=cols)
        if t.num_rows:
            tables.append(t.append_column("vidx", pa.array([i] * t.num_rows, pa.int32())))
    names = [n for n, _, _ in COUNTY_FIELDS]
    if not tables:
        return pd.DataFrame(columns=names)
    df = pa.concat_tables(tables).to_pandas()
    df = df[df["county"].notna()]
    if unresolved:
        df = df[df["county_fips"].isna()]
    keys = ["state", "county_raw", "county"]
    df = df.fillna({"state": "", "county_fips": ""})
    dates = cat["date"]
    g = df.groupby(keys, dropna=False)
    last = g["vidx"].max().rename("last")
    newest = df.merge(last.reset_index(), on=keys)
    newest = newest[newest["vidx"] == newest["last"]]
    agg = newest.groupby(keys, dropna=False).agg(
        rows=("agency", "size"),
        agencies=("agency", lambda s: "; ".join(sorted(set(s.dropna())))),
        county_fips=("county_fips", "first"),
    )
    out = g["vidx"].agg(versions="nunique", first="min", last="max").join(agg).reset_index()
    out["first_seen"] = out["first"].map(dates)
    out["last_seen"] = out["last"].map(dates)
    out = out.replace({"state": {"": None}, "county_fips": {"": None}})
    out = out.sort_values(["state", "county", "county_raw"]).reset_index(drop=True)
    return out[names]

"""Normalization rules: examples from ICE's real files, and properties (hypothesis)."""

from __future__ import annotations

import string
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.workbooks import (
    PARTICIPATING_HEADER,
    PENDING_HEADER,
    build_workbook,
    participating_row,
)

from ice287g.normalize import apply as n
from ice287g.normalize import counties, rules
from parsers.workbook import read_workbook


@pytest.mark.parametrize(
    "raw, code, flags",
    [
        ("TEXAS", "TX", ()),
        ("Texas ", "TX", ()),
        ("UTAh", "UT", ()),
        ("WESt VIRGINIA", "WV", ()),
        ("GUAM", "GU", ()),
        ("Puerto Rico", "PR", ()),
        ("DISTRICT OF COLUMBIA", "DC", ()),
        ("UTAHJ", "UT", ("state_corrected",)),
        ("WEST VIRIGINIA", "WV", ("state_corrected",)),
        ("PENNSLYVANIA", "PA", ("state_corrected",)),
        ("MCHIGAN", "MI", ("state_corrected",)),
        ("AlABAMA", "AL", ()),
        ("NEW\xa0YORK", "NY", ()),
        ("", None, ("state_missing",)),
        ("ATLANTIS", None, ("state_unknown",)),
    ],
)
def test_state(raw, code, flags):
    assert n.state_code(raw) == (code, flags)


@pytest.mark.parametrize(
    "raw, code, flags",
    [
        ("Jail Enforcement Model", "JEM", ()),
        ("Jail Enforcement Model ", "JEM", ()),
        ("Task Force Model", "TFM", ()),
        ("Warrant Service Officer", "WSO", ()),
        ("Tribal Task Force Model", "TTFM", ()),
        ("Warrant Services Officer", "WSO", ("model_corrected",)),
        ("Warrant Service Office", "WSO", ("model_corrected",)),
        ("Task Force Officer ", "TFM", ("model_corrected",)),
        ("Jail Enforcment Model ", "JEM", ("model_corrected",)),
        ("Warrant Srvice Officer", "WSO", ("model_guessed",)),
        ("", None, ("model_missing",)),
        ("Something else", None, ("model_unknown",)),
    ],
)
def test_model(raw, code, flags):
    assert n.model_code(raw) == (code, flags)


@pytest.mark.parametrize(
    "raw, clean, flags",
    [
        ("County", "county", ()),
        ("County ", "county", ()),
        ("Municipality", "municipality", ()),
        ("State Agency", "state", ()),
        ("State", "state", ()),
        ("Tribal", "tribal", ()),
        ("Muncipality ", "municipality", ("agency_type_corrected",)),
        ("Municipal", "municipality", ("agency_type_corrected",)),
        ("#NA", None, ("agency_type_missing",)),
        ("", None, ("agency_type_missing",)),
        ("Federal", "other", ("agency_type_other",)),
    ],
)
def test_agency_type(raw, clean, flags):
    assert n.agency_type(raw) == (clean, flags)


@pytest.mark.parametrize(
    "raw, state, clean, flags",
    [
        ("Harris County ", "TX", "Harris County", ()),
        ("Jackson County  ", "MO", "Jackson County", ()),
        ("Baldwin Couny", "AL", "Baldwin County", ("county_corrected",)),
        ("Guadalupe Conty", "TX", "Guadalupe County", ("county_corrected",)),
        ("Steuben COunty", "IN", "Steuben County", ()),
        ("Sebastian county", "AR", "Sebastian County", ()),
        ("Bossier Parish ", "LA", "Bossier Parish", ()),
        ("Allegancy", "MD", "Allegany County", ("county_corrected",)),
        ("#N/A", "TX", None, ("county_missing",)),
        ("#NA", "TX", None, ("county_missing",)),
        ("#n?A", "TX", None, ("county_missing",)),
        ("N/A", "TX", None, ("county_missing",)),
        ("", "TX", None, ()),
        ("County", "TX", None, ("county_missing",)),  # no county named
        (" county ", "TX", None, ("county_missing",)),
        ("Harris Countey", "TX", "Harris County", ("county_corrected",)),
        # 2026 typos, with or without the suffix word, and with a suffix typo too
        ("Whitely County", "KY", "Whitley County", ("county_corrected",)),
        ("Whitely", "KY", "Whitley County", ("county_corrected",)),
        ("Whitely Countey", "KY", "Whitley County", ("county_corrected",)),
        ("Herkimber County", "NY", "Herkimer County", ("county_corrected",)),
        ("Bryant County", "OK", "Bryan County", ("county_corrected",)),
        ("Miffin County", "PA", "Mifflin County", ("county_corrected",)),
        ("Lexignton County", "SC", "Lexington County", ("county_corrected",)),
        ("Bryant County", "AR", "Bryant County", ()),  # a correction holds in its state only
        ("LaSalle Parish", "LA", "LaSalle Parish", ()),  # the parish's own spelling, kept
    ],
)
def test_county(raw, state, clean, flags):
    assert counties.county_name(raw, state) == (clean, flags)


def test_a_county_that_exists_only_in_another_state_flags_the_state():
    # Real rows: Kershaw County Sheriff's Office filed under FLORIDA; Scranton PD under SC.
    assert counties.fips_flagged("Kershaw County", "FL") == (
        None,
        ("county_fips_unresolved", "state_county_mismatch:SC"),
    )
    assert counties.fips_flagged("Lackawanna County", "SC")[1][-1] == "state_county_mismatch:PA"
    # A name found in many states says nothing about which one was meant.
    assert counties.fips_flagged("Washington County", "WV") == (None, ("county_fips_unresolved",))
    assert counties.fips_flagged("Harris County", "TX") == ("48201", ())


def test_no_wrong_state_when_the_county_is_spelled_like_one_of_the_rows_own_state():
    # Overton County exists only in TN, but TX has a county spelled much like it: a
    # misspelling in TX is likelier than a Tennessee agency filed under Texas.
    assert counties.states_with_county("Overton County") == ("TN",)
    assert counties.fips_flagged("Overton County", "TX") == (None, ("county_fips_unresolved",))
    assert counties.fips_flagged("Kershaw County", "FL")[1][-1] == "state_county_mismatch:SC"


def test_county_fips_resolves_counties_and_parishes():
    assert counties.county_fips("TX", "Harris County") == "48201"
    assert counties.county_fips("LA", "Bossier Parish") == "22015"
    assert counties.county_fips("TX", None) is None
    assert counties.county_fips("TX", "Nowhere County") is None
    # addfips knows LaSalle Parish only as "La Salle"
    assert counties.county_fips("LA", "LaSalle Parish") == "22059"
    assert counties.fips_flagged("LaSalle Parish", "LA") == ("22059", ())


@pytest.mark.parametrize(
    "value, day, flags",
    [
        (datetime(2025, 3, 1), date(2025, 3, 1), ()),
        (date(2020, 6, 9), date(2020, 6, 9), ()),
        ("05/082025", date(2025, 5, 8), ("signed_text_repaired",)),
        ("7/72025", date(2025, 7, 7), ("signed_text_repaired",)),
        ("8/282025", date(2025, 8, 28), ("signed_text_repaired",)),
        ("08/28/2025", date(2025, 8, 28), ("signed_text_repaired",)),
        (datetime(5025, 7, 1), date(2025, 7, 1), ("signed_year_fixed",)),
        (45733.0, date(2025, 3, 17), ("signed_from_serial",)),
        ("", None, ("signed_missing",)),
        (None, None, ("signed_missing",)),
        ("soon", None, ("signed_unparsed",)),
        ("13/45/2025", None, ("signed_unparsed",)),
    ],
)
def test_signed(value, day, flags):
    assert n.signed_date(value) == (day, flags)


@pytest.mark.parametrize(
    "target, url, flags",
    [
        (
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            (),
        ),
        (
            "http://www.ice.gov/doclib/287gMOA/a.pdf",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            ("url_http",),
        ),
        (
            "https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib"
            "%2F287gMOA%2Fa.pdf&data=05%7C02&reserved=0",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            ("url_safelinks",),
        ),
        (
            "chrome-extension://efaidnbmnnnibpcajpcglclefindmkaj/https:/www.ice.gov/doclib/287gMOA/a.pdf",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            ("url_chrome_extension", "url_slashes_repaired"),
        ),
        (
            "https:/www.ice.gov/doclib/287gMOA/a.pdf",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            ("url_slashes_repaired",),
        ),
        (
            "/doclib/about/offices/ero/287g/b.pdf",
            "https://www.ice.gov/doclib/about/offices/ero/287g/b.pdf",
            ("url_relative",),
        ),
        (
            "https://ice.gov/doclib/287gMOA/a.PDF",
            "https://www.ice.gov/doclib/287gMOA/a.PDF",
            ("url_host_repaired",),
        ),
        (
            "https://www.ice.gov/doclib/287gMOA/a b.pdf",
            "https://www.ice.gov/doclib/287gMOA/a%20b.pdf",
            (),
        ),
        ("mailto:someone@ice.gov", None, ("url_unusable",)),
    ],
)
def test_canonical_url(target, url, flags):
    assert n.canonical_url(target) == (url, flags)


@pytest.mark.parametrize(
    "text, target, url, status",
    [
        (
            "link",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            "available",
        ),
        ("link pending ", None, None, "pending"),
        ("Link Pending", None, None, "pending"),
        (
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            None,
            "https://www.ice.gov/doclib/287gMOA/a.pdf",
            "available",
        ),
        ("\xa0", None, None, "missing"),
        ("link", None, None, "missing"),
    ],
)
def test_moa_link_status(text, target, url, status):
    got_url, got_status, _ = n.link_field(text, target, "moa", True)
    assert (got_url, got_status) == (url, status)


def test_blank_addendum_is_no_addendum_not_missing():
    assert n.link_field("", None, "addendum", False) == (None, None, ())
    assert n.link_field("Link Pending", None, "addendum", False)[1] == "pending"


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Power County Sheriff\u2019s Office", "Power County Sheriff's Office"),
        ("Kansas  Bureau Of Investigation", "Kansas Bureau Of Investigation"),
        ("Hollywood Police Department ", "Hollywood Police Department"),
        ("\xa0Camden\xa0Police Department", "Camden Police Department"),
        ("Walker County Sheriff 's Office", "Walker County Sheriff's Office"),
        ("   ", None),
    ],
)
def test_agency_name(raw, clean):
    assert n.agency_name(raw) == clean


def test_ids_ignore_case_spacing_and_punctuation():
    a = n.agency_id("TX", n.agency_name("Harris County Sheriff\u2019s Office"))
    b = n.agency_id("TX", n.agency_name("HARRIS COUNTY SHERIFFS OFFICE "))
    c = n.agency_id("TX", n.agency_name("Harris County Sheriff's  Office."))
    assert a == b == c == "TX:harriscountysheriffsoffice"
    assert n.agreement_id(a, "JEM") == "TX:harriscountysheriffsoffice:JEM"
    assert n.agency_id("FL", "Harris County Sheriff's Office") != a
    assert n.agency_id("TX", None) is None


def test_normalize_keeps_raw_values_and_flags_each_correction():
    rows = [
        participating_row(
            state="UTAHJ",
            model="Warrant Services Officer",
            county="#N/A",
            signed="05/082025",
            moa="link",
        ),
        participating_row(typ="Muncipality ", moa="link pending "),
        participating_row(typ="Muncipality ", moa="link pending "),  # exact duplicate
    ]
    safelink = (
        "https://gcc02.safelinks.protection.outlook.com/?url=http%3A%2F%2Fwww.ice.gov"
        "%2Fdoclib%2F287gMOA%2Fx.pdf"
    )
    data = build_workbook(PARTICIPATING_HEADER, rows, links={(0, "MOA"): safelink})
    table = n.normalize(read_workbook(data, "x.xlsx")).to_pylist()
    first, second, third = table
    assert (first["state"], first["state_raw"]) == ("UT", "UTAHJ")
    assert (first["model"], first["model_raw"]) == ("WSO", "Warrant Services Officer")
    assert (first["county"], first["county_raw"]) == (None, "#N/A")
    assert (first["signed"], first["signed_raw"]) == (date(2025, 5, 8), "05/082025")
    assert first["moa_url"] == "https://www.ice.gov/doclib/287gMOA/x.pdf"
    assert first["moa_link_raw"] == safelink and first["moa_status"] == "available"
    assert set(first["flags"]) >= {
        "state_corrected",
        "model_corrected",
        "excel_error:county",
        "county_missing",  # an #N/A error cell is an unknown county
        "signed_text_repaired",
        "moa_url_safelinks",
        "moa_url_http",
    }
    assert second["agency_type"] == "municipality" and second["moa_status"] == "pending"
    assert "agency_type_corrected" in second["flags"] and "duplicate_row" not in second["flags"]
    assert "duplicate_row" in third["flags"]
    assert first["agreement_id"] == "UT:harriscountysheriffsoffice:WSO"


def test_pending_rows_have_no_signing_or_moa():
    data = build_workbook(
        PENDING_HEADER,
        [
            [
                "OHIO",
                "Butler County Sheriff's Office",
                "County",
                "Butler County",
                "Jail Enforcement Model",
            ]
        ],
    )
    (row,) = n.normalize(read_workbook(data, "p.xlsx")).to_pylist()
    assert row["list"] == "pending" and row["signed"] is None and row["moa_status"] is None
    assert row["county_fips"] == "39017" and row["model"] == "JEM"


# --- properties -----------------------------------------------------------------------------
_state_names = [k for k in rules.STATE_CODES if len(k) > 2]


def _noisy_case(text: str, flips: list[bool]) -> str:
    return "".join(c.lower() if f else c for c, f in zip(text, flips + [False] * len(text)))


@given(
    st.sampled_from(_state_names),
    st.lists(st.booleans(), max_size=40),
    st.sampled_from(["", " ", "  ", "\xa0"]),
)
def test_property_state_names_in_any_case_and_padding_resolve(name, flips, pad):
    code, flags = n.state_code(pad + _noisy_case(name, flips) + pad)
    assert code == rules.STATE_CODES[name] and flags == ()


@given(st.text(max_size=25))
def test_property_state_is_a_known_code_or_missing_and_flagged(raw):
    code, flags = n.state_code(raw)
    if code is None:
        assert flags and flags[0] in ("state_missing", "state_unknown")
    else:
        assert code in set(rules.STATE_CODES.values())


@given(
    st.sampled_from(sorted(rules.MODELS) + sorted(rules.MODEL_CORRECTIONS)),
    st.lists(st.booleans(), max_size=30),
    st.sampled_from(["", " ", "  "]),
)
def test_property_model_variants_resolve_in_any_case(raw, flips, pad):
    code, _ = n.model_code(_noisy_case(raw, flips) + pad)
    expected = rules.MODELS.get(raw) or rules.MODEL_CORRECTIONS[raw]
    assert code == expected


@given(st.text(max_size=30))
def test_property_model_is_one_of_four_or_missing_and_flagged(raw):
    code, flags = n.model_code(raw)
    assert code in {"JEM", "TFM", "WSO", "TTFM"} or (code is None and flags)


_path = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=20)


@given(
    _path,
    st.sampled_from(["doclib/287gMOA", "doclib/about/offices/ero/287g"]),
    st.sampled_from(["plain", "http", "safelinks", "chrome", "one_slash", "relative"]),
)
def test_property_every_wrapping_of_an_ice_url_gives_the_same_canonical_url(name, folder, wrap):
    from urllib.parse import quote

    canonical = f"https://www.ice.gov/{folder}/{name}.pdf"
    wrapped = {
        "plain": canonical,
        "http": canonical.replace("https://", "http://"),
        "safelinks": "https://gcc02.safelinks.protection.outlook.com/?url="
        + quote(canonical, safe="")
        + "&data=05%7C02",
        "chrome": "chrome-extension://efaidnbmnnnibpcajpcglclefindmkaj/"
        + canonical.replace("https://", "https:/"),
        "one_slash": canonical.replace("https://", "https:/"),
        "relative": f"/{folder}/{name}.pdf",
    }[wrap]
    url, _ = n.canonical_url(wrapped)
    assert url == canonical
    assert n.canonical_url(url) == (canonical, ())  # canonical URLs are fixed points


@given(st.text(max_size=60))
def test_property_canonical_url_is_https_on_a_host_or_none(raw):
    url, flags = n.canonical_url(raw)
    if url is None:
        assert "url_unusable" in flags
    else:
        assert url.startswith("https://") and n.canonical_url(url)[0] == url

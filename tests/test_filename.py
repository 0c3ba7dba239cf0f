"""Publication dates from ICE's file names, ISO names and saved times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.filename import (
    UndatableError,
    parse_ice_name,
    publication_date,
    suffix_rank,
)

SAVED = datetime(2025, 4, 3, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "name, day, suffix",
    [
        ("participatingAgencies04032025pm.xlsx", date(2025, 4, 3), "pm"),
        ("pendingAgencies04032025am.xlsx", date(2025, 4, 3), "am"),
        ("participatingAgencies04032025mid.xlsx", date(2025, 4, 3), "mid"),
        ("participatingAgencies04032025pm2.xlsx", date(2025, 4, 3), "pm2"),
        ("participatingAgencies04032025pmB.xlsx", date(2025, 4, 3), "pmB"),
        ("participatingAgencies04032025pm_b.xlsx", date(2025, 4, 3), "pm_b"),
        ("pendingAgencies04032025.xlsx", date(2025, 4, 3), ""),
        ("287gParticipatingAgencies040325pm.xlsx", date(2025, 4, 3), "pm"),
        ("ParticipatingAgency040325am.xlsx", date(2025, 4, 3), "am"),
        (
            "https://www.ice.gov/doclib/about/offices/ero/287g/participatingAgencies04032025pm.xlsx",
            date(2025, 4, 3),
            "pm",
        ),
    ],
)
def test_ice_names_give_the_date_and_suffix(name, day, suffix):
    pub = publication_date(name, SAVED)
    assert (pub.date, pub.source, pub.suffix) == (day, "ice_name", suffix)


def test_new_stems_with_six_digit_dates():
    pub = publication_date(
        "287gParticipatingAgencies091526pm.xlsx", datetime(2026, 9, 15, 19, tzinfo=UTC)
    )
    assert pub.date == date(2026, 9, 15) and pub.source == "ice_name"
    pub = publication_date("ParticipatingAgency091826am.xlsx", None)
    assert pub.date == date(2026, 9, 18)


@pytest.mark.parametrize(
    "name, flag",
    [
        ("participatingAgencies090022025am.xlsx", "name_date_invalid:090022025"),  # 9 digits
        ("participatingAgencies11114025am.xlsx", "name_date_invalid:11114025"),  # year 4025
        ("pendingAgencies03113025am.xlsx", "name_date_invalid:03113025"),  # year 3025
        ("participatingAgencies13402025am.xlsx", "name_date_invalid:13402025"),  # month 13
    ],
)
def test_impossible_name_dates_fall_back_to_the_saved_time(name, flag):
    saved = datetime(2025, 9, 2, 13, 0, tzinfo=UTC)
    pub = publication_date(name, saved)
    assert pub.date == date(2025, 9, 2) and pub.source == "saved_time"
    assert flag in pub.flags


def test_name_date_far_from_the_saved_time_falls_back():
    # Real case: bytes saved 2025-09-02 served as ...08022025pm (month typed wrong).
    pub = publication_date(
        "participatingAgencies08022025pm.xlsx", datetime(2025, 9, 2, 15, tzinfo=UTC)
    )
    assert pub.date == date(2025, 9, 2) and pub.source == "saved_time"
    assert "name_date_implausible:2025-08-02" in pub.flags


@pytest.mark.parametrize(
    "name, saved, day",
    [
        # Real case: published 2026-01-06, saved that evening of January 5 at ICE.
        ("participatingAgencies01062025pm.xlsx", datetime(2026, 1, 6, 2, tzinfo=UTC), "2026-01-06"),
        ("pendingAgencies010725am.xlsx", datetime(2026, 1, 7, 14, tzinfo=UTC), "2026-01-07"),
        # A year typed one ahead: the month and day still fit.
        ("pendingAgencies12302026am.xlsx", datetime(2025, 12, 30, 14, tzinfo=UTC), "2025-12-30"),
    ],
)
def test_a_name_whose_year_is_off_by_one_keeps_its_month_and_day(name, saved, day):
    pub = publication_date(name, saved)
    assert (pub.date.isoformat(), pub.source, pub.flags) == (day, "ice_name", ("name_year_fixed",))


def test_a_year_off_by_one_is_not_fixed_when_the_month_and_day_do_not_fit():
    pub = publication_date(
        "participatingAgencies03062025pm.xlsx", datetime(2026, 1, 6, 15, tzinfo=UTC)
    )
    assert pub.source == "saved_time" and pub.flags == ("name_date_implausible:2025-03-06",)


def test_re_served_bytes_keep_their_later_name_date():
    pub = publication_date(
        "participatingAgencies08262025pm.xlsx", datetime(2025, 8, 19, 15, tzinfo=UTC)
    )
    assert pub.date == date(2025, 8, 26) and pub.source == "ice_name"


def test_iso_date_in_the_name_wins():
    pub = publication_date("participating_2025-04-03_81aebec4.xlsx", None)
    assert (pub.date, pub.source) == (date(2025, 4, 3), "iso_name")


def test_saved_time_is_read_on_washington_time():
    # Real case: pendingAgencies03113025am.xlsx (year 3025) was saved 2025-03-13 02:57 UTC,
    # the evening of March 12 at ICE.
    pub = publication_date(
        "pendingAgencies03113025am.xlsx", datetime(2025, 3, 13, 2, 57, 35, tzinfo=UTC)
    )
    assert (pub.date, pub.source) == (date(2025, 3, 12), "saved_time")


def test_undated_name_uses_saved_time_then_observed_time_then_fails():
    assert publication_date("participatingAgencies.xlsx", SAVED).source == "saved_time"
    seen = datetime(2025, 2, 21, 9, tzinfo=UTC)
    pub = publication_date("participatingAgencies.xlsx", None, observed_at=seen)
    assert (pub.date, pub.source) == (date(2025, 2, 21), "observed")
    with pytest.raises(UndatableError, match="participatingAgencies.xlsx: cannot date it"):
        publication_date("participatingAgencies.xlsx", None)


def test_suffixes_order_a_day():
    order = ["", "am", "amB", "mid", "pm", "pm_b"]
    assert sorted(order, key=suffix_rank) == order
    assert suffix_rank("pm2") == suffix_rank("pmB") > suffix_rank("pm")


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(["", "am", "pm", "mid", "pm2", "pmB", "_b", "am_b"]),
    st.sampled_from(["participatingAgencies", "pendingAgencies"]),
)
def test_property_eight_digit_names_round_trip(day, suffix, stem):
    name = f"{stem}{day:%m%d%Y}{suffix}.xlsx"
    assert parse_ice_name(name)[:2] == (day, suffix)
    pub = publication_date(name, datetime.combine(day, time(16), UTC))
    assert pub.date == day and pub.source == "ice_name"


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=-400, max_value=400),
)
def test_property_a_believed_name_date_is_never_far_from_the_saved_time(day, offset):
    saved = datetime.combine(day + timedelta(days=offset), time(16), UTC)
    pub = publication_date(f"participatingAgencies{day:%m%d%Y}pm.xlsx", saved)
    if pub.source == "ice_name":
        assert -1 <= (pub.date - saved.date()).days <= 45
    else:
        assert pub.date == saved.date()


@given(st.text(max_size=30))
def test_property_arbitrary_names_never_crash(name):
    try:
        pub = publication_date(name, SAVED)
    except UndatableError:
        return
    assert isinstance(pub.date, date)

"""parsers.workbook on small workbooks built here, one per format quirk of ICE's files."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest
from support.rows import raw_rows
from support.workbooks import (
    PARTICIPATING_HEADER,
    PENDING_HEADER,
    build_workbook,
    participating_row,
)

from parsers.workbook import WorkbookError, read_workbook

MOA = "https://www.ice.gov/doclib/287gMOA/287gTFM_HarrisCoTX_2025-03-01.pdf"


def test_columns_are_mapped_by_name_in_any_order_with_new_and_empty_header_columns():
    header = [
        "SUPPORT TYPE",
        "",
        "NEW COLUMN",
        "state",
        " Law  Enforcement\xa0Agency ",
        "TYPE",
        "MOA",
        "SIGNED",
    ]
    row = [
        "Jail Enforcement Model",
        "",
        "note",
        "FLORIDA",
        "Brevard County Sheriff's Office",
        "County",
        "link",
        datetime(2025, 2, 1),
    ]
    parsed = read_workbook(build_workbook(header, [row], links={(0, "MOA"): MOA}), "x.xlsx")
    assert parsed.list == "participating"
    (r,) = raw_rows(parsed)
    assert r.values["state"] == "FLORIDA"
    assert r.values["agency"] == "Brevard County Sheriff's Office"
    assert r.values["model"] == "Jail Enforcement Model"
    assert r.values["signed"] == date(2025, 2, 1)
    assert r.extra == {"NEW COLUMN": "note"}
    assert r.links == {"moa": MOA}
    assert "unknown_columns" in parsed.flags


def test_data_under_an_empty_header_is_kept_not_dropped():
    header = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", ""]
    parsed = read_workbook(
        build_workbook(header, [["TEXAS", "A", "County", "Task Force Model", "stray"]]), "x.xlsx"
    )
    assert raw_rows(parsed)[0].extra == {"column_E": "stray"}


def test_hyperlink_target_is_kept_for_moa_and_addendum():
    add = "https://www.ice.gov/doclib/287gMOA/addendum.pdf"
    data = build_workbook(
        PARTICIPATING_HEADER,
        [participating_row(addendum="link")],
        links={(0, "MOA"): MOA, (0, "ADDENDUM"): add},
    )
    (r,) = raw_rows(read_workbook(data, "x.xlsx"))
    assert r.values["moa"] == "link"
    assert r.links == {"moa": MOA, "addendum": add}


def test_blank_rows_inside_and_after_the_data_are_skipped():
    blank = [None] * 8
    spaces = ["  ", "", "\xa0", None, " ", None, "", None]
    rows = [participating_row(), blank, spaces, participating_row(agency="B"), blank, blank]
    parsed = read_workbook(build_workbook(PARTICIPATING_HEADER, rows), "x.xlsx")
    assert [r.values["agency"] for r in raw_rows(parsed)] == ["Harris County Sheriff's Office", "B"]
    assert [r.row for r in raw_rows(parsed)] == [2, 5]


def test_rows_hidden_by_a_filter_are_kept_and_marked():
    rows = [participating_row(agency=f"A{i}") for i in range(4)]
    parsed = read_workbook(build_workbook(PARTICIPATING_HEADER, rows, hidden=(1, 2)), "x.xlsx")
    assert len(raw_rows(parsed)) == 4
    assert [r.hidden for r in raw_rows(parsed)] == [False, True, True, False]


def test_excel_error_cells_are_read_as_errors_not_values():
    rows = [participating_row(county="#N/A"), participating_row(county="Harris County")]
    parsed = read_workbook(build_workbook(PARTICIPATING_HEADER, rows), "x.xlsx")
    assert raw_rows(parsed)[0].errors == {"county": "#N/A"}
    assert raw_rows(parsed)[0].values["county"] in ("", None)
    assert raw_rows(parsed)[1].errors == {}


def test_list_is_decided_by_the_columns_not_the_name():
    pending = read_workbook(
        build_workbook(PENDING_HEADER, [["TEXAS", "A", "County", "", "Task Force Model"]]),
        "participatingAgencies09222025am.xlsx",
    )
    assert pending.list == "pending"
    participating = read_workbook(
        build_workbook(PARTICIPATING_HEADER, [participating_row()]),
        "pendingAgencies09222025am.xlsx",
    )
    assert participating.list == "participating"


def test_header_only_sheet_is_a_valid_empty_version_flagged():
    parsed = read_workbook(build_workbook(PENDING_HEADER, [], sheet="Sheet 1"), "x.xlsx")
    assert raw_rows(parsed) == [] and parsed.list == "pending" and parsed.sheet == "Sheet 1"
    assert "header_only" in parsed.flags


def test_header_below_a_title_row_and_on_a_later_sheet_is_found():
    data = build_workbook(
        PENDING_HEADER,
        [["OHIO", "A", "County", "", "Task Force Model"]],
        header_row=3,
        extra_sheets=("Notes",),
    )
    parsed = read_workbook(data, "x.xlsx")
    assert parsed.sheet == "Sheet1" and raw_rows(parsed)[0].row == 4


def test_saved_time_comes_from_docprops():
    parsed = read_workbook(
        build_workbook(PENDING_HEADER, [], saved=datetime(2025, 7, 22, 14, 5)), "x.xlsx"
    )
    assert parsed.saved_at == datetime(2025, 7, 22, 14, 5, tzinfo=UTC)
    assert read_workbook(build_workbook(PENDING_HEADER, [], saved=None), "x.xlsx").saved_at is None


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "empty file"),
        (b"<!DOCTYPE html><html><body>Access Denied</body></html>", "HTML page"),
        (b"%PDF-1.7 not a workbook", "does not start with the zip signature"),
    ],
)
def test_not_a_workbook_names_the_file_and_the_problem(data, problem):
    with pytest.raises(WorkbookError) as err:
        read_workbook(data, "participatingAgencies04032025pm.xlsx")
    assert "participatingAgencies04032025pm.xlsx" in str(err.value)
    assert problem in str(err.value)


def test_truncated_workbook_is_rejected():
    data = build_workbook(PARTICIPATING_HEADER, [participating_row()] * 50)
    with pytest.raises(WorkbookError, match="truncated|corrupt|not a readable"):
        read_workbook(data[: len(data) // 2], "cut.xlsx")


def test_zip_bomb_is_refused_before_it_is_expanded():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))  # ~1000x
    with pytest.raises(WorkbookError, match="expands [0-9]+x; refusing a possible zip bomb"):
        read_workbook(buf.getvalue(), "bomb.xlsx")


def test_zip_that_is_not_a_workbook_is_rejected():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", b"<doc/>")
    with pytest.raises(WorkbookError, match="not an xlsx workbook"):
        read_workbook(buf.getvalue(), "letter.docx")


def test_workbook_without_a_recognizable_header_is_rejected():
    data = build_workbook(["NAME", "CITY"], [["a", "b"]])
    with pytest.raises(WorkbookError, match="no recognizable header"):
        read_workbook(data, "other.xlsx")

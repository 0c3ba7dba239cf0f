"""Everyday use (issue 13): tables that fit the terminal, --columns, --state/--agency,
validated choices, markdown without headings, a light `--help`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from support.workbooks import PARTICIPATING_HEADER, PENDING_HEADER, participating_row
from test_history import write

from ice287g.cli import main
from ice287g.jobs.ingest import ingest_paths
from ice287g.store import Store

BUTLER = [
    "OHIO",
    "Butler County Sheriff's Office",
    "County",
    "Butler County",
    "Warrant Service Officer",
]
LONG_URL = (
    "https://www.ice.gov/doclib/287gMOA/"
    "HarrisCountySheriffsOfficeTX_TFM_MOA_AndAVeryLongTailToTheFileName_03012025.pdf"
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Participating 04-03 (Harris TX with a long MOA URL, two FL agencies) and 04-17 (Tampa
    added); pending 04-04 (Butler OH)."""
    base = tmp_path_factory.mktemp("everyday")
    src = base / "in"
    florida = [
        ("Orange County Sheriff's Office", "County", "Orange County", "Jail Enforcement Model"),
        ("Miami-Dade Police Department", "Municipality", "Miami-Dade County", "Task Force Model"),
        ("Tampa Police Department", "Municipality", "Hillsborough County", "Task Force Model"),
    ]
    rows = [participating_row()] + [
        participating_row(agency=a, state="FLORIDA", typ=t, county=c, model=m)
        for a, t, c, m in florida
    ]
    for name, count in (("04032025pm", 3), ("04172025pm", 4)):
        write(
            src,
            f"participatingAgencies{name}.xlsx",
            PARTICIPATING_HEADER,
            rows[:count],
            links={(0, "MOA"): LONG_URL},
        )
    write(src, "pendingAgencies04042025am.xlsx", PENDING_HEADER, [BUTLER])
    store = Store(base / "data")
    assert all(o.status == "new" for o in ingest_paths(store, [src]))
    return store.root


def run(data, *args, columns=None):
    env = {"COLUMNS": str(columns)} if columns else {}
    return CliRunner().invoke(main, ["--data-dir", str(data), *args], env=env)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_latest_table_fits_the_terminal_width(data, width):
    res = run(data, "latest", columns=width)
    assert res.exit_code == 0, res.output
    table = res.stdout.splitlines()[1:]  # the first line is the version note
    assert table and max(len(line) for line in table) <= width
    wide = run(data, "latest", columns=1000).stdout
    assert LONG_URL in wide  # nothing shortened when there is room
    if width < 120:  # some columns were left out: the last line names them
        assert "more column" in res.stdout and "flags" in table[-1]


def test_urls_lose_their_middle_in_tables_only(data):
    res = run(data, "latest", "--columns", "agency,moa_url", columns=70)
    row = next(line for line in res.stdout.splitlines() if "Harris" in line)
    url = row.split()[-1]
    assert len(row) <= 70 and url.startswith("https://") and url.endswith("_03012025.pdf")
    assert "…" in url and url != LONG_URL
    for fmt in ("csv", "json"):  # a value a user copies is never cut
        out = run(data, "latest", "--format", fmt, columns=40).stdout
        assert LONG_URL in out and "…" not in out


def test_columns_picks_and_orders_and_names_the_valid_ones(data):
    res = run(data, "latest", "--columns", "model,state", "--format", "csv")
    assert res.stdout.splitlines()[0] == "model,state"
    for args in (["snapshots"], ["counts"], ["status"], ["publications"]):
        got = run(data, *args, "--columns", "list", "--format", "csv")
        if args == ["publications"]:  # an empty ledger still has its columns
            assert got.exit_code == 0, got.output
            continue
        assert got.exit_code == 0, got.output
        assert got.stdout.splitlines()[0] == "list", args
    bad = run(data, "latest", "--columns", "state,bogus")
    assert bad.exit_code == 2
    assert "unknown column bogus" in bad.output and "agreement_id" in bad.output
    diff = run(
        data, "diff", "2025-04-03", "2025-04-17", "--columns", "change,agency", "--format", "csv"
    )
    assert diff.exit_code == 0, diff.output
    assert diff.stdout.splitlines() == ["change,agency", "added,Tampa Police Department"]


def test_state_and_agency_filters(data):
    fl = run(data, "latest", "--state", "florida", "--format", "csv", "--columns", "agency")
    assert fl.stdout.splitlines()[1:] == [
        "Orange County Sheriff's Office",
        "Miami-Dade Police Department",
        "Tampa Police Department",
    ]
    one = run(
        data,
        "latest",
        "--agency",
        "miami dade police",
        "--format",
        "csv",
        "--columns",
        "state,agency",
    )
    assert one.stdout.splitlines()[1:] == ["FL,Miami-Dade Police Department"]
    typo = run(data, "latest", "--agency", "Tampa Polise Department", "--format", "csv")
    assert "Tampa Police Department" in typo.stdout and "Harris" not in typo.stdout
    counts = run(
        data,
        "counts",
        "--list",
        "participating",
        "--state",
        "FL",
        "--format",
        "csv",
        "--columns",
        "date,count",
    )
    assert counts.stdout.splitlines()[1:] == ["2025-04-03,2", "2025-04-17,3"]
    by_agency = run(
        data,
        "counts",
        "--list",
        "participating",
        "--agency",
        "tampa",
        "--format",
        "csv",
        "--columns",
        "date,count",
    )
    assert by_agency.stdout.splitlines()[1:] == ["2025-04-03,0", "2025-04-17,1"]
    one = run(data, "agreements", "--agency", "Tampa Polise Department", "--format", "csv")
    assert [line.split(",")[3] for line in one.stdout.splitlines()] == [
        "agency",
        "Tampa Police Department",
    ]
    bad = run(data, "latest", "--state", "Atlantis")
    assert bad.exit_code == 1 and "unknown state 'Atlantis'" in bad.output


@pytest.mark.parametrize(
    "command, filters, text",
    [
        (["latest"], ["--state", "florida", "--agency", "tampa"], "(state FL, agency 'tampa')"),
        (
            ["counts"],
            ["--state", "florida", "--agency", "tampa"],
            "# filter: state FL, agency 'tampa'",
        ),
        (
            ["diff", "2025-04-03", "2025-04-17"],
            ["--change", "added", "--state", "fl"],
            "# filter: change added, state FL",
        ),
        (
            ["agreements"],
            ["--state", "Florida", "--agency", "tampa police", "--status", "active"],
            "# filter: state FL, agency 'tampa police', status active",
        ),
        (
            ["history", "tampa police"],
            ["--state", "FL"],
            "# filter: agency 'tampa police', state FL",
        ),
    ],
)
def test_headers_name_the_filter_applied(data, command, filters, text):
    table = run(data, *command, *filters)
    assert table.exit_code == 0, table.output
    assert any(text in line for line in table.stdout.splitlines() if line.startswith("#"))
    csv = run(data, *command, *filters, "--format", "csv")  # machine formats: header on stderr
    assert csv.exit_code == 0 and text in csv.stderr and text not in csv.stdout
    plain = run(data, *command)
    named = [line for line in plain.stdout.splitlines() if "filter" in line or "state FL" in line]
    searched = ["# filter: agency 'tampa police'"]  # history names its search itself
    assert plain.exit_code == 0 and named == (searched if command[0] == "history" else [])


@pytest.mark.parametrize(
    "args, valid",
    [
        (["publications", "--outcome", "bogus"], "'new version', 'same bytes'"),
        (["counts", "--by", "bogus"], "'model', 'state', 'agency_type'"),
        (["plot", "--by", "bogus"], "'model', 'state'"),
        (["latest", "--list", "bogus"], "'participating', 'pending'"),
        (["moa", "ledger", "--outcome", "bogus"], "'stored', 'already stored'"),
    ],
)
def test_choices_are_validated_with_the_valid_values(data, args, valid):
    res = run(data, *args)
    assert res.exit_code == 2 and "(no rows)" not in res.output
    assert valid in res.output, res.output


def test_markdown_output_has_no_heading_lines(data, tmp_path):
    out = tmp_path / "diff.md"
    res = run(data, "diff", "2025-04-03", "2025-04-17", "--format", "markdown", "-o", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert not [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert "1 added, 0 removed" in text.split("\n\n")[0]  # the header is a paragraph
    assert "**added (1)**" in text  # each kind of change titled in bold, no heading


def test_help_does_not_load_pandas_or_prefect():
    code = (
        "import sys; from ice287g.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'prefect', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


class Terminal:
    """A stderr that says it is a terminal, and keeps what was written."""

    def __init__(self, tty=True):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_long_work_shows_a_status_line_then_its_time_on_a_terminal_only():
    import time

    from ice287g.progress import CLEAR, timed

    term = Terminal()
    with timed("history", threshold=0.1, delay=0.02, stream=term):
        time.sleep(0.3)
    assert term.text.startswith("history …" + CLEAR) and term.text.endswith(" s\n")
    assert 0.3 <= float(term.text.split("history: ")[1].split(" s")[0]) < 5
    quick = Terminal()
    with timed("counts", threshold=0.5, delay=0.2, stream=quick):
        pass
    assert quick.text == ""  # fast work: nothing shown
    piped = Terminal(tty=False)
    with timed("export", threshold=0, delay=0, stream=piped):
        time.sleep(0.05)
    assert piped.text == ""


def test_the_api_returns_pandas_dtypes(data):
    import pandas as pd

    import ice287g

    c = ice287g.counts("participating", by=["model"], data_dir=data)
    assert str(c["date"].dtype).startswith("datetime64")
    assert isinstance(c["model"].dtype, pd.CategoricalDtype) and c["count"].dtype == "Int64"
    assert c.set_index("date")["count"].resample("MS").sum().tolist() == [7]  # no to_datetime
    df = ice287g.latest(data_dir=data, state="FL")
    assert str(df["signed"].dtype).startswith("datetime64")
    assert isinstance(df["state"].dtype, pd.CategoricalDtype) and set(df["state"]) == {"FL"}
    assert isinstance(ice287g.snapshots(data_dir=data)["list"].dtype, pd.CategoricalDtype)
    assert ice287g.snapshots(data_dir=data)["rows"].dtype == "Int64"
    a = ice287g.agreements(data_dir=data)
    assert a["days_waited"].dtype == "Int64" and str(a["first_listed"].dtype).startswith("datetime")


@pytest.mark.corpus
def test_the_api_docstrings_show_real_calls_on_the_corpus(corpus_scratch, monkeypatch):
    """The examples in ice287g.query.api's docstrings, run against the whole 2025 corpus."""
    import doctest

    from ice287g.query import api

    monkeypatch.setenv("ICE287G_DATA_DIR", str(corpus_scratch))
    result = doctest.testmod(api, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0

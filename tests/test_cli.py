"""The ice287g command: formats, -o, exit codes, help, and no Prefect in the fast commands."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from click.testing import CliRunner
from support.imports import heavy_imports
from support.workbooks import (
    PARTICIPATING_HEADER,
    PENDING_HEADER,
    build_workbook,
    participating_row,
)

from ice287g.cli import main


def write_folder(d):
    """Two small workbooks as ICE names them: 3 participating rows, 1 pending."""
    d.mkdir()
    models = ["Jail Enforcement Model", "Task Force Model", "Task Force Model"]
    rows = [participating_row(model=m, agency=f"Agency {i}") for i, m in enumerate(models)]
    (d / "participatingAgencies04032025pm.xlsx").write_bytes(
        build_workbook(PARTICIPATING_HEADER, rows, saved=datetime(2025, 4, 3, 18))
    )
    (d / "pendingAgencies04042025am.xlsx").write_bytes(
        build_workbook(
            PENDING_HEADER,
            [
                [
                    "OHIO",
                    "Butler County Sheriff's Office",
                    "County",
                    "Butler County",
                    "Warrant Service Officer",
                ]
            ],
            saved=datetime(2025, 4, 4, 9),
        )
    )
    return d


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "in")


def run(*args, data_dir):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_backfill_prints_one_line_per_file_and_exits_nonzero_on_failure(folder, tmp_path):
    (folder / "zz_blocked.xlsx").write_bytes(b"<html>Access Denied</html>")
    data = tmp_path / "data"
    result = run("backfill", str(folder), data_dir=data)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("new") and "participating 2025-04-03 rows=3" in lines[0]
    assert lines[2].startswith("failed  zz_blocked.xlsx:") and "HTML" in lines[2]
    assert result.exit_code == 1
    again = run("backfill", str(folder / "pendingAgencies04042025am.xlsx"), data_dir=data)
    assert again.exit_code == 0 and again.stdout.startswith("stored")


def test_read_commands_share_formats(folder, tmp_path):
    data = tmp_path / "data"
    run("backfill", str(folder), data_dir=data)
    snaps = json.loads(run("snapshots", "--format", "json", data_dir=data).stdout)
    assert {(s["list"], s["date"], s["rows"]) for s in snaps} == {
        ("participating", "2025-04-03", 3),
        ("pending", "2025-04-04", 1),
    }
    assert all(len(s["sha256"]) == 64 for s in snaps)

    rows = json.loads(run("latest", "--format", "json", data_dir=data).stdout)
    assert len(rows) == 3
    for key in (
        "state",
        "agency",
        "agency_type",
        "county",
        "model",
        "signed",
        "moa_url",
        "moa_status",
        "agency_id",
        "agreement_id",
    ):
        assert key in rows[0]
    assert all(not isinstance(v, (dict, list)) for r in rows for v in r.values())  # flat
    assert rows[0]["signed"] == "2025-03-01" and rows[0]["state"] == "TX"

    csv_out = run("counts", "--by", "model", "--format", "csv", data_dir=data).stdout
    lines = csv_out.strip().splitlines()
    assert lines[0] == "date,list,sha256,model,count"
    assert any(
        line.endswith(",participating,") is False and line.endswith("TFM,2") for line in lines[1:]
    )

    table = run("latest", "--list", "pending", data_dir=data).stdout
    assert table.startswith("# pending version 2025-04-04") and "Butler County" in table


def test_output_file_and_parquet(folder, tmp_path):
    data = tmp_path / "data"
    run("backfill", str(folder), data_dir=data)
    out = tmp_path / "latest.parquet"
    result = run("latest", "--format", "parquet", "-o", str(out), data_dir=data)
    assert result.exit_code == 0
    assert len(pd.read_parquet(out)) == 3
    csv_path = tmp_path / "c.csv"
    run("counts", "--as-of", "2025-04-04", "--format", "csv", "-o", str(csv_path), data_dir=data)
    counts = pd.read_csv(csv_path)
    assert dict(zip(counts["list"], counts["count"])) == {"participating": 3, "pending": 1}


def test_counts_as_of_a_date_before_any_version_and_bad_dates(folder, tmp_path):
    data = tmp_path / "data"
    run("backfill", str(folder), data_dir=data)
    early = run("counts", "--as-of", "2025-04-03", "--format", "json", data_dir=data)
    assert [r["list"] for r in json.loads(early.stdout)] == ["participating"]
    bad = CliRunner().invoke(main, ["--data-dir", str(data), "latest", "--as-of", "April"])
    assert bad.exit_code != 0 and "not a date" in bad.output
    none = CliRunner().invoke(main, ["--data-dir", str(data), "latest", "--as-of", "2024-01-01"])
    assert none.exit_code != 0 and "no participating version" in none.output


def test_data_dir_from_the_environment(folder, tmp_path):
    data = tmp_path / "envdata"
    result = CliRunner(env={"ICE287G_DATA_DIR": str(data)}).invoke(main, ["backfill", str(folder)])
    assert result.exit_code == 0 and (data / "catalog.parquet").exists()


def test_every_command_and_option_has_help():
    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path, cmd in walk(main, []):
        if path:
            assert cmd.help, f"command {' '.join(path)} has no help"
        for param in cmd.params:
            if param.param_type_name == "option" and param.name not in ("help", "version"):
                assert param.help, f"option {param.name} of {' '.join(path)} has no help"


FAST_COMMANDS = [["latest"], ["counts", "--by", "model"], ["snapshots"]]


@pytest.fixture(scope="module")
def fast_command_imports(tmp_path_factory):
    """The fast commands run in one fresh interpreter over a backfilled store."""
    base = tmp_path_factory.mktemp("fast-commands")
    data = base / "data"
    run("backfill", str(write_folder(base / "in")), data_dir=data)
    return dict(zip(map(tuple, FAST_COMMANDS), heavy_imports(data, FAST_COMMANDS)))


@pytest.mark.parametrize("command", FAST_COMMANDS)
def test_fast_commands_do_not_import_prefect(fast_command_imports, command):
    result = fast_command_imports[tuple(command)]
    assert result.exit_code == 0
    assert result.imported == [], f"{command} imported {result.imported}"

"""Charts (PNG/SVG/HTML) and the export with its datapackage.json."""

from __future__ import annotations

import csv
import hashlib
import json
import struct
from datetime import date

import pytest
from click.testing import CliRunner
from support.workbooks import PARTICIPATING_HEADER, PENDING_HEADER
from test_history import URL, part, write

from ice287g.cli import main
from ice287g.jobs.ingest import ingest_paths
from ice287g.query import QueryError
from ice287g.query.export import export
from ice287g.query.plot import _label, figure, plot, series
from ice287g.schema import SNAPSHOT_FIELDS
from ice287g.store import Store

TYPES = {"string", "integer", "number", "boolean", "date", "datetime", "any"}
WSO_GREEN = (0x4A, 0x9C, 0x5D)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("plot-export")
    src = base / "in"
    write(
        src,
        "participatingAgencies04032025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            part("Harris County Sheriff's Office", "TEXAS", "Task Force Model"),
            part("Alpha Police Department"),
            part("Beta Police Department"),
        ],
        links={(0, "MOA"): URL.format("harris")},
    )
    write(
        src,
        "participatingAgencies04172025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            part("Harris County Sheriff's Office", "TEXAS", "Task Force Model", date(2025, 3, 2)),
            part("Alpha Police Department"),
            part("Beta Police Department"),
            part("Gamma Police Department", model="Task Force Model"),
        ],
    )
    write(
        src,
        "pendingAgencies04052025am.xlsx",
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
    )
    write(src, "pendingAgencies04092025am.xlsx", PENDING_HEADER, [])
    store = Store(base / "data")
    assert all(o.status == "new" for o in ingest_paths(store, [src]))
    return store


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_renders_to_a_real_png(store, tmp_path):
    from matplotlib.image import imread

    path = plot(tmp_path / "chart.png", data_dir=store)
    data = path.read_bytes()
    assert png_size(data) == (1500, 900)  # 10 x 6 inches at 150 dpi
    assert 20_000 < len(data) < 2_000_000
    pixels = (imread(path)[:, :, :3] * 255).round().astype(int)
    wso = ((abs(pixels - WSO_GREEN).sum(axis=2)) <= 3).sum()
    assert wso > 10_000  # the WSO band (2 of the 4 agreements) is drawn, not just axes


def test_svg_and_html_carry_title_legend_and_source(store, tmp_path):
    svg = plot(tmp_path / "chart.svg", data_dir=store).read_text()
    caption = (
        "Source: ICE 287(g) participating agencies workbooks, versions 2025-04-03 to "
        "2025-04-17 (2 versions, one per day; suspect versions skipped); ice287g"
    )
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in (
        "ICE 287(g) agreements, by support model",
        "Warrant Service Officer (WSO)",
        "Task Force Model (TFM)",
        caption,
    ):
        assert text in svg
    page = plot(tmp_path / "chart.html", data_dir=store).read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 1
    assert f"<figcaption>{caption}</figcaption>" in page.replace("&#x27;", "'")
    states = plot(tmp_path / "states.svg", by="state", top=1, data_dir=store).read_text()
    assert "Florida" in states and "Other" in states and "by state (top 1 and others)" in states
    pending = plot(tmp_path / "pending.svg", list="pending", data_dir=store).read_text()
    assert "pending agencies workbooks, versions 2025-04-05 to 2025-04-05" in pending


def test_plot_refuses_unknown_outputs_and_the_command_writes_a_default_file(
    store, tmp_path, monkeypatch
):
    with pytest.raises(QueryError, match=r"\.png, \.svg or \.html"):
        plot(tmp_path / "chart.pdf", data_dir=store)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["--data-dir", str(store.root), "plot", "--by", "state"])
    assert res.exit_code == 0, res.output
    assert png_size((tmp_path / "ice287g-participating-by-state.png").read_bytes())[0] == 1500


STATE_NAMES = [
    "FLORIDA",
    "TEXAS",
    "GEORGIA",
    "ALABAMA",
    "OHIO",
    "IOWA",
    "UTAH",
    "IDAHO",
    "MAINE",
    "NEVADA",
    "OREGON",
    "KANSAS",
    "MONTANA",
    "ALASKA",
]


@pytest.fixture(scope="module")
def many_states(tmp_path_factory):
    """Eight monthly participating versions (February to September) over 14 states."""
    base = tmp_path_factory.mktemp("many-states")
    for month in range(2, 10):
        rows = [
            part(f"Agency {k} Police Department", STATE_NAMES[k % 14]) for k in range(month * 4)
        ]
        write(
            base / "in",
            f"participatingAgencies{month:02d}032025pm.xlsx",
            PARTICIPATING_HEADER,
            rows,
        )
    store = Store(base / "data")
    assert all(o.status == "new" for o in ingest_paths(store, [base / "in"]))
    return store


def drawn(wide, **kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure(wide, **kwargs)
    FigureCanvasAgg(fig).draw()
    return fig, fig.canvas.get_renderer()


def assert_apart(boxes):
    """Bounding boxes (left to right) that neither touch nor overlap."""
    boxes = sorted(boxes, key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]


@pytest.mark.parametrize("top", [1, 5, 13, 14, 40])
def test_every_series_is_in_a_legend_beside_the_plot(many_states, top):
    wide = series("participating", "state", top, many_states)
    fig, renderer = drawn(wide, by="state")
    (legend,) = fig.legends
    entries = [t.get_text() for t in legend.get_texts()]
    assert len(entries) == len(wide.columns) == min(top, 14) + (top < 14)
    assert ("Other" in entries) == (top < 14)
    if top >= 14:
        assert {"Florida", "Montana", "Alaska"} <= set(entries)
    assert entries == [_label(c, "state") for c in reversed(wide.columns)]  # as stacked
    axes, box = fig.axes[0].get_window_extent(renderer), legend.get_window_extent(renderer)
    assert box.x0 >= axes.x1  # beside the plot area, not over it
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 + 1 and box.y0 >= fig.bbox.y0


@pytest.mark.parametrize("span", ["weeks", "months"])
def test_date_labels_never_collide_and_the_total_is_clear_of_the_data(store, many_states, span):
    from matplotlib.text import Text

    data = store if span == "weeks" else many_states
    wide = series("participating", "model", 8, data)
    fig, renderer = drawn(wide)
    ax = fig.axes[0]
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 2
    assert_apart([t.get_window_extent(renderer) for t in labels])
    if span == "months":
        assert {"Mar", "Sep"} <= {t.get_text() for t in labels} or len(labels) >= 3
    total = f"{int(wide.sum(axis=1).iloc[-1]):,} on "
    (text,) = [
        t for t in ax.get_children() if isinstance(t, Text) and t.get_text().startswith(total)
    ]
    assert text.get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1


def columns_of(path, fmt) -> list[str]:
    if fmt == "csv":
        with open(path, newline="") as fh:
            return next(csv.reader(fh))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path).names
    from openpyxl import load_workbook

    ws = load_workbook(path, read_only=True)[path.stem]  # one sheet, named after the table
    return list(next(ws.iter_rows(values_only=True)))


def check_package(out, fmt) -> dict:
    package = json.loads((out / "datapackage.json").read_text())
    assert package["profile"] == "tabular-data-package"
    paths = [r["path"] for r in package["resources"]]
    on_disk = sorted(p.name for p in out.iterdir() if p.name != "datapackage.json")
    assert sorted(paths) == on_disk  # every file described, nothing described that is absent
    for res in package["resources"]:
        path = out / res["path"]
        assert res["format"] == fmt and res["profile"] == "tabular-data-resource"
        if fmt == "parquet":  # frictionless cannot count a Parquet file's bytes: hash only
            assert "bytes" not in res
        else:
            assert res["bytes"] == path.stat().st_size
        assert res["hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        names = [f["name"] for f in res["schema"]["fields"]]
        assert names == columns_of(path, fmt), res["path"]
        for field in res["schema"]["fields"]:
            assert field["type"] in TYPES and field["description"].strip(), field
    return package


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_export_writes_every_table_and_describes_every_column(store, tmp_path, fmt):
    out = tmp_path / "out"
    written = export(out, fmt, data_dir=store)
    package = check_package(out, fmt)
    assert {p.name for p in written} == {
        f"{n}.{fmt}"
        for n in (
            "participating_latest",
            "pending_latest",
            "versions",
            "agreements",
            "agreement_events",
            "daily_counts",
            "daily_counts_by_model",
        )
    } | {"datapackage.json"}
    fields = {
        r["name"]: {f["name"]: f for f in r["schema"]["fields"]} for r in package["resources"]
    }
    snapshot = {n: d for n, _, d in SNAPSHOT_FIELDS}
    for name, field in fields["participating-latest"].items():
        assert field["description"] == snapshot[name]
    assert fields["versions"]["signed"]["type"] == "date"
    assert fields["versions"]["flags"]["type"] == ("any" if fmt == "parquet" else "string")
    assert fields["agreements"]["days_waited"]["type"] == "integer"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_frictionless_accepts_the_package_in_every_format(store, tmp_path, fmt):
    from frictionless import validate

    out = tmp_path / "out"
    export(out, fmt, data_dir=store)
    report = validate(out / "datapackage.json")
    problems = [(t.name, e.type, e.note) for t in report.tasks for e in t.errors]
    assert report.valid, problems[:10]
    assert len(report.tasks) == 7 and all(t.stats["rows"] is not None for t in report.tasks)
    package = json.loads((out / "datapackage.json").read_text())
    assert package["licenses"][0]["name"] == "other-pd"
    assert "public domain" in package["licenses"][0]["title"]


def test_xlsx_cells_are_typed_under_a_frozen_header(store, tmp_path):
    from datetime import datetime

    from openpyxl import load_workbook

    out = tmp_path / "out"
    export(out, "xlsx", data_dir=store)
    ws = load_workbook(out / "versions.xlsx")["versions"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in ws.iter_rows(min_row=2)]
    harris = next(r for r in rows if r["agency"] == "Harris County Sheriff's Office")
    assert harris["date"] == datetime(2025, 4, 3) and harris["seq"] == 1
    assert harris["suspect"] is False and harris["row"] == 2
    assert harris["signed"] == datetime(2025, 3, 1)
    assert harris["moa_url"] == URL.format("harris")
    date_cell = next(ws.iter_rows(min_row=2, max_row=2))[header.index("date")]
    assert date_cell.number_format == "yyyy-mm-dd"
    assert len(rows) == 8 and ws.max_row == 9
    # Cell for cell the store's table: every value in its column, missing ones empty (cells
    # carry no reference, so a missing value must not shift the ones after it).
    from datetime import date

    from ice287g.query.export import flat_lists, versions_table

    expected = flat_lists(versions_table(store)).to_pylist()
    assert header == list(expected[0])
    as_read = [
        {k: datetime(*v.timetuple()[:3]) if isinstance(v, date) else v for k, v in r.items()}
        for r in expected
    ]
    assert rows == as_read
    assert any(v is None for r in rows for v in list(r.values())[:-1])  # a gap before the end


def test_exported_tables_hold_the_store(store, tmp_path):
    import pandas as pd

    out = tmp_path / "out"
    export(out, "csv", data_dir=store)
    versions = pd.read_csv(out / "versions.csv")
    assert len(versions) == 3 + 4 + 1  # rows of the four versions (the empty one adds none)
    assert set(zip(versions["list"], versions["date"])) == {
        ("participating", "2025-04-03"),
        ("participating", "2025-04-17"),
        ("pending", "2025-04-05"),
    }
    latest = pd.read_csv(out / "pending_latest.csv")  # the empty 04-09 list is suspect
    assert list(latest["agency"]) == ["Butler County Sheriff's Office"]
    agreements = pd.read_csv(out / "agreements.csv")
    assert sorted(agreements["status"]) == ["active"] * 4
    daily = pd.read_csv(out / "daily_counts.csv")
    assert list(zip(daily["date"], daily["list"], daily["count"])) == [
        ("2025-04-03", "participating", 3),
        ("2025-04-05", "pending", 1),
        ("2025-04-17", "participating", 4),
    ]
    res = CliRunner().invoke(
        main,
        ["--data-dir", str(store.root), "export", str(tmp_path / "cli"), "--format", "parquet"],
    )
    assert res.exit_code == 0 and res.stdout.strip().endswith("datapackage.json")


@pytest.mark.corpus
def test_export_of_the_real_corpus(corpus_scratch, tmp_path, expected_counts):
    import pyarrow.parquet as pq

    data = corpus_scratch  # the export caches the history tables in the store
    out = tmp_path / "out"
    export(out, "parquet", data_dir=data)
    check_package(out, "parquet")
    versions = pq.read_table(out / "versions.parquet", columns=["list", "sha256"])
    # Row total counted independently of our parser (expected_counts.csv).
    assert versions.num_rows == sum(int(r["n_rows"]) for r in expected_counts.values())
    assert pq.read_table(out / "participating_latest.parquet").num_rows == 1274

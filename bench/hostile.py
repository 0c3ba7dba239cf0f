"""`make bench` phase: peak memory of hostile workbooks (registered in bench/run.py).

Each parse runs in a fresh interpreter (``measure``), so its peak memory is its own. The
hyperlink-range file is 20 data rows whose 200 hyperlinks each claim ``G<n>:G99999``; before
ranges were bounded by the data rows it took about 2 GB (8 GB and MemoryError with more
links). A plain workbook of the same rows is the baseline.
"""

from __future__ import annotations

from pathlib import Path

from bench.run import line, measure

PARSE = (
    "from pathlib import Path\nfrom parsers.workbook import read_workbook\n"
    "data = Path({path!r}).read_bytes()\n"
    "extra = len(read_workbook(data, 'participatingAgencies04032025pm.xlsx'))"
)


def bench_hostile(store_dir: Path) -> None:
    from tests.support import hostile

    folder = store_dir.parent / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "plain, 20 rows (baseline)": hostile.workbook([hostile.row(i) for i in range(20)]),
        "link ranges: 200 x G<n>:G99999": hostile.hyperlink_ranges(),
    }
    print("hostile workbooks: parse in a fresh process")
    for label, data in files.items():
        path = folder / (label.split(":")[0].replace(" ", "_") + ".xlsx")
        path.write_bytes(data)
        run = measure(PARSE.format(path=str(path)))
        line(
            f"{label} ({len(data) / 1024:.1f} KB)",
            f"{run['peak_mb']:.0f} MB",
            f"{run['extra']} rows in {run['seconds']:.2f} s; target: near the baseline",
        )


PHASES = [("hostile", bench_hostile)]

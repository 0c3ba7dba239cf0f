"""`make bench` phase of `ice287g export` on the full store (printed, never asserted).

- `export --format csv`, for information;
- `export --format xlsx` against the writer it replaced (``bench/xlsx_before.py``: openpyxl,
  one cell at a time), the whole command each time (interpreter start, reading every version,
  the history, the counts, every table and ``datapackage.json``), in alternating runs: wall
  time and CPU time (user + system, which others' load on the machine barely moves), the load
  average beside them. Target: the whole command at least 10x faster (issue 13: 271 s).

``BENCH_EXPORT_BASELINE_RUNS`` sets the baseline runs (default 1: it takes over a minute).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import REPO, command_seconds, line

_BASELINE = "import bench.xlsx_before as b; b.install()\n"
_CLI = "from ice287g.cli import main\nmain({argv!r})\n"


def _run(argv: list[str], baseline: bool) -> tuple[float, float]:
    """(wall, cpu) seconds of one `ice287g ARGV` in a fresh interpreter."""
    code = (_BASELINE if baseline else "") + _CLI.format(argv=argv)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_export(store_dir: Path) -> None:
    print("export on the full store (the whole command, interpreter start included)")
    out = Path(tempfile.mkdtemp(prefix="ice287g-bench-export-"))
    base = ["--data-dir", str(store_dir), "export"]
    try:
        seconds = command_seconds([*base, str(out / "csv")], runs=1)
        line("ice287g export DIR (csv)", f"{seconds:.2f} s")
        xlsx = [*base, str(out / "xlsx"), "--format", "xlsx"]
        runs = int(os.environ.get("BENCH_EXPORT_BASELINE_RUNS", "1"))
        new, old = [], []
        new.append(_run(xlsx, baseline=False))
        for _ in range(runs):
            old.append(_run(xlsx, baseline=True))
            new.append(_run(xlsx, baseline=False))
        size = (out / "xlsx" / "versions.xlsx").stat().st_size / 1e6
        best_new = min(new)
        best_old = min(old)
        for label, (wall, cpu) in (
            ("ice287g export DIR --format xlsx", best_new),
            ("  before (openpyxl, bench/xlsx_before.py)", best_old),
        ):
            line(label, f"{wall:.2f} s", f"cpu {cpu:.2f} s")
        line("  all runs, new (wall s)", " ".join(f"{w:.1f}" for w, _ in new))
        line("  all runs, before (wall s)", " ".join(f"{w:.1f}" for w, _ in old))
        line(
            "  speed-up (before / new)",
            f"{best_old[0] / best_new[0]:.1f}x",
            f"cpu {best_old[1] / best_new[1]:.1f}x; target >= 10x; {_load()}",
        )
        line("  versions.xlsx", f"{size:.1f} MB")
    finally:
        shutil.rmtree(out, ignore_errors=True)


PHASES = [("export", bench_export)]

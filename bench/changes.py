"""`make bench` phases of the change-over-time commands (printed, never asserted).

Run after the backfill phase, on the full corpus store:

- rebuilding the agreement history from every version, in a fresh interpreter (target < 5 s);
- `ice287g diff` of the first and last 2025 participating versions and `ice287g history` of
  one agency, as commands with interpreter start (target < 1 s each, history from its cache);
- for information: `agreements`, `counties --unresolved` and `plot` (export: bench/export.py).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.run import command_seconds, line, measure

HISTORY_AGENCY = ["history", "taylor county sheriff", "--state", "FL"]


def _first_last(store_dir: Path) -> tuple[str, str]:
    from ice287g.query.versions import snapshots

    df = snapshots("participating", store_dir, include_suspect=False)
    return str(df["date"].iloc[0]), str(df["date"].iloc[-1])


def bench_changes(store_dir: Path) -> None:
    print("changes over time on the full store")
    rebuild = measure(
        "from ice287g.query.identity import load\n"
        f"i = load({str(store_dir)!r}, refresh=True)\n"
        "extra = [len(i.agreements()), len(i.events())]"
    )
    agreements_n, events_n = rebuild["extra"]
    line(
        "identity (history) rebuilt from all versions",
        f"{rebuild['seconds']:.2f} s",
        "target < 5 s",
    )
    line("  agreements / events", f"{agreements_n} / {events_n}")
    line("  peak memory", f"{rebuild['peak_mb']:.0f} MB")
    first, last = _first_last(store_dir)
    base = ["--data-dir", str(store_dir)]
    seconds = command_seconds([*base, "diff", first, last])
    line(f"ice287g diff {first} {last}", f"{seconds:.2f} s", "target < 1 s")
    seconds = command_seconds([*base, *HISTORY_AGENCY])
    line("ice287g " + " ".join(HISTORY_AGENCY), f"{seconds:.2f} s", "target < 1 s")
    for args in (
        ["agreements", "--format", "csv"],
        ["terminations", "--since", "2025-06-01"],
        ["aliases", "Boca Raton PD"],
        ["identity"],
        ["counties", "--unresolved"],
    ):
        seconds = command_seconds([*base, *args])
        line("ice287g " + " ".join(args), f"{seconds:.2f} s")
    out = Path(tempfile.mkdtemp(prefix="ice287g-bench-changes-"))
    try:
        seconds = command_seconds([*base, "plot", "-o", str(out / "chart.png")], runs=1)
        line("ice287g plot -o chart.png", f"{seconds:.2f} s")
    finally:
        shutil.rmtree(out, ignore_errors=True)


PHASES = [("changes", bench_changes)]

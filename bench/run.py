"""`make bench`: speed and memory figures, printed (never asserted in tests).

Each measurement runs in a fresh subprocess so that its wall time and peak memory are its
own. Figures:

- backfill of the whole shared corpus into a fresh store (hyperlinks, normalization, Parquet)
  vs plain ``pandas.read_excel(engine="openpyxl")`` over the same files: the ratio's target
  is <= 0.25, peak memory < 500 MB;
- the fast read commands on the full store, including interpreter start (target < 1 s);
- the other stages register their own phases below (hostile: peak memory of the
  hyperlink-range workbook; growth: every read and a refresh at one and at ten years).

``python -m bench PHASE...`` runs only the named phases (``python -m bench growth``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ICE287G_SHARED", REPO.parent / "shared"))
CORPUS_FILES = SHARED / "ice-corpus" / "files"
MOA_FILES = SHARED / "moa-samples" / "files"

_MEASURE = """
import json, resource, sys, time
t0 = time.perf_counter()
{body}
seconds = time.perf_counter() - t0
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak, "extra": locals().get("extra")}}))
"""


def measure(body: str, env: dict | None = None) -> dict:
    """Run `body` in a fresh interpreter; its own wall time and peak RSS (self + children)."""
    code = _MEASURE.format(body=body)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def command_seconds(args: list[str], runs: int = 3) -> float:
    """Best wall time of `ice287g ARGS`, interpreter start included."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ice287g", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )
        best = min(best, time.perf_counter() - t0)
    return best


def line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<44} {value:>14}  {target}")


def bench_backfill(store_dir: Path) -> None:
    files = sorted(CORPUS_FILES.glob("*.xlsx"))
    print(f"backfill: {len(files)} workbooks from {CORPUS_FILES}")
    ours = measure(
        "from ice287g.store import Store\nfrom ice287g.jobs.ingest import ingest_paths\n"
        f"out = ingest_paths(Store({str(store_dir)!r}), [{str(CORPUS_FILES)!r}])\n"
        "extra = sum(o.status == 'new' for o in out)"
    )
    base = measure(
        "import glob, pandas as pd\n"
        f"for f in sorted(glob.glob({str(CORPUS_FILES / '*.xlsx')!r})):\n"
        "    pd.read_excel(f, engine='openpyxl')\n"
    )
    ratio = ours["seconds"] / base["seconds"]
    line("ice287g backfill (new versions)", f"{ours['extra']}")
    line("ice287g backfill wall time", f"{ours['seconds']:.2f} s")
    line("ice287g backfill peak memory", f"{ours['peak_mb']:.0f} MB", "target < 500 MB")
    line("baseline pandas.read_excel (openpyxl)", f"{base['seconds']:.2f} s")
    line("baseline peak memory", f"{base['peak_mb']:.0f} MB")
    line("ratio backfill / baseline", f"{ratio:.3f}", "target <= 0.25")
    again = measure(
        "from ice287g.store import Store\nfrom ice287g.jobs.ingest import ingest_paths\n"
        f"out = ingest_paths(Store({str(store_dir)!r}), [{str(CORPUS_FILES)!r}])\n"
        "extra = sum(o.status == 'new' for o in out)"
    )
    line("re-run on the same files (new versions)", f"{again['extra']}", "target 0")
    line("re-run wall time", f"{again['seconds']:.2f} s")


FAST_COMMANDS = [
    ["latest"],
    ["latest", "--as-of", "2025-04-04", "--format", "json"],
    ["counts", "--by", "model"],
    ["counts", "--by", "state", "--all-versions"],
    ["snapshots"],
]


def bench_fast_commands(store_dir: Path) -> None:
    print("fast commands on the full store (best of 3, interpreter start included)")
    line("ice287g --help", f"{command_seconds(['--help']):.2f} s", "target < 0.5 s")
    for args in FAST_COMMANDS:
        seconds = command_seconds(["--data-dir", str(store_dir), *args])
        line("ice287g " + " ".join(args), f"{seconds:.2f} s", "target < 1 s")


def phases() -> list:
    """Every phase, in order (listed by name: a broken phase fails loudly)."""
    from bench import changes, export, growth, hostile, identity, live, moa, publish

    return [
        ("backfill", bench_backfill),
        ("fast", bench_fast_commands),
        *changes.PHASES,
        *export.PHASES,
        *live.PHASES,
        *moa.PHASES,
        *identity.PHASES,
        *publish.PHASES,
        *hostile.PHASES,
        *growth.PHASES,
    ]


def main(names: list[str] | None = None) -> None:
    """Every phase, or only the named ones (``python -m bench growth``). A phase that reads
    the corpus store needs ``backfill`` before it; ``growth`` builds its own stores."""
    if not CORPUS_FILES.is_dir():
        sys.exit(f"bench needs the shared corpus at {CORPUS_FILES}")
    chosen = phases()
    if names:
        unknown = set(names) - {name for name, _ in chosen}
        if unknown:
            sys.exit(
                f"unknown bench phase {', '.join(sorted(unknown))}; phases: "
                + ", ".join(name for name, _ in chosen)
            )
        chosen = [(name, phase) for name, phase in chosen if name in names]
    print(f"ice287g bench on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    workdir = Path(tempfile.mkdtemp(prefix="ice287g-bench-"))
    try:
        store_dir = workdir / "data"
        for _, phase in chosen:
            phase(store_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

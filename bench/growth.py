"""`make bench` growth phase (issue 14): every read and the nightly refresh at one year of
history and at ten (printed, never asserted).

The decade is synthetic (:mod:`bench.decade`): the shared 2025 corpus, then the same
workbooks shifted forward a year at a time with distinct bytes. Two stores are built through
the public backfill (``ice287g backfill DIR``, one year per call, each call timed): one year
(the corpus, 352 versions) and ten years (2025 to 2034, 3,520 versions). They are kept in the
bench cache (``.bench-cache/``, or ``$ICE287G_BENCH_CACHE``) and reused while the corpus, the
generator and the product code (every ``.py`` under ``ice287g/`` and ``parsers/``) are the
same; ``ICE287G_BENCH_FRESH=1`` builds them again. Each measurement works on a copy, so the
cached stores stay as the backfill left them.

Measured, on each store, as the user runs it (the CLI in a subprocess, interpreter start
included): each read command once to warm what it caches, then the best of 3, the two sizes
alternating. Then one refresh: the next publication of each list in the synthetic record (the
first participating and the first pending workbook of the next shifted year, under ICE-style
dated names) served by the tests' replay server on 127.0.0.1 and taken in by the plain
``ice287g.jobs.refresh.refresh`` (no Prefect); its figure is the call itself (download,
ingest, whatever derived state it updates, the report), in a fresh interpreter, best of
5 (the one-year refresh is the noisiest figure of the table: a second on a quiet machine,
up to 1.8 s in a busy moment), each on a new copy of the store as the warm reads left it
(derived state included), the two sizes alternating. Last, the first run of each read after
each refresh, in the table's order (the first of them pays for whatever derived state the
refresh left stale), best of the 5.

``python -m bench growth`` runs this phase alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bench import decade
from bench.run import REPO, measure

HISTORY_AGENCY = ["taylor county sheriff", "--state", "FL"]
RUNS = 3
NIGHTS = 5  # refreshes per size (each on its own copy), and first reads after each
TARGET_RATIO = 1.5
ICE_STEM = {"participating": "participatingAgencies", "pending": "pendingAgencies"}


SITE = "{site}"  # replaced by a new empty folder on every run (then removed)


def reads(year: int) -> list[tuple[str, list[str]]]:
    """(label, CLI arguments) of every read command, on a store whose last year is ``year``."""
    return [
        ("latest", ["latest"]),
        ("counts", ["counts"]),
        ("diff (June 1 and Dec 31 of the last year)", ["diff", f"{year}-06-01", f"{year}-12-31"]),
        (f'history "{HISTORY_AGENCY[0]}" FL', ["history", *HISTORY_AGENCY]),
        (
            f'counts --agency "{HISTORY_AGENCY[0]}" FL, the last year',
            ["counts", "--agency", *HISTORY_AGENCY, "--since", f"{year}-01-01"],
        ),
        ("agreements", ["agreements"]),
        ("terminations", ["terminations"]),
        ("identity", ["identity"]),
        ("aliases", ["aliases"]),
        ("publish DIR (empty folder)", ["publish", SITE]),
    ]


def run_cli(data: Path, args: list[str]) -> float:
    """Wall time of ``ice287g --data-dir DATA ARGS`` in a fresh interpreter; fails loudly.
    A :data:`SITE` argument becomes a new folder beside ``data``, removed afterwards."""
    site = data.parent / "site"
    shutil.rmtree(site, ignore_errors=True)
    args = [str(site) if a == SITE else a for a in args]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ice287g", "--data-dir", str(data), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - t0
    shutil.rmtree(site, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ice287g {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return seconds


def code_fingerprint() -> str:
    """A hash of the product code a store was built with (ice287g/ and parsers/)."""
    digest = hashlib.sha256()
    for folder in ("ice287g", "parsers"):
        for path in sorted((REPO / folder).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def disk_bytes(root: Path) -> int:
    """Bytes the folder's files take on disk (allocated blocks)."""
    return sum(p.stat().st_blocks * 512 for p in root.rglob("*") if p.is_file())


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Stores:
    one: Path  # the 2025 corpus
    ten: Path  # 2025 to 2034
    info: dict  # built.json: versions, backfill seconds per year, when, load


def backfill(data: Path, folder: Path) -> float:
    """Wall time of ``ice287g backfill FOLDER`` into ``data`` (every file must go in)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ice287g", "--data-dir", str(data), "backfill", str(folder)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or " 0 failed" not in proc.stdout + proc.stderr:
        raise RuntimeError(
            f"backfill of {folder} failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return seconds


def version_count(data: Path) -> int:
    from ice287g import snapshots

    return len(snapshots(data_dir=str(data)))


def build_stores(log=print) -> Stores:
    """The one-year and ten-year stores, from the cache when built by this code."""
    years = decade.decade(decade.DECADE_YEARS, log=log)  # +1..+10: +10 feeds the refresh
    key = f"{decade.corpus_key()}-{code_fingerprint()}"
    root = decade.CACHE / f"stores-{key}"
    stamp = root / "built.json"
    if stamp.is_file() and not os.environ.get("ICE287G_BENCH_FRESH"):
        return Stores(root / "1y", root / "10y", json.loads(stamp.read_text()))
    for old in decade.CACHE.glob("stores-*"):  # stores of other code: never reused
        shutil.rmtree(old, ignore_errors=True)
    building = root / ".building"
    shutil.rmtree(building, ignore_errors=True)
    data = building / "data"
    first = min(years) - 1
    folders = {first: decade.CORPUS / "files"} | {
        y: f / "files" for y, f in sorted(years.items())[: decade.DECADE_YEARS - 1]
    }
    seconds = {}
    started = time.perf_counter()
    for year, folder in folders.items():
        seconds[year] = backfill(data, folder)
        log(f"  backfilled {year}: {seconds[year]:.1f} s (load {load()})")
        if year == first:
            shutil.copytree(data, building / "1y")
    info = {
        "built": datetime.now().isoformat(timespec="seconds"),
        "load_after": load(),
        "backfill_seconds": {str(y): s for y, s in seconds.items()},
        "backfill_total_seconds": time.perf_counter() - started,
        "versions": {"1y": version_count(building / "1y"), "10y": version_count(data)},
        "last_year": {"1y": first, "10y": max(folders)},
    }
    data.rename(building / "10y")
    (building / "built.json").write_text(json.dumps(info, indent=1))
    for name in ("1y", "10y", "built.json"):
        (building / name).rename(root / name)
    building.rmdir()
    return Stores(root / "1y", root / "10y", info)


def next_publication(folder: Path) -> list[dict]:
    """The first workbook of each list in a shifted year: what the record publishes next."""
    first: dict[str, dict] = {}
    for row in sorted(decade.read_manifest(folder), key=lambda r: (r["date"], r["file"])):
        first.setdefault(row["list"], row)
    return list(first.values())


def write_replay_site(folder: Path, out: Path) -> date:
    """A corpus (the layout the replay server reads) of the next publication of each list in
    ``folder``, each workbook under ICE's name dated by its day; returns the day both are on
    the page."""
    rows = next_publication(folder)
    (out / "files").mkdir(parents=True)
    publications = []
    for row in rows:
        shutil.copy(folder / "files" / row["file"], out / "files" / row["file"])
        name = f"{ICE_STEM[row['list']]}{date.fromisoformat(row['date']):%m%d%Y}am.xlsx"
        publications.append(
            {
                "ice_file_name": name,
                "url": f"https://www.ice.gov/doclib/about/offices/ero/287g/{name}",
                "file": row["file"],
                "sha256": row["sha256"],
            }
        )
    decade.write_csv(out / "MANIFEST.csv", rows)
    decade.write_csv(out / "publications.csv", publications)
    return max(date.fromisoformat(row["date"]) for row in rows)


def time_refresh(data: Path, site: Path, scratch: Path) -> dict:
    """One refresh of ``data`` from the replayed ``site``, in a fresh interpreter."""
    from tests.support.replay_server import ReplayCorpus, ReplayServer

    day = write_replay_site(site, scratch / "replay")
    with ReplayServer(ReplayCorpus(scratch / "replay"), max_requests=100) as server:
        server.set_day(day)
        env = {"PREFECT_HOME": str(scratch / "prefect"), "PREFECT_API_URL": ""}
        result = measure(
            "import time\n"
            "from ice287g.jobs.refresh import refresh\nfrom ice287g.store import Store\n"
            "t = time.perf_counter()\n"
            f"r = refresh(Store({str(data)!r}), {server.page_url!r})\n"
            "extra = [time.perf_counter() - t, len(r.new_versions), r.failures]",
            env,
        )
    inner, new, failures = result["extra"]
    if new != 2 or failures:
        raise RuntimeError(f"the growth refresh took {new} new versions (not 2): {failures}")
    return {"day": day, "seconds": inner, "with_start": result["seconds"]}


def bench_growth(_store_dir: Path) -> None:
    print(f"growth: one year vs ten years of history (load {load()})")
    stores = build_stores(log=lambda text: print("  " + text, flush=True))
    info = stores.info
    years = decade.decade(decade.DECADE_YEARS)
    last = info["last_year"]
    with tempfile.TemporaryDirectory(prefix="ice287g-bench-growth-") as tmp:
        scratch = Path(tmp)
        work = {}
        for size, source in (("1y", stores.one), ("10y", stores.ten)):
            work[size] = scratch / size / "data"
            shutil.copytree(source, work[size])
        os.sync()  # the copies on disk before anything is timed (see below)
        rows: list[tuple[str, float | str, float | str, str]] = [
            ("versions", info["versions"]["1y"], info["versions"]["10y"], ""),
            (
                "store on disk (MB)",
                disk_bytes(stores.one) / 1e6,
                disk_bytes(stores.ten) / 1e6,
                "",
            ),
            (
                "backfill of one more year (s)",
                info["backfill_seconds"][str(last["1y"])],
                info["backfill_seconds"][str(last["10y"])],
                "",
            ),
        ]
        timings: dict[str, dict[str, float]] = {}
        for i, (label, _) in enumerate(reads(0)):
            args = {s: reads(last[s])[i][1] for s in work}
            for size in work:  # warm: whatever the command caches is built here
                run_cli(work[size], args[size])
            best = {s: float("inf") for s in work}
            for _ in range(RUNS):  # the two sizes alternate, so a busy moment hits both
                for size in work:
                    best[size] = min(best[size], run_cli(work[size], args[size]))
            timings[label] = best
            rows.append((f"`{label}` (s)", best["1y"], best["10y"], _ratio(best)))
            print(f"  {label}: {best['1y']:.2f} s / {best['10y']:.2f} s", flush=True)
        # Each refresh runs on a copy of the warmed store (its derived state as the reads
        # left it), best of NIGHTS; after each, every read runs once, in the table's order
        # (the first that needs derived state pays for bringing it up to date): its first
        # run after a refresh, best of the NIGHTS copies.
        refreshes: dict[str, dict] = {}
        labels = [label for label, _ in reads(0)]
        first = {label: {s: float("inf") for s in work} for label in labels}
        for n in range(NIGHTS):
            for size in work:
                night = scratch / f"{size}-night{n}"
                shutil.copytree(work[size], night / "data")
                # Written back before the timing starts: the ten-year copy is about 900 MB,
                # and its writeback would otherwise land on the refresh and the reads after
                # it (the ten-year figures only: the one-year copy is a tenth of that).
                os.sync()
                r = time_refresh(night / "data", years[last[size] + 1], night)
                if size not in refreshes or r["seconds"] < refreshes[size]["seconds"]:
                    refreshes[size] = r
                for label, (_, args) in zip(labels, reads(last[size]), strict=True):
                    seconds = run_cli(night / "data", args)
                    first[label][size] = min(first[label][size], seconds)
                shutil.rmtree(night)
        seconds = {s: r["seconds"] for s, r in refreshes.items()}
        rows.append(
            (
                f"refresh: one new version per list, best of {NIGHTS} (s)",
                *seconds.values(),
                _ratio(seconds),
            )
        )
        for label in labels:
            rows.append(
                (f"first `{label}` after it (s)", *first[label].values(), _ratio(first[label]))
            )
    _print_table(rows, info, refreshes)


def _ratio(pair: dict[str, float]) -> str:
    return f"{pair['10y'] / pair['1y']:.2f}"


def _cell(value: float | str) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.2f}" if value < 100 else f"{value:,.0f}"
    return value


def _print_table(rows: list, info: dict, refreshes: dict) -> None:
    backfill_total = info["backfill_total_seconds"]
    print(
        f"  stores built {info['built']} (ten years backfilled in {backfill_total:.0f} s, "
        f"load then {info['load_after']}); figures now at load {load()}"
    )
    for size, r in refreshes.items():
        print(
            f"  refresh {size}: next publication {r['day']}, {r['with_start']:.2f} s with "
            "interpreter start and imports"
        )
    print(f"\n| measure | 1 year | 10 years | ratio (target <= {TARGET_RATIO}) |")
    print("|---|---:|---:|---:|")
    for label, one, ten, ratio in rows:
        print(f"| {label} | {_cell(one)} | {_cell(ten)} | {ratio} |")
    print()


PHASES = [("growth", bench_growth)]

"""Bench phases of the live refresh.

- A no-change refresh against a local replay of ICE's page: the workbook bytes it downloads
  (target: zero) and its wall time, split into Prefect's own start-up and our work (the same
  refresh without Prefect). Uses the replay server of the tests, so it runs from a checkout.
- The offline night (issue 11): `ice287g refresh` on a store holding the shared corpus, on a
  machine that cannot reach ICE (the source is a name under `.invalid`, which never
  resolves), Prefect included: wall time (target < 120 s), exit status, lines on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.run import REPO, SHARED, line, measure

OFFLINE_SOURCE = "https://www.ice287g-bench.invalid/identify-and-arrest/287g"


def bench_no_change_refresh(_store_dir: Path) -> None:
    from tests.support.replay_server import ReplayCorpus, ReplayServer

    print("no-change refresh against a local replay of ICE's page (2025-04-04)")
    corpus = ReplayCorpus(SHARED / "ice-corpus")
    with (
        tempfile.TemporaryDirectory(prefix="ice287g-bench-live-") as tmp,
        ReplayServer(corpus, max_requests=1000) as server,
    ):
        server.set_day(date(2025, 4, 4))
        data = str(Path(tmp) / "data")
        env = {"PREFECT_HOME": str(Path(tmp) / "prefect"), "PREFECT_API_URL": ""}
        plain = (
            "from ice287g.jobs.refresh import refresh\nfrom ice287g.store import Store\n"
            f"r = refresh(Store({data!r}), {server.page_url!r})\n"
            "extra = r.bytes_downloaded"
        )
        first = measure(plain, env)
        line("first refresh: workbook bytes downloaded", f"{first['extra']}")
        served = sum(v for k, v in server.body_bytes.items() if k.endswith(".xlsx"))
        ours = measure(plain, env)
        served_again = sum(v for k, v in server.body_bytes.items() if k.endswith(".xlsx"))
        line("no-change refresh: workbook bytes downloaded", f"{ours['extra']}", "target 0")
        line("  bytes the server sent for workbooks", f"{served_again - served}", "target 0")
        line("no-change refresh, our work (no Prefect)", f"{ours['seconds']:.2f} s")
        flow = measure(
            "from flows.refresh import refresh_flow\n"
            f"r = refresh_flow(data_dir={data!r}, source={server.page_url!r}, moa=False)\n"
            "extra = r['bytes_downloaded']",
            {**env, **_quiet()},
        )
        line("no-change refresh as a Prefect flow", f"{flow['seconds']:.2f} s")
        line(
            "  of which Prefect start-up and engine",
            f"{max(flow['seconds'] - ours['seconds'], 0):.2f} s",
        )
        line("  workbook bytes downloaded", f"{flow['extra']}", "target 0")


def _quiet() -> dict:
    return {
        "PREFECT_LOGGING_LEVEL": "ERROR",
        "PYTHONWARNINGS": "ignore",
        **(
            {"PREFECT_API_URL": os.environ["PREFECT_API_URL"]}
            if os.environ.get("PREFECT_API_URL")
            else {}
        ),
    }


def bench_offline_refresh(store_dir: Path) -> None:
    print(f"offline refresh on the corpus store (source {OFFLINE_SOURCE})")
    with tempfile.TemporaryDirectory(prefix="ice287g-bench-offline-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(store_dir, data)  # the failed page is a ledger row: not in the shared store
        env = {**os.environ, "PREFECT_HOME": str(Path(tmp) / "prefect"), "PYTHONWARNINGS": "ignore"}
        env.pop("PREFECT_API_URL", None)
        for label, extra in (
            ("Prefect, fresh PREFECT_HOME", []),
            ("Prefect, second run", []),
            ("--no-prefect", ["--no-prefect"]),
        ):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "ice287g", "--data-dir", str(data), "refresh"]
                + ["--source", OFFLINE_SOURCE, *extra],
                capture_output=True,
                text=True,
                env=env,
                cwd=REPO,
            )
            seconds = time.perf_counter() - t0
            traceback = "yes" if "Traceback" in proc.stdout + proc.stderr else "no"
            line(f"offline refresh, {label}", f"{seconds:.1f} s", "target < 120 s")
            line(
                "  exit status, stderr lines, traceback",
                f"{proc.returncode}, {len(proc.stderr.splitlines())}, {traceback}",
                "target 1, 2, no",
            )


PHASES = [("refresh", bench_no_change_refresh), ("offline", bench_offline_refresh)]

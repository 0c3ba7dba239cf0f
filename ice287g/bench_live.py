"""Bench phase: a no-change refresh against a local replay of ICE's page.

Prints the workbook bytes a no-change refresh downloads (target: zero) and its wall time,
split into Prefect's own start-up and our work (the same refresh without Prefect). Uses the
replay server from tests/support/ (test infrastructure, not shipped code), so it runs from a
checkout.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from ice287g.bench import REPO, SHARED, line, measure


def bench_no_change_refresh(_store_dir: Path) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from support.replay_server import ReplayCorpus, ReplayServer

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
            "from ice287g.refresh import refresh\nfrom ice287g.store import Store\n"
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


PHASES = [("refresh", bench_no_change_refresh)]

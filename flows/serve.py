"""`ice287g serve`: the nightly refresh on Prefect's own scheduler.

Prefect's temporary per-process server has no scheduler (../shared/PREFECT.md), so a schedule
needs a long-lived server: the one in PREFECT_API_URL when set, else one started here on
127.0.0.1 with the project's PREFECT_HOME, stopped again when `serve` exits.
"""

from __future__ import annotations

import os

from flows.server import start_local_server, stop_server
from flows.settings import configure


def serve_refresh(data_dir: str, cron: str, source: str | None, port: int, name: str) -> None:
    configure()
    # SIGTERM and SIGINT become exceptions (ice287g.cli.stops; Prefect's runner has its own
    # SIGTERM exit), so the `finally` below stops the server.
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        server = start_local_server(port)
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    print(f"Prefect API: {os.environ['PREFECT_API_URL']}", flush=True)
    try:
        from flows.refresh import refresh_flow
        from scrapers.discover import DEFAULT_SOURCE

        refresh_flow.serve(
            name=name,
            cron=cron,
            parameters={"data_dir": data_dir, "source": source or DEFAULT_SOURCE},
            description="Nightly refresh of ICE's 287(g) workbooks",
        )
    finally:
        if server is not None:
            stop_server(server)

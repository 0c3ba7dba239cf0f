"""`ice287g serve`: the nightly refresh on Prefect's own scheduler.

Prefect's temporary per-process server has no scheduler (../shared/PREFECT.md), so a schedule
needs a long-lived server: the one in PREFECT_API_URL when set, else one started here on
127.0.0.1 with the project's PREFECT_HOME, stopped again when `serve` exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flows.settings import configure, prefect_home

SERVER_START_TIMEOUT_S = 180


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


def start_local_server(port: int) -> subprocess.Popen | None:
    """Start `prefect server start` on 127.0.0.1:port and wait until it answers.

    Returns None when a Prefect server already answers on that port (it is reused, not owned).
    """
    url = f"http://127.0.0.1:{port}/api/health"
    if _healthy(url):
        print(f"reusing the Prefect server already on 127.0.0.1:{port}", flush=True)
        return None
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "server.log", "ab")  # noqa: SIM115 - kept open for the server's life
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    print(
        f"starting a local Prefect server on 127.0.0.1:{port} (PREFECT_HOME={home}, "
        f"log {home / 'server.log'})",
        flush=True,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"prefect server exited with {proc.returncode}; see "
                f"{home / 'server.log'}:\n{_tail(home / 'server.log')}"
            )
        if _healthy(url):
            return proc
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(
        f"prefect server did not answer on {url} within "
        f"{SERVER_START_TIMEOUT_S} s; see {home / 'server.log'}"
    )


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""

"""The Prefect servers ice287g starts: a temporary API for one command, a lasting one for serve.

Without PREFECT_API_URL, a flow run makes Prefect start a temporary server (uvicorn in a
process of its own) for the length of the process. Prefect's client starts it from
``prefect.server.api.server``, whose import (the whole server application, about 2 s of CPU)
happens in the command's own process before the server's process, which imports it again, is
even launched. :func:`prefect_api` starts that same server (the command line and settings of
Prefect's ``SubprocessASGIServer``) before the command imports its flows, so that it starts
meanwhile, and the command never imports the server. Its log goes to
``$PREFECT_HOME/server.log``, never to the screen; it runs in a session of its own, so a Ctrl-C
at the terminal reaches the command alone, which records the stop through a live API and
stops the server as it exits (``ice287g/cli/stops.py`` ends it with the command's other
children when the way out takes too long).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flows.settings import configure, prefect_home

SERVER_START_TIMEOUT_S = 180

# Prefect's temporary server (prefect.server.api.server.SubprocessASGIServer, Prefect 3.8.8):
# the API application alone, its services in their "ephemeral" set, no UI.
TEMPORARY = ["-m", "uvicorn", "--factory", "prefect.server.api.server:create_app"]
TEMPORARY_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
TEMPORARY_ARGS = ["--log-level", "error", "--lifespan", "on"]


@contextmanager
def prefect_api() -> Iterator[Callable[[], None]]:
    """The Prefect API for this command's flow runs: the one Prefect's settings name (the
    environment, a profile), otherwise a temporary server on 127.0.0.1, started now and
    stopped when the process exits. Call the function it yields before the first flow runs:
    it waits until the server answers."""
    configure()
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if get_current_settings().api.url:
        yield lambda: None
        return
    proc, url = start_temporary_server()
    # Stopped when this process exits, after Prefect's log and event workers have sent what
    # they hold (they do so at thread shutdown, before atexit), as Prefect stops its own.
    atexit.register(stop_server, proc)
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield lambda: wait_until_healthy(proc, url)


def start_temporary_server() -> tuple[subprocess.Popen, str]:
    """Launch Prefect's temporary server on a free port of 127.0.0.1: (process, API URL)."""
    port = free_port()
    proc = _launch(
        [*TEMPORARY, "--host", "127.0.0.1", "--port", str(port), *TEMPORARY_ARGS],
        TEMPORARY_ENV,
    )
    return proc, f"http://127.0.0.1:{port}/api"


def wait_until_healthy(proc: subprocess.Popen, api_url: str, timeout: float | None = None) -> None:
    """Wait until the server answers (within Prefect's start-up timeout by default); a server
    that exits or stays silent is stopped and reported."""
    if timeout is None:
        from prefect.settings import get_current_settings

        timeout = get_current_settings().server.ephemeral.startup_timeout_seconds
    import httpx

    url, log = f"{api_url}/health", prefect_home() / "server.log"
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:  # one client: a new one per try costs CPU
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"prefect server exited with {proc.returncode}; see {log}:\n{_tail(log)}"
                )
            if _healthy(url, client):
                return
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"prefect server did not answer on {url} within {timeout:.0f} s; see {log}")


def start_local_server(port: int) -> subprocess.Popen | None:
    """Start `prefect server start` on 127.0.0.1:port and wait until it answers.

    Returns None when a Prefect server already answers on that port (it is reused, not owned).
    """
    url = f"http://127.0.0.1:{port}/api/health"
    if _healthy(url):
        print(f"reusing the Prefect server already on 127.0.0.1:{port}", flush=True)
        return None
    proc = _launch(["-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)])
    home = prefect_home()
    print(
        f"starting a local Prefect server on 127.0.0.1:{port} (PREFECT_HOME={home}, "
        f"log {home / 'server.log'})",
        flush=True,
    )
    wait_until_healthy(proc, f"http://127.0.0.1:{port}/api", SERVER_START_TIMEOUT_S)
    return proc


def _launch(args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A Prefect server process with the project's PREFECT_HOME, its output appended to
    ``$PREFECT_HOME/server.log``, in a session (process group) of its own."""
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home), **(extra_env or {})}
    env.pop("PREFECT_API_URL", None)
    with open(home / "server.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str, client=None) -> bool:
    import httpx

    try:
        return (client or httpx).get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""

"""Prefect settings for this project, applied before Prefect is imported.

Measured on these machines (../shared/PREFECT.md): without an API URL each process starts a
temporary local server whose default 20 s start-up timeout fails on a fresh PREFECT_HOME, and
the server looks up an outside host unless analytics are off. So: a project-local PREFECT_HOME,
a 120 s start-up timeout, analytics and telemetry off. Prefect's own log lines and tracebacks go
to ``$PREFECT_HOME/prefect.log`` (``flows/logging.yml``), never to the screen: a failed night is
one line per failure from the command, not a Prefect traceback. Values already set by the user
win.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


LOGGING_CONFIG = Path(__file__).with_name("logging.yml")


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.cwd() / ".prefect")


def configure() -> None:
    """Set the defaults above (and PREFECT_HOME) unless already set."""
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(LOGGING_CONFIG))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)

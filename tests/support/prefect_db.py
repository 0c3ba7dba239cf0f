"""The Prefect database the real-engine tests start from, made once per run.

A Prefect server's first start on an empty database migrates it (about 4 s of CPU: alembic's
SQLite table rebuilds) and registers Prefect's block types in it (about 1.2 s); a later start
on that database only checks both. Each test that starts a Prefect server begins from a copy
of one database in that state, made once per run (``prefect_database`` in conftest.py): by the
first start of the session's temporary API, which does it anyway (:func:`snapshot`), or, when
no such start comes first, by :data:`FIRST_START` in a process of its own.

A copy sits at a new path, so Prefect's memo of "block types already registered" (keyed by the
database URL) never matches it and each server would register them all again:
:data:`PREFILLED` says they are there.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

# Prefect settings of the project (flows/settings.py) that keep a test's Prefect offline.
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}

# For a Prefect server started on a copy of the run's database: the block types are in it.
PREFILLED = {"PREFECT_API_BLOCKS_REGISTER_ON_START": "false"}

# Services of the tests' Prefect servers whose work no test reads (task-run and event
# history, automations, and a long-lived server's upkeep; `serve`'s scheduler stays). The
# task-run recorder writes each task run's states as their events arrive; a subflow's parent
# task run, created through the API meanwhile, then meets SQLite's "database is locked", a 503
# and the client's 2 s back-off (in half the refreshes under Prefect, measured). Their CPU
# goes too. The product's servers keep them all.
UNREAD_SERVICES = {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
    for name in (
        "TASK_RUN_RECORDER",
        "EVENT_PERSISTER",
        "TRIGGERS",
        "LATE_RUNS",
        "FOREMAN",
        "CANCELLATION_CLEANUP",
        "PAUSE_EXPIRATIONS",
        "REPOSSESSOR",
        "CLEANUP_RECONCILER",
    )
}

# What a server's first start does to its database (prefect.server.api.server.create_app's
# lifespan: run_migrations, then add_block_types), without serving anything.
FIRST_START = """
import asyncio

from prefect.server.database import provide_database_interface
from prefect.server.models.block_registration import run_block_auto_registration


async def first_start():
    db = provide_database_interface()
    await db.create_db()
    async with await db.session() as session:
        await run_block_auto_registration(session=session)
    await (await db.engine()).dispose()


asyncio.run(first_start())
"""


def first_start(database: Path) -> None:
    """Make ``database`` (absent) as a server's first start leaves it, in a process of its own."""
    home = database.parent / "home"
    env = {**os.environ, **QUIET, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_SERVER_DATABASE_CONNECTION_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", FIRST_START],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (home / "prefect.db").rename(database)


def snapshot(live: Path, database: Path) -> None:
    """Copy the database of a running Prefect server (SQLite in WAL mode: the file alone may
    lack committed pages) to ``database``, consistently (SQLite's backup), and atomically."""
    part = database.with_suffix(".part")
    source = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
    target = sqlite3.connect(part)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    part.rename(database)

"""The real Prefect engine: the refresh and MOA flows end to end, `ice287g serve`, and the
fault cases of test_faults_stop.py that run the command under Prefect against a Prefect API.

Slow by nature (Prefect's server start-up), so only these few tests run it, on one temporary
Prefect API for this file (``prefect_engine`` in conftest.py), stopped when the file is done;
the logic they wrap is tested directly in test_refresh.py and test_moa_harvest.py. The
refresh flow reads the generated site (tests/support/site.py); the MOA flow fetches
generated PDFs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from support.hostile_server import HostileServer, blocked
from support.local_server import PAGE_PATH
from support.prefect_db import PREFILLED, UNREAD_SERVICES
from support.replay_server import ReplayServer
from support.site import REFERENCE_COUNTS, REFERENCE_PENDING_ROWS
from test_faults_net import (
    MOA_DIR,
    PARTICIPATING,
    PENDING,
    closed_port,
    seeded_store,
    site,
    versions,
)
from test_faults_stop import cli, stop_a_prefect_harvest
from test_moa_harvest import BROOME, DOCLIB, MISSING, RUSK, build_store, made, sha, stored_pdfs

from flows.server import free_port
from ice287g import query
from ice287g.jobs.harvest import BREAKER_THRESHOLD
from ice287g.store.ledger import MOA_LEDGER

pytestmark = pytest.mark.prefect


def test_refresh_flow_on_the_real_engine(prefect_engine, site_corpus, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.refresh import refresh_flow

    data = tmp_path / "data"
    with ReplayServer(site_corpus) as server:
        server.set_day(date(2025, 4, 4))
        first = refresh_flow(
            data_dir=str(data),
            source=server.page_url,
            moa_limit=2,
            moa_delay=0,
        )
        assert first["ok"] and first["new_versions"] == 2 and first["bytes_downloaded"] > 0
        # The MOA harvest ran after the refresh, against the same (local) origin: the replay
        # server has no PDFs, so both attempts are recorded as not found.
        assert first["moa"]["attempts"] == {"not found": 2}
        assert all(r.path.startswith("/doclib/") for r in server.log if r.path.endswith(".pdf"))
        again = refresh_flow(data_dir=str(data), source=server.page_url, moa=False)
        assert again["ok"] and again["new_versions"] == 0 and again["bytes_downloaded"] == 0
        # The command prints the flow's report (Prefect keeps prints in its log).
        from click.testing import CliRunner

        from ice287g.cli import main

        out = CliRunner().invoke(
            main,
            [
                "--data-dir",
                str(tmp_path / "cli"),
                "refresh",
                "--no-moa",
                "--source",
                server.page_url,
            ],
        )
        assert "## Agreements by model" in out.output and "new version" in out.output
        # A blocked download is asked once (no HTTP retry for a block page, no task retries:
        # one retry layer), then reported; the store keeps its versions.
        server.set_day(date(2025, 4, 8))
        path = server.page_links()["participating"].path
        server.block(path, status=403)
        blocked = refresh_flow(data_dir=str(data), source=server.page_url, moa=False)
        assert not blocked["ok"] and any(
            "blocked" in f or "403" in f or "Access" in f for f in blocked["failures"]
        )
        attempts = [r for r in server.log if r.path == path]
        assert len(attempts) == 1
    total = query.counts(as_of="2025-04-04", data_dir=data)
    assert dict(zip(total["list"], total["count"])) == {
        "participating": sum(REFERENCE_COUNTS.values()),
        "pending": REFERENCE_PENDING_ROWS,
    }
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ice287g-refresh"]))
        )
    texts = [a.data for a in artifacts]
    tfm = f"| participating | 2025-04-03 | TFM | {REFERENCE_COUNTS['TFM']} |"
    assert any("Agreements by model" in t and tfm in " ".join(t.split()) for t in texts)


def test_moa_flow_runs_under_prefect(prefect_engine, replay_server, tmp_path):
    from flows.moa import moa_flow

    store = build_store(
        tmp_path / "data",
        [
            (
                "NEW YORK",
                "Broome County Sheriff's Office",
                "Warrant Service Officer",
                BROOME,
                MISSING,
            ),
            ("TEXAS", "Rusk County Sheriff's Office", "Warrant Service Officer", RUSK, None),
        ],
    )
    for name in (BROOME, RUSK):
        replay_server.add_route(DOCLIB + name, made(name), "application/pdf")

    result = moa_flow(data_dir=str(store.root), mirror=replay_server.base_url, delay=0)

    assert result["attempts"] == {"stored": 2, "not found": 1}
    assert result["documents_read"] == 2 and result["remaining"] == 0 and result["ok"]
    assert sorted(stored_pdfs(store)) == sorted(f"{sha(made(n))}.pdf" for n in (BROOME, RUSK))
    assert MOA_LEDGER.read(store).num_rows == 3


def _post(client: httpx.Client, url: str, body: dict) -> list:
    return client.post(url, json=body).json()


def test_serve_registers_the_nightly_schedule_on_a_local_prefect_server(prefect_home, tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    # A database as a first start leaves it (prefect_home, conftest.py): the server `serve`
    # starts skips the migrations and the block types, the slow part of a first start. No
    # UI: only the API is asked.
    env = {
        **os.environ,
        **PREFILLED,
        **UNREAD_SERVICES,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ice287g",
            "--data-dir",
            str(tmp_path / "data"),
            "serve",
            "--port",
            str(port),
            "--cron",
            "0 6 * * *",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    client = httpx.Client(timeout=5)  # one client for the polls: a new one per poll costs CPU
    try:
        deployment, runs = None, []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not runs:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                found = [
                    d
                    for d in _post(client, f"{api}/deployments/filter", {})
                    if d["name"] == "nightly-refresh"
                ]
                if found:
                    deployment = found[0]
                    runs = [
                        r
                        for r in _post(client, f"{api}/flow_runs/filter", {})
                        if r["deployment_id"] == deployment["id"] and r["state_type"] == "SCHEDULED"
                    ]
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert deployment is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 6 * * *"]
        assert runs, "no scheduled run was created"
        next_run = min(
            datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00")) for r in runs
        )
        assert next_run > datetime.now(UTC) and (next_run.hour, next_run.minute) == (6, 0)
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    # serve stops the Prefect server it started.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)


# -- the commands under Prefect, against this file's Prefect API (test_faults_stop.py) ------


@pytest.fixture
def prefect_api(prefect_engine) -> str:
    """The URL of this file's Prefect API, for a command that should not start its own."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url and url.startswith("http://127.0.0.1:"), url
    return url


@pytest.fixture
def server():
    with HostileServer() as s:
        yield s


@pytest.mark.prefect
def test_offline_refresh_under_prefect_fails_within_two_minutes_without_traceback(
    tmp_path, prefect_home, prefect_api
):
    store = seeded_store(tmp_path / "data", moas=20)
    before = versions(store.root)
    source = f"http://127.0.0.1:{closed_port()}{PAGE_PATH}"
    t0 = time.monotonic()
    proc = cli(
        ["--data-dir", str(store.root), "refresh", "--source", source], tmp_path, prefect_api
    )
    out, err = proc.communicate(timeout=180)
    assert time.monotonic() - t0 < 120
    assert proc.returncode == 1, err
    assert "Traceback" not in out + err, err
    assert [line for line in err.splitlines() if line.startswith("failed:")] == [
        line for line in err.splitlines() if source in line and "ConnectError" in line
    ]
    assert "MOA harvest skipped" in err
    assert versions(store.root) == before and len(MOA_LEDGER.read(store)) == 0


@pytest.mark.prefect
def test_blocked_refresh_under_prefect_finishes_quickly(
    server, tmp_path, prefect_home, prefect_api
):
    """Both workbooks and every PDF blocked (403 HTML): each workbook asked once, the harvest
    stopped by its breaker (it took 316 s before)."""
    store = seeded_store(tmp_path / "data", moas=20)
    site(server, blocked(403))
    server.default = blocked(403)
    before = versions(store.root)
    t0 = time.monotonic()
    args = ["--data-dir", str(store.root), "refresh", "--source", server.page_url]
    proc = cli(args, tmp_path, prefect_api)
    out, err = proc.communicate(timeout=180)
    assert time.monotonic() - t0 < 120
    assert proc.returncode == 1 and "Traceback" not in out + err, err
    assert server.hits[PARTICIPATING] == server.hits[PENDING] == 1
    assert server.hits_under(MOA_DIR) == BREAKER_THRESHOLD
    assert "MOA harvest stopped: 3 consecutive failures on 127.0.0.1" in err
    assert len([line for line in err.splitlines() if line.startswith("failed:")]) == 2
    assert versions(store.root) == before


def test_sigterm_stops_a_prefect_refresh_in_its_moa_harvest(
    server, tmp_path, prefect_home, prefect_api
):
    """SIGTERM to `refresh` under Prefect (this file's API) while a PDF download of its MOA
    harvest hangs: a clean stop (SIGINT, with the command's own server: test_faults_stop.py)."""
    stop_a_prefect_harvest(server, tmp_path, signal.SIGTERM, api_url=prefect_api)

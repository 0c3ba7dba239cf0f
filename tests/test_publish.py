"""publish: the site written from a small store whose every answer is known, to a folder and
to a local S3 server (moto), read back; the nightly step. The page of this store in Debian's
chromium is tested in test_publish_page.py (one browser for every page test)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.workbooks import PARTICIPATING_HEADER, PENDING_HEADER
from test_history import URL, part, write

from ice287g.cli import main
from ice287g.jobs.ingest import ingest_paths
from ice287g.jobs.refresh import Observation, RefreshReport, publish_after
from ice287g.publish import PUBLISH_TO, PublishError, publish
from ice287g.publish.database import QUERIES
from ice287g.publish.page import ranges, runs
from ice287g.publish.sync import MANIFEST, order
from ice287g.query import counts, latest
from ice287g.store import Store, ledger

ATOM = "{http://www.w3.org/2005/Atom}"
HILLSBOROUGH = "Hillsborough County"


def tampa(name, model="Task Force Model"):
    row = part(name, "FLORIDA", model)
    row[3] = HILLSBOROUGH
    return row


def first_batch(src: Path) -> None:
    """04-03: Harris (TX), Tampa PD, Alpha, Beta. Pending 04-05: Butler (OH); 04-09: empty."""
    harris = part("Harris County Sheriff's Office", "TEXAS", "Task Force Model")
    harris[3] = "Harris County"
    write(
        src,
        "participatingAgencies04032025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            harris,
            tampa("Tampa PD"),
            part("Alpha Police Department"),
            part("Beta Police Department"),
        ],
        links={(0, "MOA"): URL.format("harris")},
    )
    write(
        src,
        "pendingAgencies04052025am.xlsx",
        PENDING_HEADER,
        [["OHIO", "Butler County Sheriff's Office", "County", "Butler County", "Task Force Model"]],
    )
    write(src, "pendingAgencies04092025am.xlsx", PENDING_HEADER, [])


def second_batch(src: Path) -> None:
    """04-10: Harris re-signed (a renewal, 38 days later), Tampa PD renamed, Beta removed,
    Gamma added."""
    harris = part("Harris County Sheriff's Office", "TEXAS", "Task Force Model", date(2025, 4, 8))
    harris[3] = "Harris County"
    write(
        src,
        "participatingAgencies04102025pm.xlsx",
        PARTICIPATING_HEADER,
        [
            harris,
            tampa("Tampa Police Department"),
            part("Alpha Police Department"),
            part("Gamma Police Department", model="Task Force Model"),
        ],
        links={(0, "MOA"): URL.format("harris")},
    )


def make_store(base: Path, *batches) -> Store:
    base.mkdir(parents=True, exist_ok=True)
    store = Store(base / "data")
    for i, batch in enumerate(batches):
        src = base / f"in{i}"
        batch(src)
        assert all(o.status == "new" for o in ingest_paths(store, [src]))
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    return make_store(tmp_path_factory.mktemp("publish"), first_batch, second_batch)


@pytest.fixture(scope="module")
def site(store, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("site") / "www"
    report = publish(str(dest), store, base_url="https://example.org/287g")
    assert report.unchanged == [] and report.deleted == []
    return dest


# --- the files --------------------------------------------------------------------------------
def test_the_site_holds_the_page_the_feed_and_every_data_file(site):
    names = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    for stem in (
        "participating_latest",
        "pending_latest",
        "agreements",
        "changes",
        "daily_counts",
        "catalog",
    ):
        assert {f"data/{stem}.csv", f"data/{stem}.parquet"} <= names
    assert {
        "data/versions.parquet",
        "data/versions.csv.gz",
        "data/ice287g.db",
        "data/metadata.json",
        "data/datapackage.json",
        "data/checksums.sha256",
        "index.html",
        "feed.xml",
        MANIFEST,
    } <= names
    html = (site / "index.html").read_text()
    config = json.loads(
        html.split('<script id="config" type="application/json">')[1].split("</script>")[0]
    )
    for key in ("core", "history", "counties"):
        assert (site / config[key]).is_file(), key
    assert config["base_url"] == "https://example.org/287g/"
    assert "{{" not in html  # every placeholder filled
    # The boundaries ship with the site, from the us-atlas package.
    counties = json.loads((site / config["counties"]).read_bytes())
    assert len(counties["objects"]["counties"]["geometries"]) > 3000
    assert not any(u in html for u in ("cdn", "googleapis", "unpkg", "jsdelivr"))


def test_data_files_hold_the_store(site, store):
    newest = latest(data_dir=store, include_suspect=False)
    table = pq.read_table(site / "data" / "participating_latest.parquet")
    assert sorted(table.column("agreement_id").to_pylist()) == sorted(newest["agreement_id"])
    csv = pd.read_csv(site / "data" / "participating_latest.csv")
    assert len(csv) == len(newest) == 4
    versions = pd.read_csv(
        io.BytesIO(gzip.decompress((site / "data/versions.csv.gz").read_bytes()))
    )
    cat = pd.read_csv(site / "data" / "catalog.csv")
    assert len(versions) == cat["rows"].sum() == len(pq.read_table(site / "data/versions.parquet"))
    assert "snapshot" not in cat.columns and "raw" not in cat.columns  # store paths stay home
    daily = pd.read_csv(site / "data" / "daily_counts.csv")
    day = daily[(daily["date"] == "2025-04-10") & (daily["list"] == "participating")]
    assert day.groupby("state")["count"].sum().to_dict() == {"FL": 3, "TX": 1}
    changes = pd.read_csv(site / "data" / "changes.csv")
    renamed = changes[changes["event"] == "renamed"]
    assert list(renamed["after"]) == ["Tampa Police Department"]
    # the Parquet files cut by year (their years' row groups joined) hold the CSVs' rows
    for name, csv in (("changes", changes), ("daily_counts", daily)):
        table = pq.read_table(site / "data" / f"{name}.parquet").to_pandas()
        assert table["date"].astype(str).tolist() == csv["date"].tolist()


def test_checksums_cover_every_data_file(site):
    data = site / "data"
    lines = (data / "checksums.sha256").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    assert set(listed) == {p.name for p in data.iterdir()} - {"checksums.sha256"}
    for name, digest in listed.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--quiet", "-c", "checksums.sha256"], cwd=data, check=True)


def test_datapackage_validates_with_frictionless(site):
    package = json.loads((site / "data" / "datapackage.json").read_text())
    assert package["licenses"][0]["name"] == "other-pd"
    assert "public domain" in package["licenses"][0]["title"]
    assert {r["path"] for r in package["resources"]} >= {"versions.csv.gz", "agreements.parquet"}
    # What `frictionless validate datapackage.json` runs, in this process (no interpreter
    # started for it): the descriptor, and every resource's bytes, schema and rows.
    from frictionless import validate

    report = validate(site / "data" / "datapackage.json")
    invalid = {t.name: t.flatten(["rowNumber", "fieldName", "message"]) for t in report.tasks}
    assert report.valid, (report.errors, {n: e[:5] for n, e in invalid.items() if e})
    assert len(report.tasks) == len(package["resources"])
    assert all(task.valid and task.stats["rows"] for task in report.tasks)


def test_the_database_answers_the_canned_queries(site, store):
    db = sqlite3.connect(site / "data" / "ice287g.db")
    args = {
        "list": "participating",
        "date": "2025-04-04",
        "since": "2025-04-03",
        "until": "2025-04-10",
        "search": "tampa",
    }
    on_date = db.execute(QUERIES["list_on_date"]["sql"], args).fetchall()
    assert sorted(r[1] for r in on_date) == sorted(
        latest(as_of="2025-04-04", data_dir=store)["agency"]
    )
    by_model = dict(db.execute(QUERIES["counts_on_date"]["sql"], args).fetchall())
    expected = counts("participating", ["model"], as_of="2025-04-04", data_dir=store)
    assert by_model == dict(zip(expected["model"], expected["count"]))
    between = db.execute(QUERIES["changes_between"]["sql"], args).fetchall()
    assert {(r[2], r[6]) for r in between} == {
        ("listed", None),
        ("removed", None),
        ("renamed", "agency"),
        ("re_signed", "signed"),
    }
    tampa_events = db.execute(QUERIES["agency_history"]["sql"], args).fetchall()
    assert [r[2] for r in tampa_events] == ["listed", "renamed"]
    # The long table, stored once per distinct row, reads back whole through the view.
    assert db.execute("select count(*) from versions").fetchone()[0] == len(
        pq.read_table(site / "data" / "versions.parquet")
    )
    assert (
        db.execute("select count(*) from rows").fetchone()[0]
        < db.execute("select count(*) from version_rows").fetchone()[0]
    )
    meta = json.loads((site / "data" / "metadata.json").read_text())
    described = meta["databases"]["ice287g"]["tables"]
    tables = {
        r[0] for r in db.execute("select name from sqlite_master where type in ('table','view')")
    }
    assert set(described) <= tables
    assert {"agreements_fts", "participating_latest_fts", "rows_fts"} <= tables
    assert set(meta["databases"]["ice287g"]["queries"]) == set(QUERIES)
    assert meta["license_url"] and meta["source_url"]


def test_the_feed_has_one_entry_per_version_that_changed_something(site):
    root = ET.fromstring((site / "feed.xml").read_bytes())
    entries = root.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    # participating 04-10 changed; pending 04-09 is suspect (empty), so nothing else did.
    assert len(entries) == 1, titles
    title = titles[0]
    for part_ in ("1 added", "1 removed", "1 renamed", "1 re-signed", "4 rows"):
        assert part_ in title
    link = entries[0].find(f"{ATOM}link").get("href")
    assert link == "https://example.org/287g/?diff=2025-04-03..2025-04-10"
    assert "Tampa Police Department" in entries[0].find(f"{ATOM}content").text


# --- publishing ---------------------------------------------------------------------------------
def test_order_puts_data_first_and_the_index_last():
    paths = [
        "index.html",
        "feed.xml",
        "assets/app.1.js",
        "data/checksums.sha256",
        "data/a.csv",
        "data/datapackage.json",
        "data/z.parquet",
    ]
    assert order(paths) == [
        "data/a.csv",
        "data/z.parquet",
        "data/datapackage.json",
        "data/checksums.sha256",
        "assets/app.1.js",
        "feed.xml",
        "index.html",
    ]


def test_encodings_of_the_page_data():
    assert ranges([5, 1, 2, 3, 9, 10]) == [1, 3, 5, 1, 9, 2]
    assert runs([4, 4, 4, 5, 4]) == [4, 3, 5, 1, 4, 1]


def test_republishing_uploads_only_what_changed_and_keeps_one_old_generation(tmp_path):
    base = tmp_path / "s"
    store = make_store(base, first_batch)
    dest = tmp_path / "www"
    dest.mkdir()
    (dest / "notes.txt").write_text("not ours")
    first = publish(str(dest), store)
    assert publish(str(dest), store).uploaded == []  # nothing changed: nothing uploaded
    old_assets = {p.name for p in (dest / "assets").iterdir()}

    src = base / "in-more"
    second_batch(src)
    ingest_paths(store, [src])
    second = publish(str(dest), store)
    assert "index.html" in second.uploaded and second.uploaded[-2:] == ["index.html", MANIFEST]
    data = [i for i, p in enumerate(second.uploaded) if p.startswith("data/")]
    assets = [i for i, p in enumerate(second.uploaded) if p.startswith("assets/")]
    assert max(data) < min(assets)
    assert len(second.uploaded) < len(first.uploaded)
    assert "assets/counties" not in " ".join(second.uploaded)  # the boundaries did not change
    # Readers of the old index still find its assets; the next publication drops them.
    assert old_assets <= {p.name for p in (dest / "assets").iterdir()}
    third = publish(str(dest), store)
    gone = old_assets - {p.name for p in (dest / "assets").iterdir()}
    assert gone and all(f"assets/{g}" in third.deleted for g in gone)
    assert (dest / "notes.txt").read_text() == "not ours"
    # A file removed by hand is put back even though the manifest lists it.
    (dest / "data" / "agreements.csv").unlink()
    assert publish(str(dest), store).uploaded == ["data/agreements.csv"]


def test_publish_refuses_an_empty_store_clearly(tmp_path):
    with pytest.raises(PublishError, match="no versions in .*backfill"):
        publish(str(tmp_path / "www"), Store(tmp_path / "empty"))
    assert not (tmp_path / "www").exists()


def test_publish_command(store, tmp_path):
    res = CliRunner().invoke(
        main, ["--data-dir", str(store.root), "publish", str(tmp_path / "out")]
    )
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"published {tmp_path / 'out'}: ")
    assert (tmp_path / "out" / "index.html").is_file()
    res = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "none"), "publish", "x"])
    assert res.exit_code == 1 and "no versions in" in res.output


# --- S3 ---------------------------------------------------------------------------------------
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def s3_server():
    """A local S3 server (moto) on 127.0.0.1 with one bucket, started once for the file's S3
    tests (each writes where no other does); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in S3_ENV.items():
                env.setenv(key, value)
            import boto3

            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="records")
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The local S3 server's endpoint URL, with the test's credentials in the environment."""
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    return s3_server


def s3fs_for(endpoint):
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)


def test_publish_to_s3_reads_back_and_republishes_nothing(store, site, s3):
    dest = "s3://records/287g"
    report = publish(dest, store, base_url="https://example.org/287g", endpoint_url=s3)
    fs = s3fs_for(s3)
    manifest = json.loads(fs.cat_file("records/287g/manifest.json"))
    assert set(manifest["files"]) == set(report.uploaded) - {MANIFEST}
    for rel, meta in manifest["files"].items():
        body = fs.cat_file(f"records/287g/{rel}")
        assert hashlib.sha256(body).hexdigest() == meta["sha256"], rel
        # The same store gives the same bytes wherever it is published.
        assert body == (site / rel).read_bytes(), rel
    info = fs.info("records/287g/index.html")
    assert info["ContentType"].startswith("text/html")
    again = publish(dest, store, base_url="https://example.org/287g", endpoint_url=s3)
    assert again.uploaded == [] and again.bytes_uploaded == 0


def test_publish_to_a_missing_bucket_says_so(store, s3):
    with pytest.raises(PublishError, match="s3://nobucket/x: publishing failed"):
        publish("s3://nobucket/x", store, endpoint_url=s3)


# --- nightly ----------------------------------------------------------------------------------
def refresh_report(outcome=ledger.NEW_VERSION, sha256=None) -> RefreshReport:
    report = RefreshReport("https://www.ice.gov/identify-and-arrest/287g", datetime.now(UTC))
    report.observations.append(
        Observation(
            "https://www.ice.gov/x.xlsx",
            "x.xlsx",
            outcome,
            "pending",
            None,
            sha256,
            error=None if outcome == ledger.NEW_VERSION else "x.xlsx: blocked",
        )
    )
    return report


def test_nightly_publishes_only_after_a_sound_refresh(tmp_path, monkeypatch):
    base = tmp_path / "s"
    store = make_store(base, first_batch)
    dest = tmp_path / "www"
    monkeypatch.delenv(PUBLISH_TO, raising=False)
    assert publish_after(store, refresh_report()).line == ""  # not configured
    monkeypatch.setenv(PUBLISH_TO, str(dest))
    done = publish_after(store, refresh_report())
    assert not done.failures and done.line.startswith(f"published {dest}")
    good = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}

    # A failed refresh, and a refresh that stored a suspect version, leave the site alone.
    src = base / "later"
    second_batch(src)
    write(src, "pendingAgencies04122025am.xlsx", PENDING_HEADER, [])  # empty: suspect
    outcomes = {o.list: o for o in ingest_paths(store, [src])}
    failed = publish_after(store, refresh_report(ledger.BLOCKED))
    assert not failed.failures and "the refresh failed" in failed.line
    suspect = publish_after(store, refresh_report(sha256=outcomes["pending"].sha256))
    assert not suspect.failures and "is suspect (pending list is empty)" in suspect.line
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == good

    sound = publish_after(store, refresh_report(sha256=outcomes["participating"].sha256))
    assert not sound.failures and sound.line.startswith(f"published {dest}")
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} != good

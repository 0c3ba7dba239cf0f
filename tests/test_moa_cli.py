"""`ice287g moa ...`: fetch (through --mirror), read, check, search, ledger, documents.

One harvest per module: a synthetic store whose participating version links real sample PDFs
at their ICE URLs, served by the replay server on 127.0.0.1 and fetched by the real command.
Planted in it: a row saying JEM whose PDF is a TFM agreement, a row whose PDF names another
agency, an image-only PDF, and an addendum link that answers 404.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.imports import heavy_imports
from support.replay_server import ReplayServer
from support.shared import samples_or_skip
from test_moa_harvest import (
    BROOME,
    CROW_WING,
    DOCLIB,
    FRANKLIN,
    GOOD,
    GRAYSON,
    RUSK,
    SCENARIO,
    VADOC,
    build_store,
    ice_url,
    sample,
)

import parsers.moa
from ice287g.cli import main
from ice287g.store import Store
from ice287g.store.documents import documents_path, read_documents
from parsers.moa import ocr_available

pytestmark = pytest.mark.usefixtures("moa_reads_once")  # each sample read once per run

# The harvest test's scenario, up to its first fault: five agreements (one addendum 404).
AGREEMENTS = SCENARIO[:5]
SERVED = {path: name for path, name in GOOD.items() if path != RUSK}


def run(*args, data_dir=None):
    prefix = ["--data-dir", str(data_dir)] if data_dir else []
    return CliRunner().invoke(main, [*prefix, *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def harvested(site_corpus, tmp_path_factory):
    """(data dir, result of `moa fetch`) after one harvest of AGREEMENTS."""
    samples_or_skip()
    root = tmp_path_factory.mktemp("moa-cli") / "data"
    build_store(root, AGREEMENTS)
    with ReplayServer(site_corpus) as server:
        for path_name, name in SERVED.items():
            server.add_route(DOCLIB + path_name, sample(name), "application/pdf")
        result = run("moa", "fetch", "--mirror", server.base_url, "--delay", "0", data_dir=root)
    return root, result


def records(result) -> list[dict]:
    return json.loads(result.stdout)


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_prints_one_line_per_url_and_a_summary(harvested):
    root, result = harvested
    assert result.exit_code == 0, result.output  # a 404 is data, not a failed run
    lines = result.stdout.splitlines()
    assert len(lines) == 6
    by_url = {}
    for line in lines:
        url = next(part for part in line.split() if part.startswith("https://"))
        by_url[url] = line
    assert by_url[ice_url(FRANKLIN)].startswith("stored ")
    assert by_url[ice_url("HardinCoKY_JEM_MOA.pdf")].startswith("already stored ")
    assert by_url[ice_url("BroomeCoNY_Addendum.pdf")].startswith("not found ")
    assert "HTTP 404" in by_url[ice_url("BroomeCoNY_Addendum.pdf")]
    assert (
        "6 URLs tried: 4 stored, 1 already stored, 1 not found, 0 blocked, 0 failed, "
        "0 refused; 0 left for later runs; 5 documents read"
    ) in result.stderr
    # The ledger keeps ICE's URLs; the mirror shows in final_url only.
    ledger = records(run("moa", "ledger", "--format", "json", data_dir=root))
    assert {r["url"] for r in ledger} == {ice_url(n) for n in [*SERVED, "BroomeCoNY_Addendum.pdf"]}
    assert all(r["final_url"].startswith("http://127.0.0.1:") for r in ledger)
    dead = records(
        run("moa", "ledger", "--outcome", "not found", "--format", "json", data_dir=root)
    )
    assert [(r["url"], r["http_status"]) for r in dead] == [
        (ice_url("BroomeCoNY_Addendum.pdf"), 404)
    ]


def test_fetch_without_a_participating_version_says_so(tmp_path):
    result = run("moa", "fetch", "--delay", "0", data_dir=tmp_path / "empty")
    assert result.exit_code == 1
    assert "no participating version" in result.stderr
    assert not (tmp_path / "empty").exists()  # nothing created on the way


# --- check -----------------------------------------------------------------------------------


def test_check_finds_the_planted_disagreements_and_nothing_else(harvested):
    root, _ = harvested
    result = run("moa", "check", "--format", "json", data_dir=root)
    assert result.exit_code == 0, result.output
    found = records(result)
    assert set(found[0]) == {
        "state",
        "agency",
        "model",
        "agreement_id",
        "moa_url",
        "problem",
        "detail",
    }
    assert sorted((r["state"], r["agency"], r["problem"]) for r in found) == [
        ("AL", "Franklin County Sheriff's Office", "model differs"),
        ("KY", "Hardin County Detention Center", "agency differs"),
        ("NY", "Broome County Sheriff's Office", "link dead"),
        ("NY", "Broome County Sheriff's Office", "no text layer"),
    ]
    detail = {(r["agency"], r["problem"]): r for r in found}
    franklin = detail[("Franklin County Sheriff's Office", "model differs")]
    assert franklin["model"] == "JEM" and franklin["moa_url"] == ice_url(FRANKLIN)
    assert franklin["detail"] == "PDF: TFM, spreadsheet: JEM"
    assert (
        "'Grayson County Detention Center'"
        in detail[("Hardin County Detention Center", "agency differs")]["detail"]
    )
    dead = detail[("Broome County Sheriff's Office", "link dead")]["detail"]
    assert dead.startswith("addendum not found on ") and "HTTP 404" in dead
    no_text = detail[("Broome County Sheriff's Office", "no text layer")]["detail"]
    assert no_text.startswith("1 of 10 pages carry text")  # the signature page only


# --- search ----------------------------------------------------------------------------------


def test_search_finds_a_phrase_across_line_breaks_with_a_snippet(harvested):
    root, _ = harvested
    # Both TFM samples delegate warrantless arrest of an alien "likely to escape before a
    # warrant can be obtained"; the JEM and WSO samples do not say it.
    result = run(
        "moa", "search", "LIKELY TO ESCAPE before a warrant", "--format", "json", data_dir=root
    )
    assert result.exit_code == 0, result.output
    hits = records(result)
    assert sorted(h["agency"] for h in hits) == [
        "Crow Wing County Sheriff's Office",
        "Franklin County Sheriff's Office",
    ]
    for hit in hits:
        assert "likely to escape before a warrant" in hit["snippet"].lower()
        assert hit["document"] == "moa" and hit["hits"] >= 1 and hit["page"] >= 1
        assert len(hit["snippet"]) < 250

    in_mn = records(
        run(
            "moa",
            "search",
            "likely to escape before a warrant",
            "--state",
            "mn",
            "--format",
            "json",
            data_dir=root,
        )
    )
    assert [(h["state"], h["url"]) for h in in_mn] == [("MN", ice_url(CROW_WING))]

    grayson = records(
        run("moa", "search", "Grayson County Detention Center", "--format", "json", data_dir=root)
    )
    # The same PDF is linked by Grayson's row and (wrongly) by Hardin's: both rows answer.
    assert sorted(h["agency"] for h in grayson) == [
        "Grayson County Detention Center",
        "Hardin County Detention Center",
    ]

    none = run("moa", "search", "no such phrase anywhere", "--format", "json", data_dir=root)
    assert none.exit_code == 0 and records(none) == []
    bad = run("moa", "search", "warrant", "--state", "Atlantis", data_dir=root)
    assert bad.exit_code == 1 and "unknown state 'Atlantis'" in bad.stderr


# --- read ------------------------------------------------------------------------------------


def test_read_real_samples_as_json_records():
    folder = samples_or_skip()
    names = [BROOME, RUSK, VADOC, GRAYSON, FRANKLIN]
    result = run(
        "moa", "read", *[str(folder / n) for n in names], "--format", "json", "--workers", "2"
    )
    assert result.exit_code == 0, result.output
    got = {Path(r["file"]).name: r for r in records(result)}
    assert list(got) == names  # in the order given
    assert all(
        set(r) == {"file", "pages", "has_text", "model", "agency_text", "template_revision"}
        for r in got.values()
    )
    assert [n for n, r in got.items() if not r["has_text"]] == [BROOME, RUSK, VADOC]
    assert got[GRAYSON] == {
        "file": str(folder / GRAYSON),
        "pages": 11,
        "has_text": True,
        "model": "JEM",
        "agency_text": "Grayson County Detention Center",
        "template_revision": "Revised 02/15/2025",
    }
    assert (got[FRANKLIN]["model"], got[FRANKLIN]["pages"]) == ("TFM", 14)


def test_read_reports_a_bad_file_by_name_and_reads_the_others(tmp_path):
    folder = samples_or_skip()
    bad = tmp_path / "moa_download.pdf"
    bad.write_bytes(b"<!DOCTYPE html><html><title>Access Denied</title></html>")
    result = run("moa", "read", str(bad), str(folder / RUSK), "--format", "json")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {bad}: not a PDF, looks like an HTML page (starts with b'<!DOCTYPE html><html')"
    ]
    assert [Path(r["file"]).name for r in records(result)] == [RUSK]


def test_read_a_folder_and_usage_errors(tmp_path):
    folder = samples_or_skip()
    (tmp_path / "notes.txt").write_text("not a pdf, and not named like one")
    shutil.copy(folder / RUSK, tmp_path / RUSK)
    result = run("moa", "read", str(tmp_path), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "file,pages,has_text,model,agency_text,template_revision",
        f"{tmp_path / RUSK},10,False,unknown,,",
    ]
    both = run("moa", "read", str(tmp_path / RUSK), "--rebuild", data_dir=tmp_path / "d")
    assert both.exit_code == 2 and "not both" in both.stderr
    neither = run("moa", "read", data_dir=tmp_path / "d")
    assert neither.exit_code == 2


@pytest.mark.skipif(ocr_available(), reason="tesseract is installed here")
def test_read_ocr_without_tesseract_says_so(tmp_path):
    folder = samples_or_skip()
    result = run("moa", "read", "--ocr", str(folder / RUSK), "--format", "json")
    assert result.exit_code == 0
    assert "OCR not available: tesseract is not installed" in result.stderr
    assert records(result)[0]["has_text"] is False


def test_read_rebuild_and_documents_listing(harvested, tmp_path, moa_reads_once, monkeypatch):
    # The rebuild reads every PDF again for real: it must reproduce what the first reading stored.
    monkeypatch.setattr(parsers.moa, "read_moa", moa_reads_once)
    source, _ = harvested
    root = tmp_path / "data"
    shutil.copytree(source, root)  # leave the module's store alone
    before = read_documents(Store(root)).drop_columns(["extracted_at"]).sort_by("url")
    documents_path(Store(root)).unlink()

    result = run("moa", "read", "--rebuild", data_dir=root)

    assert result.exit_code == 0, result.output
    assert "5 documents, 0 unreadable" in result.stderr
    after = read_documents(Store(root)).drop_columns(["extracted_at"]).sort_by("url")
    assert after.equals(before)
    listing = records(run("moa", "documents", "--format", "json", data_dir=root))
    assert "text" not in listing[0]
    assert {r["url"]: r["model"] for r in listing} == {
        ice_url(FRANKLIN): "TFM",
        ice_url(GRAYSON): "JEM",
        ice_url("HardinCoKY_JEM_MOA.pdf"): "JEM",
        ice_url(BROOME): "unknown",
        ice_url(CROW_WING): "TFM",
    }


def test_moa_commands_do_not_import_prefect(tmp_path):
    found = heavy_imports(tmp_path, [["moa", "check"], ["moa", "ledger"]])
    assert [r.imported for r in found] == [[], []]

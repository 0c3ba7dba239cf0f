"""The published page in Debian's chromium, one browser for the file: on the small store whose
every answer is known (test_publish.py), and on the real corpus, where every shareable address
answers what the Python API answers for the same store; never a console error or a request
outside the site."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from click.testing import CliRunner
from support.browser import chromium, watched
from support.files import tree_digest
from test_publish import first_batch, make_store, second_batch

from ice287g.cli import main
from ice287g.publish import publish
from ice287g.publish.page import RECORD_FIELDS as PAGE_RECORD
from ice287g.query import counts, latest
from ice287g.query.diff import diff
from ice287g.query.history import agreements
from ice287g.query.identity import load

corpus = pytest.mark.corpus


@pytest.fixture(scope="module")
def browser():
    """One Chromium for every page of the file (its start is the dear part)."""
    with chromium() as context:
        yield context


# --- the small store ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("publish"), first_batch, second_batch)


@pytest.fixture(scope="module")
def small_page(small_store, tmp_path_factory, browser):
    dest = tmp_path_factory.mktemp("site") / "www"
    publish(str(dest), small_store, base_url="https://example.org/287g")
    with watched(browser, dest) as watch:
        yield watch


def test_page_diff_as_of_and_agency_on_the_small_store(small_page, small_store):
    page, store = small_page, small_store
    d = diff("2025-04-03", "2025-04-10", data_dir=store)
    assert len(d) == 4  # added, removed, renamed, re-signed: one each
    p = page.open("?diff=2025-04-03..2025-04-10")
    shown = {k: p.inner_text(f"#diff-{k}") for k in ("added", "removed", "renamed", "resigned")}
    assert shown == {"added": "1", "removed": "1", "renamed": "1", "resigned": "1"}
    assert "Beta Police Department" in p.inner_text("#diff-removed-rows + .table-wrap")
    p = page.open("?as_of=2025-04-04")
    assert p.inner_text("#total-participating") == "4"
    assert "No pending version yet" in p.inner_text("#tile-pending")  # the first is 04-05
    p = page.open("?as_of=2025-04-05")
    assert (p.inner_text("#total-participating"), p.inner_text("#total-pending")) == ("4", "1")
    p = page.open("?agency=FL:tampapolicedepartment")
    p.wait_for_selector("#agency-timeline")
    timeline = p.inner_text("#agency-timeline")
    assert "Tampa PD" in timeline and "Tampa Police Department" in timeline
    p = page.open("?as_of=04-04-2025")
    assert "not a date" in p.inner_text("#status")
    assert page.errors == [] and page.outside() == []


# --- the real corpus ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(corpus_scratch):
    # the session's writable copy of the corpus store: publishing caches the history tables
    return corpus_scratch


@pytest.fixture(scope="module")
def site(store, tmp_path_factory):
    dest = tmp_path_factory.mktemp("corpus-site") / "www"
    publish(str(dest), store)
    return dest


@pytest.fixture(scope="module")
def browser_page(site, browser):
    with watched(browser, site) as watch:
        yield watch


@pytest.fixture
def page(browser_page):
    """The page; after each test: no console error, no request outside the site."""
    browser_page.errors.clear()
    yield browser_page
    assert browser_page.errors == []
    assert browser_page.outside() == []
    assert browser_page.requests


def newest_agreements(store, lst="participating", as_of=None):
    """One record per resolved agreement (as the page and `diff` fold ICE's duplicate rows
    and spellings): agreement id -> (state, agency, model, agency_id, county_fips, ...)."""
    sha = latest(lst, as_of, store, include_suspect=False).attrs["version"]["sha256"]
    listed = load(store).listed(sha)
    return {r[0]: r[1:] for r in listed[PAGE_RECORD].itertuples(index=False, name=None)}


@corpus
def test_as_of_2025_04_04_shows_444(page, store):
    p = page.open("?as_of=2025-04-04")
    assert p.inner_text("#total-participating") == "444"
    by_model = counts("participating", ["model"], as_of="2025-04-04", data_dir=store)
    assert int(by_model["count"].sum()) == 444
    for model, n in zip(by_model["model"], by_model["count"]):
        assert p.inner_text(f"#tile-participating li[data-model='{model}'] .n") == str(n)
    assert p.inner_text("#total-pending") == "66"
    assert "participating_2025-04-03_81aebec4.xlsx" in p.inner_text("#tile-participating")
    assert p.get_attribute("#rows-count", "data-shown") == "444"
    assert "in effect on 2025-04-04" in p.inner_text("#list-title")


@corpus
@pytest.mark.parametrize(
    "a, b, lst",
    [
        ("2025-04-04", "2025-07-01", "participating"),
        ("2025-08-08", "2025-08-11", "participating"),  # a rename across a same-day version
        ("2025-12-31", "2025-06-01", "participating"),  # backwards
        ("2025-11-05", "2025-11-21", "pending"),  # skips the empty (suspect) pending lists
    ],
)
def test_diff_address_shows_the_stores_changes(page, store, a, b, lst):
    d = diff(a, b, lst, store)
    expected = {
        "added": int((d["change"] == "added").sum()),
        "removed": int((d["change"] == "removed").sum()),
        "renamed": int((d["change"] == "renamed").sum()),
        "resigned": int((d["change"] == "re_signed").sum()),
        "other": int(d["change"].isin(["changed", "moa_posted"]).sum()),
    }
    assert expected["added"] + expected["removed"] > 0
    query = f"?diff={a}..{b}" + ("" if lst == "participating" else f"&list={lst}")
    p = page.open(query)
    shown = {k: int(p.inner_text(f"#diff-{k}").replace(",", "")) for k in expected}
    assert shown == expected
    if expected["removed"]:
        rows = p.locator("#diff-removed-rows + .table-wrap tbody tr")
        assert rows.count() == expected["removed"]
        removed = set(d[d["change"] == "removed"]["agency"])
        assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == removed


@corpus
def test_search_and_state_filter_narrow_the_table(page, store):
    newest = newest_agreements(store)
    p = page.open("")
    total = int(p.get_attribute("#rows-count", "data-shown"))
    assert total == len(newest)
    p.fill("#search", "sheriff")
    sheriff = [r for r in newest.values() if re.search(r"\bsheriff", f"{r[1]} {r[6]}".lower())]
    assert int(p.get_attribute("#rows-count", "data-shown")) == len(sheriff) < total
    p.select_option("#filter-state", "TX")
    tx = [r for r in sheriff if r[0] == "TX"]
    assert int(p.get_attribute("#rows-count", "data-shown")) == len(tx) < len(sheriff)
    states = p.locator("#list-table tbody td:first-child").all_inner_texts()
    assert set(states) == {"TX"}
    assert "state=TX" in p.url and "q=sheriff" in p.url  # the filtered view is an address
    p.select_option("#filter-state", "")
    p.fill("#search", "Harris County")
    agencies = p.locator("#list-table tbody td:nth-child(2)").all_inner_texts()
    counties = p.locator("#list-table tbody td:nth-child(4)").all_inner_texts()
    assert agencies and all(
        re.search(r"\bharris count", f"{a} {c}".lower()) for a, c in zip(agencies, counties)
    )
    assert not any("Harrison" in a for a in agencies)  # whole words, not "harris..."


@corpus
def test_state_address_shows_the_state(page, store):
    by_state = counts("participating", ["state"], data_dir=store)
    newest = by_state[by_state["date"] == by_state["date"].max()]
    tx = int(newest[newest["state"] == "TX"]["count"].iloc[0])
    p = page.open("?state=TX")
    assert p.input_value("#filter-state") == "TX"
    assert p.inner_text("#total-participating") == f"{tx:,}"
    assert p.inner_text("#chart-scope") == "(TX)"
    assert set(p.locator("#list-table tbody td:first-child").all_inner_texts()) == {"TX"}


@corpus
def test_agency_address_shows_its_history(page, store):
    p = page.open("?agency=FL:taylorcountysheriffsoffice")
    p.wait_for_selector("#agency-agreements")
    expected = agreements(state="FL", data_dir=store)
    expected = expected[expected["agency_id"] == "FL:taylorcountysheriffsoffice"]
    models = p.locator("#agency-agreements tbody td:first-child").all_inner_texts()
    assert sorted(models) == sorted(expected["model"]) == ["JEM", "TFM", "WSO"]
    assert "Taylor County Sheriff's Office" in p.inner_text("#agency-name")
    assert p.locator("#agency-timeline tbody tr").count() > 3


@corpus
def test_map_colors_the_counties_of_the_newest_list(page, store, site):
    p = page.open("")
    p.wait_for_selector("#map svg .counties path")
    config = json.loads(p.inner_text("#config"))
    atlas = json.loads((site / config["counties"]).read_text())
    atlas_ids = {g["id"] for g in atlas["objects"]["counties"]["geometries"]}
    newest = newest_agreements(store)
    expected: dict[str, int] = {}
    for r in newest.values():
        fips = r[4]
        if fips:
            expected[fips] = expected.get(fips, 0) + 1
    drawn = p.eval_on_selector_all(
        "#map .counties path",
        "ps => ps.map(p => [p.getAttribute('data-fips'), +p.getAttribute('data-n')])",
    )
    assert len(drawn) == len(atlas_ids) > 3000
    colored = {f: n for f, n in drawn if n}
    assert colored == {f: n for f, n in expected.items() if f in atlas_ids}
    assert len(colored) > 300


@corpus
def test_a_bad_address_says_what_is_wrong(page):
    p = page.open("?as_of=2025-13-45")
    assert "not a date" in p.inner_text("#status")
    p = page.open("?diff=2024-01-01..2025-04-04")
    assert "no participating version on or before 2024-01-01" in p.inner_text("#status")


@corpus
def test_nightly_refresh_publishes_and_a_failed_refresh_leaves_the_site(
    replay_server, tmp_path, monkeypatch
):
    dest = tmp_path / "www"
    monkeypatch.setenv("ICE287G_PUBLISH_TO", str(dest))
    args = ["--data-dir", str(tmp_path / "data"), "refresh", "--no-prefect", "--no-moa"]
    args += ["--source", replay_server.page_url]
    replay_server.set_day(date(2025, 4, 3))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert f"published {dest}: " in res.output
    assert "2025-04-03" in (dest / "data" / "catalog.csv").read_text()
    good = tree_digest(dest)

    replay_server.set_day(date(2025, 4, 8))  # both lists change; one download is blocked
    replay_server.block(replay_server.page_links()["participating"].path, status=403)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert f"not published to {dest}: the refresh failed" in res.output
    assert tree_digest(dest) == good

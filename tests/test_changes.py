"""diff: the pure core on synthetic frames (properties), then the real corpus.

The corpus tests read the session's writable corpus copy (``corpus_scratch``: diff caches
the identity).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from support.diff import agreements_of, apply_diff

from ice287g.normalize.apply import agency_id, agreement_id
from ice287g.query.diff import (
    DIFF_COLUMNS,
    comparable_fields,
    diff,
    diff_frames,
    two_versions,
)

# --- synthetic frames ------------------------------------------------------------------------
# Spelling variants (typos, abbreviations, state prefix, reordering) next to look-alike
# agencies that are different (other county, one extra place word).
NAMES = [
    ("NC", "Albemarle District Jail"),
    ("NC", "Albermarle District Jail"),
    ("TX", "Bailey County Sheriff's Office"),
    ("TX", "Hale County Sheriff's Office"),
    ("FL", "Melbourne Police Department"),
    ("FL", "West Melbourne Police Department"),
    ("FL", "Tampa PD"),
    ("FL", "Tampa Police Department"),
    ("TX", "Harris County Sheriff's Office"),
    ("TX", "harris county sheriffs office"),
    ("WY", "Wyoming Highway State Patrol"),
    ("WY", "Wyoming State Highway Patrol"),
    ("AK", "Department of Corrections"),
    ("AK", "Alaska Department of Corrections"),
    ("TX", "Dimmit Couny Sheriff's Office"),
    ("TX", "Dimmit County Sheriff's Office"),
    ("TX", "Hall County Sheriff's Office"),
    ("FL", "City of Miami Springs Police Department"),
    ("FL", "Miami Springs Police Department"),
]
COUNTY_FIPS = {
    "Bailey County": "48017",
    "Hale County": "48189",
    "Harris County": "48201",
    "Hall County": "48191",
}


def make_row(name_i, model, signed, county, moa, url_i):
    state, name = NAMES[name_i]
    aid = agency_id(state, name)
    return {
        "state": state,
        "agency": name,
        "model": model,
        "agency_id": aid,
        "agreement_id": agreement_id(aid, model),
        "signed": signed,
        "county": county,
        "county_fips": COUNTY_FIPS.get(county),
        "agency_type": "county",
        "moa_status": moa,
        "moa_url": f"https://www.ice.gov/doclib/{url_i}.pdf" if moa == "available" else None,
        "addendum_url": None,
    }


rows = st.builds(
    make_row,
    st.integers(0, len(NAMES) - 1),
    st.sampled_from(["JEM", "TFM", "WSO", None]),
    st.sampled_from([date(2025, 3, 1), date(2025, 4, 2), None]),
    st.sampled_from(list(COUNTY_FIPS) + [None]),
    st.sampled_from(["available", "pending", "missing", None]),
    st.integers(0, 2),
)
frames = st.lists(rows, max_size=14).map(
    lambda rs: pd.DataFrame(rs, columns=list(make_row(0, "JEM", None, None, None, 0)))
)


# The properties of one diff share its examples: each example costs a few diffs (an identity
# resolution each), so every property is checked on every example of two versions.
@given(frames, frames, st.randoms(use_true_random=False))
def test_diff_properties_of_two_versions(a, b, rnd):
    # diff_frames(a, b) is this identity's diff; the identity also gives each side's ids.
    ident = two_versions(a, b)
    ab, ba = ident.diff("a", "b"), diff_frames(b, a)

    # A version does not differ from itself.
    assert diff_frames(a, a).empty

    # Added one way is removed the other way.
    assert set(ab[ab.change == "added"].agreement_id) == set(
        ba[ba.change == "removed"].agreement_id
    )
    assert set(ab[ab.change == "removed"].agreement_id) == set(
        ba[ba.change == "added"].agreement_id
    )

    # A rename one way is the same rename back the other way (field changes are not
    # symmetric by kind: a posted MOA reverses into a changed status and URL).
    def renames(d, swap=False):
        r = d[d.change == "renamed"]
        pairs = zip(r.after, r.before) if swap else zip(r.before, r.after)
        return Counter(pairs)

    assert renames(ab) == renames(ba, swap=True)

    # Applying the diff to a gives b.
    ids_a, ids_b = agreements_of(ident, a, b)
    assert apply_diff(ids_a, ab) == ids_b
    # Each agreement is reported at most once as added/removed, never both.
    moved = ab[ab.change.isin(["added", "removed"])]
    assert not moved.agreement_id.duplicated().any()

    # Row order and repeated rows do not matter.
    order = list(range(len(b)))
    rnd.shuffle(order)
    shuffled = pd.concat([b.iloc[order], b.iloc[order[: len(order) // 2]]])  # some twice
    # (and diff_frames gives what the identity gave)
    pd.testing.assert_frame_equal(diff_frames(a, shuffled), ab)


def test_records_are_flat_with_the_contract_columns():
    a = pd.DataFrame([make_row(8, "TFM", date(2025, 3, 1), "Harris County", "pending", 0)])
    b = pd.DataFrame(
        [
            make_row(8, "TFM", date(2025, 4, 2), "Harris County", "available", 1),
            make_row(4, "WSO", None, None, "missing", 0),
        ]
    )
    d = diff_frames(a, b)
    assert list(d.columns) == DIFF_COLUMNS
    recs = d.to_dict(orient="records")
    assert recs[0] == {
        "change": "added",
        "state": "FL",
        "agency": "Melbourne Police Department",
        "model": "WSO",
        "agreement_id": "FL:melbournepolicedepartment:WSO",
        "field": None,
        "before": None,
        "after": None,
        "agency_id": "FL:melbournepolicedepartment",
        "evidence": None,
    }
    changed = {(r["change"], r["field"], r["before"], r["after"]) for r in recs[1:]}
    assert changed == {
        ("re_signed", "signed", "2025-03-01", "2025-04-02"),  # 32 days later: a renewal
        ("moa_posted", "moa_url", "pending", "https://www.ice.gov/doclib/1.pdf"),
    }


def one(name_i, model="WSO", county=None, signed=date(2025, 3, 1)):
    return pd.DataFrame([make_row(name_i, model, signed, county, "pending", 0)])


@pytest.mark.parametrize(
    "old, new",
    [
        (1, 0),  # Albermarle -> Albemarle (one letter)
        (6, 7),  # Tampa PD -> Tampa Police Department (abbreviation)
        (10, 11),  # word order
        (12, 13),  # the state's name added
        (14, 15),  # Couny -> County
        (17, 18),  # "City of" dropped
    ],
)
def test_spelling_changes_are_one_renamed_record(old, new):
    d = diff_frames(one(old), one(new))
    assert list(d.change) == ["renamed"] and d.field[0] == "agency"
    assert (d.before[0], d.after[0]) == (NAMES[old][1], NAMES[new][1])
    # The agreement keeps the id of its first spelling.
    assert d.agreement_id[0] == agreement_id(agency_id(*NAMES[old]), "WSO")
    assert d.evidence[0]  # the tier that linked the spellings


@pytest.mark.parametrize(
    "old, new, old_signed, new_signed",
    [
        (2, 3, date(2025, 3, 1), date(2025, 4, 2)),  # other agency, other signing date
        (4, 5, None, None),  # West Melbourne is another town, and nothing links them
    ],
)
def test_look_alike_agencies_are_not_renames(old, new, old_signed, new_signed):
    d = diff_frames(one(old, signed=old_signed), one(new, signed=new_signed))
    assert sorted(d.change) == ["added", "removed"]


def test_renames_need_the_same_model():
    d = diff_frames(one(1, "WSO"), one(0, "JEM"))
    assert sorted(d.change) == ["added", "removed"]


def test_a_name_change_within_one_id_is_reported_as_renamed():
    d = diff_frames(one(8), one(9))  # same agreement_id, other case and apostrophe
    assert list(zip(d.change, d.field)) == [("renamed", "agency")]


def test_duplicate_rows_with_conflicting_values_give_no_bogus_change():
    # ICE listed St. Cloud PD twice on 2025-07-03: one row with the MOA, one without.
    def row(signed, moa):
        return {
            "state": "FL",
            "agency": "St. Cloud Police Department",
            "model": "TFM",
            "agency_id": "FL:stcloudpolicedepartment",
            "agreement_id": "FL:stcloudpolicedepartment:TFM",
            "signed": signed,
            "moa_status": moa,
            "moa_url": "https://www.ice.gov/doclib/x.pdf" if moa == "available" else None,
        }

    twins = pd.DataFrame([row(date(2025, 4, 15), "pending"), row(date(2025, 4, 14), "available")])
    assert diff_frames(twins, twins.iloc[::-1]).empty
    assert diff_frames(twins, twins.iloc[[1]]).empty  # the twin without the MOA left
    left = diff_frames(twins, twins.iloc[[0]])  # the one with the MOA left: a real change
    assert set(left.field) == {"signed", "moa_status", "moa_url"}


def test_fields_are_compared_only_when_both_versions_have_the_column():
    early = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "SIGNED", "MOA"]
    later = early[:3] + ["COUNTY"] + early[3:] + ["ADDENDUM"]
    assert comparable_fields(early, later) == (
        "agency",
        "signed",
        "agency_type",
        "moa_status",
        "moa_url",
    )
    assert comparable_fields(later, later)[-1] == "addendum_url"
    pending = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"]
    assert comparable_fields(pending, pending) == ("agency", "county", "agency_type")


# --- the real corpus ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(corpus_scratch):
    return corpus_scratch


def version_ids(store, day, lst="participating"):
    from ice287g.query import latest

    df = latest(lst, day, store, include_suspect=False)
    return df, set(df["agreement_id"])


@pytest.mark.corpus
@pytest.mark.parametrize(
    "a, b",
    [
        ("2025-04-04", "2025-07-01"),
        ("2025-02-21", "2025-12-31"),
        ("2025-07-14", "2025-07-15"),
        ("2025-03-07", "2025-03-17"),
        ("2025-12-31", "2025-06-01"),
    ],
)
def test_diff_agrees_with_plain_set_operations(store, a, b):
    from ice287g.query.identity import load

    ident = load(store)
    d = diff(a, b, data_dir=store)
    fa, keys_a = version_ids(store, a)
    fb, keys_b = version_ids(store, b)
    # Exact keys (each row's own spelling) mapped through the identity to stable ids.
    fa = fa.assign(stable=fa.agreement_id.map(ident.agreement_of))
    fb = fb.assign(stable=fb.agreement_id.map(ident.agreement_of))
    ids_a, ids_b = set(fa.stable), set(fb.stable)
    assert set(d[d.change == "added"].agreement_id) == ids_b - ids_a
    assert set(d[d.change == "removed"].agreement_id) == ids_a - ids_b
    # A rename links a spelling listed only before to one listed only after, both of which
    # resolve to the renamed agreement, listed on both sides.
    renames = d[d.change == "renamed"]
    assert set(renames.agreement_id) <= ids_a & ids_b
    twice = set(fa.stable[fa.stable.duplicated()]) | set(fb.stable[fb.stable.duplicated()])
    for r in renames.itertuples():
        old = agreement_id(agency_id(r.state, r.before), r.model)
        new = agreement_id(agency_id(r.state, r.after), r.model)
        assert r.before != r.after and old in keys_a and new in keys_b
        # The printed name changed; the key may not (case, punctuation: "St. Johns" and
        # "St Johns"). Otherwise an old key still listed after (or a new one already
        # before) is the second spelling of an agreement listed twice side by side.
        if old != new and (old in keys_b or new in keys_a):
            assert r.agreement_id in twice
        assert ident.agreement_of(old) == ident.agreement_of(new) == r.agreement_id
    # Plain set differences on exact keys: a key gone from b is a removal, a rename's old
    # spelling or the second spelling of an agreement listed twice; likewise a new key.
    gone = {ident.agreement_of(k) for k in keys_a - keys_b}
    new_keys = {ident.agreement_of(k) for k in keys_b - keys_a}
    assert gone <= set(d[d.change.isin(["removed", "renamed"])].agreement_id) | twice
    assert new_keys <= set(d[d.change.isin(["added", "renamed"])].agreement_id) | twice
    # MOA status changes of agreements listed once on both sides, counted independently.
    once_a = fa.drop_duplicates("stable", keep=False).set_index("stable")
    once_b = fb.drop_duplicates("stable", keep=False).set_index("stable")
    common = once_a.index.intersection(once_b.index)
    expected = (
        once_a.loc[common, "moa_status"].fillna("") != once_b.loc[common, "moa_status"].fillna("")
    ).sum()
    status = (d.change == "moa_posted") | (d.field == "moa_status")
    got = d[status & d.agreement_id.isin(common)]
    assert len(got) == expected


@pytest.mark.corpus
def test_diff_header_names_the_versions(store):
    d = diff("2025-04-04", "2025-07-01", data_dir=store)
    note = d.attrs["note"]
    # The README's reference version stands for April 4, 2025 (444 agreements).
    assert "# 2025-04-04: participating version 2025-04-03 #1 sha256 81aebec4696e" in note
    # 744 rows with distinct exact keys on 2025-07-01, but two agreements are listed twice
    # side by side (St. Cloud and Zephyrhills, FL, with and without "City of"): 742.
    assert "(agreements: 444 -> 742)" in note
    assert "not compared (column absent from a version): addendum_url" in note
    assert "suspect versions skipped" in note
    assert d.attrs["versions"]["b"]["date"] == date(2025, 7, 1)


@pytest.mark.corpus
def test_real_spelling_fixes_are_changes_not_removals(store):
    # Checked by eye in the workbooks: "Albermarle District Jail" until the 2025-03-18 file,
    # "Albemarle District Jail" from 2025-03-27; "Macro Island" became "Marco Island" on
    # 2025-05-16.
    d = diff("2025-03-18", "2025-03-27", data_dir=store)
    # One renamed record under the stable id (the first spelling's key); no removal and no
    # addition of either spelling.
    jail = d[d.agreement_id == "NC:albermarledistrictjail:WSO"]
    assert list(zip(jail.change, jail.field, jail.before, jail.after)) == [
        ("renamed", "agency", "Albermarle District Jail", "Albemarle District Jail")
    ]
    assert "NC:albemarledistrictjail:WSO" not in set(d.agreement_id)
    assert not d[d.change.isin(["added", "removed"]) & d.agency.str.contains("Albe")].size
    d = diff("2025-05-12", "2025-05-16", data_dir=store)
    renamed = d[d.change == "renamed"]
    assert ("Macro Island Police Department", "Marco Island Police Department") in set(
        zip(renamed.before, renamed.after)
    )
    assert not d[d.change.isin(["added", "removed"]) & d.agency.str.contains("Island")].size


@pytest.mark.corpus
def test_suspect_versions_are_flagged_and_skipped(store):
    from ice287g.query import counts, snapshots

    cat = snapshots(data_dir=store)
    suspect = cat[cat.suspect]
    # The empty November 2025 pending lists (README) are the corpus' suspect versions.
    assert set(suspect["list"]) == {"pending"} and (suspect["rows"] == 0).all()
    assert sorted(map(str, suspect["date"])) == [
        "2025-11-06",
        "2025-11-14",
        "2025-11-18",
        "2025-11-19",
        "2025-11-20",
        "2025-11-21",
    ]
    assert set(suspect["suspect_reason"]) == {"pending list is empty"}
    assert cat[(cat.list == "pending") & (cat.rows == 0)].suspect.all()
    # No participating version loses more than 20% of the previous one's rows in this
    # corpus, so the mass-drop rule flags nothing here (tested on a built store in
    # test_history.py).
    part = cat[cat.list == "participating"]["rows"].tolist()
    assert all(r >= 0.8 * p for p, r in zip(part, part[1:]))
    # counts skips them by default, keeps them when asked.
    shas = set(suspect["sha256"])
    assert not shas & set(counts("pending", data_dir=store)["sha256"])
    kept = counts("pending", include_suspect=True, data_dir=store)
    assert (kept[kept.sha256.isin(shas)]["count"] == 0).all() and kept.sha256.isin(shas).any()


@pytest.mark.corpus
def test_diff_skips_an_empty_pending_list_and_says_so(store):
    d = diff("2025-11-05", "2025-11-21", list="pending", data_dir=store)
    assert d.attrs["versions"]["b"]["sha256"].startswith("0944ce71c4c4")  # 2025-11-19 #2
    assert "skipped suspect version 2025-11-21 #1" in d.attrs["note"]
    raw = diff("2025-11-05", "2025-11-21", list="pending", data_dir=store, include_suspect=True)
    _, before = version_ids(store, "2025-11-05", "pending")
    assert raw.attrs["versions"]["b"]["suspect"]
    assert set(raw.change) == {"removed"} and set(raw.agreement_id) == before
    assert "suspect versions included" in raw.attrs["note"]


@pytest.mark.corpus
def test_diff_command_formats(store):
    from ice287g.cli import main

    runner = CliRunner()
    res = runner.invoke(
        main, ["--data-dir", str(store), "diff", "2025-07-14", "2025-07-15", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    recs = json.loads(res.stdout)
    assert recs and all(list(r) == DIFF_COLUMNS for r in recs)
    # 2025-07-15 relabelled nine Florida agreements (renamed, not removed and added again).
    assert Counter(r["change"] for r in recs) == {"renamed": 9, "changed": 2, "removed": 1}
    assert res.stderr.startswith("# 2025-07-14: participating version 2025-07-14 #1")
    table = runner.invoke(main, ["--data-dir", str(store), "diff", "2025-07-14", "2025-07-15"])
    assert table.stdout.startswith("# 2025-07-14:") and "Indialantic" in table.stdout
    md = runner.invoke(
        main, ["--data-dir", str(store), "diff", "2025-07-14", "2025-07-15", "--format", "markdown"]
    )
    # One table per kind of change, headed by its count (tabulate pads the cells).
    flat = " ".join(md.stdout.split())
    assert "**removed (1)** | state | agency | model |" in flat
    assert "**renamed (9)** | state | agency | model | field | before | after | evidence |" in flat
    bad = runner.invoke(main, ["--data-dir", str(store), "diff", "2024-01-01", "2025-07-15"])
    assert bad.exit_code != 0 and "no participating version on or before 2024-01-01" in (bad.output)

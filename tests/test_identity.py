"""Identity across versions on small generated frames: each tier, its limits, the life story."""

from __future__ import annotations

import pandas as pd
import pytest
from identity_frames import frames, part, pend, row

from ice287g.identity import TIERS, Resolver, resolve
from ice287g.identity import aliases as alias_table
from ice287g.normalize.names import compare, words

NO_ALIASES = alias_table.empty()


def ident(*versions, aliases=NO_ALIASES):
    return resolve(*frames(*versions), aliases=aliases)


def one(identity, *names_and_models, state="FL"):
    """The agreement ids of (name, model) pairs."""
    from ice287g.normalize.apply import agency_id, agreement_id

    return {
        identity.agreement_of(agreement_id(agency_id(state, n), m)) for n, m in names_and_models
    }


# --- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b, state",
    [
        ("Boca Raton Police Department", "Boca Raton Police Services Department", "FL"),
        ("New Hampshire State Police", "New Hampshire State Police Department", "NH"),
        ("Louisiana State Patrol", "Louisiana State Police Department", "LA"),
        ("Flathead County Sheriff's Department", "Flathead County Sheriff's Office", "MT"),
        ("Quarryville Police Department", "Quarryville Borough Police Department", "PA"),
        ("City of St. Cloud Police Department", "St. Cloud Police Department", "FL"),
        ("Tampa PD", "Tampa Police Department", "FL"),
        ("Greens Fork Police Department", "Green Forks Police Department", "IN"),
        ("Department of Corrections", "Alaska Department of Corrections", "AK"),
        (
            "Okaloosa County Board of County Commissioners",
            "Okaloosa County Board of County Commissioners/ Department of Corrections",
            "FL",
        ),
        (
            "Florida Department of Environmental Protection",
            "Florida Department of Environmental Protection, Division of Law Enforcement",
            "FL",
        ),
    ],
)
def test_names_that_are_one_agency_are_similar(a, b, state):
    assert compare(a, b, state).similar
    assert compare(b, a, state).similar


@pytest.mark.parametrize(
    "a, b, state",
    [
        ("Melbourne Police Department", "West Melbourne Police Department", "FL"),
        ("Melbourne Police Department", "Melbourne Beach Police Department", "FL"),
        ("Edgewater Police Department", "Edgewood Police Department", "FL"),
        ("Marion County Sheriff's Office", "Martin County Sheriff's Office", "FL"),
        ("Broward County Sheriff's Office", "Gulf County BOCC", "FL"),
        ("Okaloosa County Sheriff's Office", "Okaloosa County Corrections", "FL"),
        (
            "Galveston County Constable's Office Pct.1",
            "Galveston County Constable's Office Pct.4",
            "TX",
        ),
        ("Washington County Sheriff's Office", "Spokane County Sheriff's Office", "WA"),
        ("Utah County Sheriff's Office", "Utah Department of Corrections", "UT"),
    ],
)
def test_names_of_two_agencies_are_not_similar(a, b, state):
    assert not compare(a, b, state).similar


def test_words_spell_out_abbreviations_and_drop_filler():
    assert words("Town of Palm Beach PD") == ("palm", "beach", "police")
    assert words("Greene Township Constables's Office") == ("greene", "township", "constable")
    assert words("Walker County Constable Pct 3") == words("Walker County Constable Precinct 3")
    assert compare("Lyon's County Sheriff's Office", "Lyon County Sheriff's Office", "KS").similar
    assert compare("X County Sheriff's Office", "X County SO", "TX").same_words


# --- the tiers ------------------------------------------------------------------------------------
def test_exact_key_folds_case_and_punctuation():
    i = ident(
        part("2025-03-01", row("Miami-Dade Sheriff's Office", signed="2025-02-26")),
        part("2025-03-02", row("Miami Dade Sheriff's Office", signed="2025-02-26")),
    )
    assert len(i.agreements()) == 1
    assert i.merges().empty  # one exact key: nothing to join
    ev = i.events()
    renamed = ev[ev["event"] == "renamed"].iloc[0]
    assert (renamed["before"], renamed["after"], renamed["evidence"]) == (
        "Miami-Dade Sheriff's Office",
        "Miami Dade Sheriff's Office",
        "exact",
    )


def test_same_moa_url_joins_a_rename_and_diff_calls_it_renamed():
    old = row("Escambia County Sheriff's Office", model="WSO", signed="2025-02-26", moa="esc")
    new = row(
        "Escambia County Board of County Commissioners/ Department of Corrections",
        model="WSO",
        signed="2025-02-26",
        moa="esc",
    )
    other = row("Escambia County Sheriff's Office", model="TFM", signed="2025-02-26")
    i = ident(part("2025-03-01", old, other), part("2025-03-03", new, other))
    assert one(
        i,
        ("Escambia County Sheriff's Office", "WSO"),
        ("Escambia County Board of County Commissioners/ Department of Corrections", "WSO"),
    ) == {"FL:escambiacountysheriffsoffice:WSO"}
    merge = i.merges(level="agreement").iloc[0]
    assert merge["tier"] == "moa_url" and "esc.pdf" in merge["detail"]
    # A sheriff's office is not a board's corrections department: the agencies stay two.
    assert i.agency_of("FL:escambiacountysheriffsoffice") != i.agency_of(
        "FL:escambiacountyboardofcountycommissionersdepartmentofcorrections"
    )
    d = i.diff(i.version_on("2025-03-01"), i.version_on("2025-03-03"))
    assert list(d["change"]) == ["renamed"]
    assert d.iloc[0]["evidence"] == "moa_url"
    assert i.agreements()["status"].eq("active").all()


def test_same_url_on_two_rows_side_by_side_is_a_candidate_not_a_merge():
    a = row("Satellite Beach Police Department", signed="2025-06-05", moa="sat")
    b = row("Sebastian Police Department", signed="2025-04-15", moa="sat")
    i = ident(part("2025-07-01", a, b), part("2025-07-02", a, b))
    assert len(i.agreements()) == 2
    assert i.merges().empty
    cand = i.candidates()
    assert len(cand) == 1 and "same MOA URL" in cand.iloc[0]["reason"]


def test_same_url_alone_is_not_enough_for_dissimilar_names():
    a = row("Alpha County Sheriff's Office", signed="2025-01-01", moa="x")
    b = row("Omega Police Department", signed="2025-05-01", moa="x")
    i = ident(part("2025-03-01", a), part("2025-06-01", b))
    assert len(i.agreements()) == 2
    assert "no signing date in common" in i.candidates().iloc[0]["reason"]


def test_signing_date_and_similar_name_join_a_rename():
    i = ident(
        part("2025-07-08", row("Quarryville Police Department", signed="2025-07-07")),
        part("2025-07-09", row("Other PD", signed="2025-01-01")),  # a version in between
        part("2025-07-15", row("Quarryville Borough Police Department", signed="2025-07-07")),
    )
    merge = i.merges(level="agreement").iloc[0]
    assert merge["tier"] == "signed_name"
    assert (
        i.agreements().set_index("agreement_id").loc["FL:quarryvillepolicedepartment:TFM", "names"]
        == "Quarryville Police Department; Quarryville Borough Police Department"
    )


def test_a_duplicate_listing_side_by_side_joins_only_with_the_very_same_words():
    st_cloud = row("St. Cloud Police Department", signed="2025-04-15")
    city = row("City of St. Cloud Police Department", signed="2025-04-15")
    marion = row("Marion County Sheriff's Office", signed="2025-02-26")
    martin = row("Martin County Sheriff's Office", signed="2025-02-26")
    i = ident(
        part("2025-05-01", st_cloud, city, marion, martin),
        part("2025-05-02", st_cloud, marion, martin),
    )
    assert (
        len(
            one(
                i,
                ("St. Cloud Police Department", "TFM"),
                ("City of St. Cloud Police Department", "TFM"),
            )
        )
        == 1
    )
    assert (
        len(
            one(
                i,
                ("Marion County Sheriff's Office", "TFM"),
                ("Martin County Sheriff's Office", "TFM"),
            )
        )
        == 2
    )
    # The duplicate dropping out is not a removal, and the spelling that stays stands for it.
    ev = i.events()
    assert "removed" not in set(ev["event"]) and "renamed" not in set(ev["event"])


def test_relabel_on_the_next_version():
    i = ident(
        part("2025-09-02", row("Pinal County Sheriff's Office", state="AZ", signed="2025-08-28")),
        part("2025-09-09", row("Pinal County Attorney's Office", state="AZ", signed="2025-08-28")),
    )
    assert i.merges(level="agreement").iloc[0]["tier"] == "relabel"
    assert len(i.agreements()) == 1


def test_relabel_with_several_candidates_on_one_day_is_left_for_review():
    signed = "2025-02-26"
    i = ident(
        part(
            "2025-02-26",
            row("Gulf County BOCC", signed=signed),
            row("Pasco County BOCC", signed=signed),
        ),
        part(
            "2025-03-07",
            row("Gulf County Sheriff's Office", signed=signed),
            row("Pasco County Sheriff's Office", signed=signed),
        ),
    )
    assert i.merges().empty
    assert set(i.candidates()["reason"].str[:17]) == {"relabel ambiguous"}
    assert len(i.terminations()) == 2  # without a verdict they are two removals


def test_alias_verdicts_win_over_the_rules(tmp_path):
    table = tmp_path / "aliases.csv"
    table.write_text(
        "name_a,name_b,state,model,verdict,note\n"
        "Gulf County BOCC,Gulf County Sheriff's Office,FL,TFM,same,checked\n"
        "Satellite Beach PD,Sebastian PD,FL,,distinct,two cities\n"
    )
    signed = "2025-02-26"
    i = ident(
        part(
            "2025-02-26",
            row("Gulf County BOCC", signed=signed),
            row("Satellite Beach PD", signed=signed, moa="sat"),
        ),
        part(
            "2025-03-07",
            row("Gulf County Sheriff's Office", signed=signed),
            row("Sebastian PD", signed=signed, moa="sat"),
        ),
        aliases=alias_table.load(table),
    )
    m = i.merges(level="agreement")
    assert list(m["tier"]) == ["alias"] and m.iloc[0]["detail"] == "checked"
    assert i.candidates().empty  # judged pairs are not listed again
    # Gulf's two names are one agreement; the two cities stay two, although one ended as the
    # other began with the same MOA URL and signing date (a relabel and a URL match).
    assert len(i.agreements()) == 3
    assert set(i.terminations()["agency"]) == {"Satellite Beach PD"}


def test_the_shipped_alias_table_is_valid():
    table = alias_table.load()
    assert len(table) and set(table["verdict"]) <= {"same", "distinct"}
    assert table["note"].str.len().gt(10).all()  # every verdict says why


@pytest.mark.parametrize(
    "line, problem",
    [
        ("A PD,B PD,FL,,maybe,x", "verdict must be same or distinct"),
        ("A PD,B PD,Florida,,same,x", "state must be a USPS code"),
        ("A PD,B PD,FL,XYZ,same,x", "model must be empty or one of"),
        ("A PD,A  P.D.,FL,,same,x", "already one"),
        (",B PD,FL,,same,x", "name_a and name_b are both needed"),
    ],
)
def test_a_bad_alias_table_is_refused_naming_file_and_line(tmp_path, line, problem):
    table = tmp_path / "aliases.csv"
    table.write_text("name_a,name_b,state,model,verdict,note\n" + line + "\n")
    with pytest.raises(alias_table.AliasTableError) as exc:
        alias_table.load(table)
    assert str(table) in str(exc.value) and "line 2" in str(exc.value)
    assert problem in str(exc.value)


def test_no_join_across_states_or_models():
    i = ident(
        part(
            "2025-03-01",
            row("Franklin County Sheriff's Office", state="AL", signed="2025-03-25", moa="fr"),
        ),
        part(
            "2025-03-02",
            row("Franklin County Sheriff's Office", state="GA", signed="2025-03-25", moa="fr"),
            row(
                "Franklin County Sheriff's Office",
                state="AL",
                model="WSO",
                signed="2025-03-25",
                moa="fr",
            ),
        ),
    )
    assert len(i.agreements()) == 3
    assert i.merges().empty


def test_pending_listing_joins_its_participating_agreement():
    i = ident(
        pend("2025-11-20", row("Palmer County Sheriff's Office", state="TX", model="WSO")),
        part("2025-11-20", row("Other County Sheriff's Office", state="TX", signed="2025-01-01")),
        part(
            "2025-11-26",
            row("Parmer County Sheriff's Office", state="TX", model="WSO", signed="2025-11-24"),
            row("Other County Sheriff's Office", state="TX", signed="2025-01-01"),
        ),
    )
    a = i.agreements(state="TX").set_index("agency").loc["Parmer County Sheriff's Office"]
    assert a["agreement_id"] == "TX:palmercountysheriffsoffice:WSO"  # the first spelling
    assert (str(a["pending_first_listed"]), a["days_waited"], a["pending_match"]) == (
        "2025-11-20",
        6,
        "agreement",
    )
    assert i.merges(level="agreement").iloc[0]["tier"] == "pending_name"
    assert set(i.aliases("Parmer County SO", state="TX")["name"]) == {
        "Palmer County Sheriff's Office",
        "Parmer County Sheriff's Office",
    }


# --- the life story -------------------------------------------------------------------------------
def story_identity():
    x = "Taylor County Sheriff's Office"
    return ident(
        part(
            "2025-01-01",
            row(x, model="WSO", signed="2019-10-15", moa="w1"),
            row("Gone PD", signed="2025-01-01", moa="g"),
        ),
        part(
            "2025-01-02",
            row(x, model="WSO", signed="2019-10-15", moa="w1"),
            row(x, model="TFM", signed="2025-01-02"),  # model_added; MOA pending
            row("Gone PD", signed="2025-01-01", moa="g"),
        ),
        part(
            "2025-01-03",
            row(x, model="WSO", signed="2019-10-16", moa="w1"),  # a correction
            row(x, model="TFM", signed="2025-01-02", moa="t1"),  # moa_posted
            row("Switch PD", model="JEM", signed="2025-01-01"),
        ),
        part(
            "2025-01-04",
            row(x, model="WSO", signed="2025-06-30", moa="w2"),  # re_signed
            row(x, model="TFM", signed="2025-01-02", moa="t1"),
            row("Switch PD", model="WSO", signed="2025-01-04"),
        ),  # model_switched
        part(
            "2025-01-05",
            row(x, model="WSO", signed="2025-06-30", moa="w2"),
            row("Switch PD", model="WSO", signed="2025-01-04"),
        ),  # TFM removed
        part(
            "2025-01-06",
            row(x, model="WSO", signed="2025-06-30", moa="w2"),
            row(x, model="TFM", signed="2025-01-02", moa="t1"),  # returned
            row("Switch PD", model="WSO", signed="2025-01-04"),
        ),
    )


def test_events_tell_each_agreements_life():
    ev = story_identity().events()
    ev = ev.astype(object).where(ev.notna(), None)
    got = [
        (
            str(e.date),
            e.agreement_id.split(":")[1][:6],
            e.model,
            e.event,
            e.field,
            e.before,
            e.after,
        )
        for e in ev.itertuples()
    ]
    w1, w2 = (f"https://www.ice.gov/doclib/287gMOA/{n}.pdf" for n in ("w1", "w2"))
    t1 = "https://www.ice.gov/doclib/287gMOA/t1.pdf"
    assert got == [
        ("2025-01-01", "gonepd", "TFM", "listed", None, None, None),
        ("2025-01-01", "taylor", "WSO", "listed", None, None, None),
        ("2025-01-02", "taylor", "TFM", "listed", None, None, None),
        ("2025-01-02", "taylor", "TFM", "model_added", "model", "WSO", "TFM; WSO"),
        ("2025-01-03", "gonepd", "TFM", "removed", None, None, None),
        ("2025-01-03", "switch", "JEM", "listed", None, None, None),
        ("2025-01-03", "taylor", "TFM", "moa_posted", "moa_url", "pending", t1),
        ("2025-01-03", "taylor", "WSO", "changed", "signed", "2019-10-15", "2019-10-16"),
        ("2025-01-04", "switch", "JEM", "model_switched", "model", "JEM", "WSO"),
        ("2025-01-04", "switch", "WSO", "listed", None, None, None),
        ("2025-01-04", "switch", "WSO", "model_switched", "model", "JEM", "WSO"),
        ("2025-01-04", "taylor", "WSO", "re_signed", "signed", "2019-10-16", "2025-06-30"),
        ("2025-01-04", "taylor", "WSO", "changed", "moa_url", w1, w2),
        ("2025-01-05", "taylor", "TFM", "removed", None, None, None),
        ("2025-01-06", "taylor", "TFM", "returned", None, None, None),
    ]


def test_agreements_status_and_terminations():
    i = story_identity()
    a = i.agreements().set_index(["agency", "model"])
    assert a.loc[("Gone PD", "TFM"), "status"] == "removed"
    assert a.loc[("Switch PD", "JEM"), "status"] == "superseded"
    assert a.loc[("Switch PD", "JEM"), "superseded_by"] == "FL:switchpd:WSO"
    taylor = a.loc[("Taylor County Sheriff's Office", "TFM")]
    assert (taylor["status"], taylor["returns"], str(taylor["moa_posted"])) == (
        "active",
        1,
        "2025-01-03",
    )
    t = i.terminations()
    assert list(t["agency"]) == ["Gone PD"]  # not the switch, not the one that returned
    gone = t.iloc[0]
    assert str(gone["removed_on"]) == "2025-01-03" and str(gone["last_listed"]) == "2025-01-02"
    assert gone["moa_url"].endswith("/g.pdf")
    assert gone["last_sha256"] == i.version_on("2025-01-02")
    assert i.terminations(since="2025-01-04").empty
    assert i.terminations(state="GA").empty


def test_diff_between_two_versions_speaks_in_identities():
    i = story_identity()
    d = i.diff(i.version_on("2025-01-02"), i.version_on("2025-01-04"))
    got = sorted(zip(d["change"], d["model"], d["field"].fillna("")))
    assert got == sorted(
        [
            ("added", "WSO", ""),  # Switch PD's new model
            ("removed", "TFM", ""),  # Gone PD
            ("moa_posted", "TFM", "moa_url"),
            ("re_signed", "WSO", "signed"),
            ("changed", "WSO", "moa_url"),
        ]
    )
    assert i.diff(i.version_on("2025-01-03"), i.version_on("2025-01-03")).empty


def test_a_column_new_in_a_version_is_not_a_change():
    v, r = frames(
        part("2025-03-01", row("A PD", signed="2025-01-01", moa="a")),
        part("2025-07-01", row("A PD", signed="2025-01-01", moa="a", addendum="add")),
    )
    v.at[0, "columns"] = [c for c in v.at[0, "columns"] if c != "ADDENDUM"]
    i = resolve(v, r, aliases=NO_ALIASES)
    assert i.events()["event"].tolist() == ["listed"]
    v2, _ = frames(
        part("2025-03-01", row("A PD", signed="2025-01-01", moa="a")),
        part("2025-07-01", row("A PD", signed="2025-01-01", moa="a", addendum="add")),
    )
    both = resolve(v2, r.replace(dict(zip(v["sha256"], v2["sha256"]))), aliases=NO_ALIASES)
    assert both.events()["event"].tolist() == ["listed", "changed"]


def test_ids_are_the_first_spelling_and_stay_when_versions_are_added():
    first = [part("2025-07-08", row("Quarryville Police Department", signed="2025-07-07"))]
    later = [part("2025-07-15", row("Quarryville Borough Police Department", signed="2025-07-07"))]
    r = Resolver(aliases=NO_ALIASES)
    r.add(*frames(*first))
    before = r.identity().agreements()["agreement_id"].tolist()
    r.add(*frames(*later))
    after = r.identity()
    assert after.agreements()["agreement_id"].tolist() == before
    assert after.agreement_of("FL:quarryvilleboroughpolicedepartment:TFM") == before[0]


def test_every_spelling_is_queryable():
    i = ident(
        part("2025-07-08", row("Quarryville Police Department", signed="2025-07-07")),
        part("2025-07-15", row("Quarryville Borough Police Department", signed="2025-07-07")),
    )
    spell = i.aliases("quarryville borough p.d.")
    assert list(spell["name"]) == [
        "Quarryville Police Department",
        "Quarryville Borough Police Department",
    ]
    assert spell["agreement_id"].nunique() == 1
    assert list(spell["evidence"]) == ["exact", "signed_name"]


def test_tiers_are_documented():
    assert set(TIERS) == {"exact", "alias", "moa_url", "signed_name", "relabel", "pending_name"}
    i = ident(part("2025-01-01", row("A PD")))
    assert isinstance(i.tier_counts(), pd.DataFrame)


def test_readme_identity_dictionary_matches_the_columns():
    from pathlib import Path

    from ice287g.identity.columns import describe

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("<!-- identity-dictionary:start -->") + len(
        "<!-- identity-dictionary:start -->"
    )
    end = text.index("<!-- identity-dictionary:end -->")
    assert text[start:end].strip() == describe().strip()


def test_every_output_has_its_described_columns():
    from ice287g.identity import columns

    i = story_identity()
    d = i.diff(i.version_on("2025-01-01"), i.version_on("2025-01-02"))
    for frame, fields in [
        (i.agreements(), columns.AGREEMENT_FIELDS),
        (i.events(), columns.EVENT_FIELDS),
        (d, columns.DIFF_FIELDS),
        (i.terminations(), columns.TERMINATION_FIELDS),
        (i.aliases(), columns.ALIAS_FIELDS),
        (i.merges(), columns.MERGE_FIELDS),
        (i.candidates(), columns.CANDIDATE_FIELDS),
    ]:
        assert list(frame.columns) == columns.names(fields)


def test_a_second_agreement_of_unknown_model_is_told_as_added_not_a_crash():
    """A row whose support model ICE's cell does not name (model None, flag model_unknown)
    beside the agency's known agreement: ``model_added`` says "unknown" (sorting None with
    the model names raised TypeError and stopped the change log and the site)."""
    x = "Alpha County Sheriff's Office"
    identity = ident(
        ("participating", "2025-03-01", [row(x, model="JEM")]),
        ("participating", "2025-03-02", [row(x, model="JEM"), row(x, model=None)]),
    )
    added = identity.events().query("event == 'model_added'")
    assert added[["field", "before", "after"]].values.tolist() == [["model", "JEM", "JEM; unknown"]]
    assert identity.agreements()["model"].isna().sum() == 1  # the row keeps no model

"""Properties of identity resolution on generated histories (hypothesis, modest examples):
the result does not depend on the order versions arrive in; an identity kept current version
by version equals one resolved from scratch; no join crosses a state or a model; every join
names its tier; a version compared with itself shows nothing."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identity_frames import frames, row

from ice287g.identity import TIERS, Resolver, resolve
from ice287g.identity import aliases as alias_table

NO_ALIASES = alias_table.empty()
# Agencies as (state, model, spellings): near-twins in one state and model, the same names
# in another state or model, so that every rule has something to bite on.
AGENCIES = [
    (
        "FL",
        "TFM",
        ["Boca Raton Police Department", "Boca Raton Police Services Department", "Boca Raton PD"],
    ),
    ("FL", "TFM", ["Melbourne Police Department", "City of Melbourne Police Department"]),
    ("FL", "TFM", ["West Melbourne Police Department"]),
    ("FL", "WSO", ["Gulf County BOCC", "Gulf County Board of County Commissioners"]),
    ("FL", "WSO", ["Boca Raton Police Department"]),
    ("GA", "TFM", ["Boca Raton Police Department", "Boca Raton PD"]),
    ("GA", "TFM", ["Gulf County Sheriff's Office"]),
]
SIGNED = ["2025-02-26", "2025-03-05"]
URLS = [None, "u1", "u2"]

listing = st.tuples(
    st.integers(0, len(AGENCIES) - 1),
    st.integers(0, 2),  # spelling
    st.sampled_from(SIGNED),
    st.sampled_from(URLS),
)
version = st.tuples(
    st.sampled_from(["participating", "participating", "pending"]), st.lists(listing, max_size=6)
)
history = st.lists(version, min_size=1, max_size=6)


def build(spec) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = []
    for i, (lst, listings) in enumerate(spec):
        rows = []
        for a, s, signed, url in listings:
            state, model, spellings = AGENCIES[a]
            name = spellings[s % len(spellings)]
            if lst == "pending":
                rows.append(row(name, state=state, model=model, status=None))
            else:
                rows.append(row(name, state=state, model=model, signed=signed, moa=url))
        day = (date(2025, 1, 1) + timedelta(days=i)).isoformat()
        out.append((lst, day, 1, rows))
    return frames(*out)


def snapshot(identity) -> dict:
    """Everything an identity answers, in a comparable form."""

    def frame(df: pd.DataFrame) -> list:
        return sorted(map(repr, df.astype(object).where(df.notna(), None).to_dict("records")))

    return {
        "group": dict(identity.links.group),
        "agency": dict(identity.links.agency),
        "merges": frame(identity.merges()),
        "candidates": frame(identity.candidates()),
        "agreements": frame(identity.agreements()),
        "events": frame(identity.events()),
        "aliases": frame(identity.aliases()),
    }


SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(SETTINGS, max_examples=20)
@given(spec=history, data=st.data())
def test_identity_does_not_depend_on_the_order_versions_come_in(spec, data):
    versions, rows = build(spec)
    expected = snapshot(resolve(versions, rows, aliases=NO_ALIASES))
    order = data.draw(st.permutations(range(len(versions))))
    shuffled_rows = rows.sample(frac=1, random_state=data.draw(st.integers(0, 2**16)))
    again = resolve(versions.iloc[list(order)], shuffled_rows, aliases=NO_ALIASES)
    assert snapshot(again) == expected
    # ... and added one version at a time, in that order, it is the same again.
    resolver = Resolver(aliases=NO_ALIASES)
    for i in order:
        resolver.add(versions.iloc[[i]], rows)
    assert snapshot(resolver.identity()) == expected


@SETTINGS
@given(spec=history)
def test_joins_never_cross_states_or_models_and_always_name_their_tier(spec):
    identity = resolve(*build(spec), aliases=NO_ALIASES)
    nodes = identity.observations.nodes.set_index("node")
    by_group = nodes.groupby(nodes.index.map(identity.links.group))
    assert (by_group["state"].nunique() <= 1).all()
    assert (by_group["model"].nunique() <= 1).all()
    merges = identity.merges()
    assert merges["tier"].isin(set(TIERS) - {"exact"}).all()
    assert merges["detail"].notna().all()
    joined = merges[merges["level"] == "agreement"]
    for a, b, state, model in zip(joined["a"], joined["b"], joined["state"], joined["model"]):
        assert {nodes.at[a, "state"], nodes.at[b, "state"]} == {state}
        assert {nodes.at[a, "model"], nodes.at[b, "model"]} == {model}
    assert set(identity.links.evidence.values()) <= set(TIERS)
    agreements = identity.agreements()
    for evidence in agreements["evidence"]:
        assert set(evidence.split("; ")) <= set(TIERS)


@SETTINGS
@given(spec=history)
def test_a_version_compared_with_itself_shows_nothing(spec):
    identity = resolve(*build(spec), aliases=NO_ALIASES)
    for sha in identity.observations.versions["sha256"]:
        assert identity.diff(sha, sha).empty


def assert_same_tables(got, expected) -> None:
    """Every table of two identities equal, row order and values (dtypes aside)."""
    assert got.links.group == expected.links.group
    assert got.links.agency == expected.links.agency
    assert got.event_year_digests() == expected.event_year_digests()
    for table in ("agreements", "events", "aliases", "merges", "candidates"):
        pd.testing.assert_frame_equal(
            getattr(got, table)(), getattr(expected, table)(), check_dtype=False, obj=table
        )


@SETTINGS
@given(spec=history)
def test_an_identity_comes_back_from_its_cache_the_same(spec):
    """The store caches a prepared identity pickled, its event table packed: every table
    comes back equal, the event table with its dtypes, empty or not."""
    identity = resolve(*build(spec), aliases=NO_ALIASES).prepare()
    again = pickle.loads(pickle.dumps(identity, protocol=pickle.HIGHEST_PROTOCOL))
    pd.testing.assert_frame_equal(again._event_table, identity._event_table)
    assert_same_tables(again, identity)


@settings(SETTINGS, max_examples=12)  # each example resolves about seven times
@given(spec=history, data=st.data())
def test_identity_kept_current_version_by_version_equals_a_rebuild(spec, data):
    """Issue 14: after every incremental update the derived state (joins, agreements, life
    stories, spellings) equals a from-scratch resolution of the same versions. Versions come
    in a random order: each newer than its list's newest extends the identity; an older one
    makes the next answer a rebuild. In date order, every version after the first extends."""
    versions, rows = build(spec)
    in_order = data.draw(st.booleans(), label="in date order")
    order = (
        list(range(len(versions)))
        if in_order
        else data.draw(st.permutations(range(len(versions))), label="order")
    )
    resolver = Resolver(aliases=NO_ALIASES)
    for i in order:
        resolver.add(versions.iloc[[i]], rows)
        resolver.identity()  # kept current after each version, as a refresh keeps it
    assert_same_tables(resolver.identity(), resolve(versions, rows, NO_ALIASES))
    if in_order:
        assert (resolver.resolved, resolver.extended) == (1, len(versions) - 1)


def test_a_crowded_agreement_switched_to_another_model_stays_superseded_when_kept_current():
    """Found by the property above: an agreement listed under two spellings in one version
    (crowded, so told again whole at every update) whose agency switched it to another
    model; the next version's update told it again without the other agreement and turned
    its ``model_switched`` back into ``removed``."""
    spec = [
        ("participating", [(0, 0, "2025-02-26", None), (0, 1, "2025-02-26", None)]),
        ("participating", [(4, 0, "2025-02-26", None)]),
        ("participating", []),
    ]
    versions, rows = build(spec)
    resolver = Resolver(aliases=NO_ALIASES)
    for i in range(len(versions)):
        resolver.add(versions.iloc[[i]], rows)
        resolver.identity()
    assert resolver.extended == 2
    assert_same_tables(resolver.identity(), resolve(versions, rows, NO_ALIASES))
    assert resolver.identity().agreements()["status"].tolist() == ["superseded", "removed"]


def test_a_years_digest_changes_with_its_events_and_no_other_years():
    """``events.year_digests`` (what the site's change log is cached by): one event's value
    changed changes its year's digest and no other; the same events give the same digests."""
    from ice287g.identity import events

    def table(agency: str):
        rows = []
        for i, day in enumerate([date(2025, 3, 1), date(2025, 7, 1), date(2026, 1, 2)]):
            row = dict.fromkeys(events.EVENT_TABLE_COLUMNS)
            name = agency if i == 1 else "Gulf County Sheriff's Office"
            row.update(date=day, seq=1, list="participating", event="listed", agency=name)
            row.update(sha256=f"v{i}", agreement_id=f"FL:a{i}:JEM", _li=0, _pos=i)
            rows.append(row)
        return events.packed(pd.DataFrame(rows))

    one, same = (
        events.year_digests(table("Boca Raton PD")),
        events.year_digests(table("Boca Raton PD")),
    )
    other = events.year_digests(table("Boca Raton Police Department"))
    assert one == same and set(one) == {2025, 2026}
    assert other[2025] != one[2025] and other[2026] == one[2026]

"""What every column of the identity tables means: (name, type, description), one place.

The code takes its column lists from here and the README's identity dictionary is
generated from it (``describe()``; a test keeps the two equal).
"""

from __future__ import annotations

Fields = list[tuple[str, str, str]]

AGREEMENT_FIELDS: Fields = [
    (
        "agreement_id",
        "string",
        "Stable agreement id: the exact key (`ST:name:MODEL`) of its "
        "first listing, on either list; every later spelling maps to it",
    ),
    (
        "agency_id",
        "string",
        "Stable agency id (`ST:name`, the first spelling's key) of the "
        "agency listed with it in its last listing",
    ),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name as printed in its last listing"),
    ("model", "string", "Support model: `JEM`, `TFM`, `WSO` or `TTFM`"),
    (
        "status",
        "string",
        "`active` (in the newest version), `removed` (its listing ended) or "
        "`superseded` (it ended as the agency's agreement of another model began)",
    ),
    ("first_listed", "date", "Date of the first participating version listing it"),
    ("last_listed", "date", "Date of the last participating version listing it"),
    ("removed_on", "date", "Date of the first version without it after its last listing"),
    ("last_sha256", "string", "SHA-256 of the last participating version listing it"),
    ("versions_listed", "integer", "Participating versions listing it (under any spelling)"),
    ("returns", "integer", "Times it came back after a removal"),
    (
        "names",
        "string",
        "Every spelling it was listed under (either list), first used first, joined with `; `",
    ),
    ("keys", "string", "Every exact key joined into it, joined with `; `"),
    ("evidence", "string", "The tiers that joined its keys (`exact` alone: one key), `; `"),
    ("signed", "date", "Signing date in its last listing"),
    ("first_signed", "date", "Signing date in its first listing"),
    ("moa_url", "string", "MOA link in its last listing"),
    ("moa_posted", "date", "Date of the first version with a link to its MOA"),
    ("addendum_url", "string", "Addendum link in its last listing"),
    ("county", "string", "County in its last listing"),
    ("agency_type", "string", "Agency type in its last listing"),
    (
        "pending_first_listed",
        "date",
        "First date on the pending list before its first "
        "participating listing (a later re-listing as pending is not a wait)",
    ),
    ("days_waited", "integer", "Days from pending_first_listed to first_listed"),
    (
        "pending_match",
        "string",
        "`agreement` (pending as this agreement, under any spelling) "
        "or `agency` (the same agency pending under another model)",
    ),
    ("superseded_by", "string", "For `superseded`: the agreement of the new model"),
]
EVENT_FIELDS: Fields = [
    ("date", "date", "Date of the version where the event is seen"),
    ("seq", "integer", "Order of that version within its day"),
    ("list", "string", "`participating` or `pending`"),
    ("sha256", "string", "SHA-256 of that version"),
    (
        "event",
        "string",
        "`listed`, `renamed`, `moa_posted`, `re_signed`, `changed`, "
        "`model_added`, `model_switched`, `removed` or `returned`",
    ),
    ("agreement_id", "string", "Stable agreement id"),
    ("agency_id", "string", "Stable id of the agency listed with it then"),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name as printed in that version"),
    ("model", "string", "Support model"),
    (
        "field",
        "string",
        "The field that changed: `agency` (renamed), `moa_url` (moa_posted), "
        "`signed` (re_signed), `model` (model events), or the `changed` field",
    ),
    ("before", "string", "Value before (dates as ISO text)"),
    ("after", "string", "Value after"),
    (
        "evidence",
        "string",
        "For `renamed`: the tiers linking the two spellings "
        "(`exact` when only case or punctuation changed)",
    ),
    ("detail", "string", "For `model_switched`: the agreement it replaces or is replaced by"),
]
DIFF_FIELDS: Fields = [
    ("change", "string", "`added`, `removed`, `renamed`, `re_signed`, `moa_posted` or `changed`"),
    ("state", "string", "USPS state code"),
    ("agency", "string", "Agency name (for a rename: the new spelling)"),
    ("model", "string", "Support model"),
    ("agreement_id", "string", "Stable agreement id (the same on both sides of a rename)"),
    ("field", "string", "The field that changed (see the events)"),
    ("before", "string", "Value in the first version"),
    ("after", "string", "Value in the second version"),
    ("agency_id", "string", "Stable agency id"),
    ("evidence", "string", "For `renamed`: the tiers linking the two spellings"),
]
TERMINATION_FIELDS: Fields = [
    ("removed_on", "date", "Date of the first version without it"),
    *[
        f
        for f in AGREEMENT_FIELDS
        if f[0]
        in (
            "agreement_id",
            "agency_id",
            "state",
            "agency",
            "model",
            "signed",
            "moa_url",
            "addendum_url",
            "last_listed",
            "last_sha256",
            "names",
        )
    ],
]
ALIAS_FIELDS: Fields = [
    ("state", "string", "USPS state code"),
    ("name", "string", "A spelling, exactly as printed"),
    ("agency_id", "string", "Stable id of its agency"),
    ("agreement_id", "string", "Stable id of its agreement"),
    ("model", "string", "Support model"),
    ("key", "string", "Its exact key (`ST:name:MODEL`, today's normalized name)"),
    ("lists", "string", "Lists it was printed on, joined with `; `"),
    ("first_listed", "date", "First version printing it"),
    ("last_listed", "date", "Last version printing it"),
    (
        "evidence",
        "string",
        "The tier by which its key joined the agreement (`exact` for the "
        "key the agreement id comes from)",
    ),
]
MERGE_FIELDS: Fields = [
    ("level", "string", "`agreement` (two exact keys) or `agency` (two agency keys)"),
    ("tier", "string", "`alias`, `moa_url`, `signed_name`, `relabel` or `pending_name`"),
    ("state", "string", "USPS state code (both sides)"),
    ("model", "string", "Support model (both sides; empty for agencies)"),
    ("a", "string", "One key"),
    ("b", "string", "The other key"),
    ("name_a", "string", "A's name (its most printed spelling)"),
    ("name_b", "string", "B's name"),
    (
        "detail",
        "string",
        "The evidence: the shared PDF, the common signing date, the day of "
        "the relabel, the verdict's note",
    ),
]
CANDIDATE_FIELDS: Fields = [
    ("state", "string", "USPS state code"),
    ("model", "string", "Support model"),
    ("a", "string", "One exact key"),
    ("b", "string", "The other exact key"),
    ("name_a", "string", "A's name"),
    ("name_b", "string", "B's name"),
    ("score", "number", "Share of the shorter name's distinctive words the other has"),
    ("reason", "string", "Why it looks like one agreement, and why no rule may join it"),
    ("first_a", "date", "A's first listing"),
    ("last_a", "date", "A's last listing"),
    ("first_b", "date", "B's first listing"),
    ("last_b", "date", "B's last listing"),
]

TABLES: list[tuple[str, Fields]] = [
    ("agreements", AGREEMENT_FIELDS),
    ("agreement events", EVENT_FIELDS),
    ("diff record", DIFF_FIELDS),
    ("termination", TERMINATION_FIELDS),
    ("alias (spelling)", ALIAS_FIELDS),
    ("merge", MERGE_FIELDS),
    ("candidate", CANDIDATE_FIELDS),
]


def names(fields: Fields) -> list[str]:
    return [n for n, _, _ in fields]


def describe() -> str:
    """Markdown tables of every identity output."""
    out = []
    for title, fields in TABLES:
        out += [f"| {title} column | type | meaning |", "|---|---|---|"]
        out += [f"| `{n}` | {t} | {d} |" for n, t, d in fields]
        out.append("")
    return "\n".join(out).rstrip() + "\n"

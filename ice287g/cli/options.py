"""Options and header notes shared by the commands, each declared once. Flag names are a
contract (the README and scripts use them): change a help text here, never a name."""

from __future__ import annotations

import click

from parsers.lists import LISTS

LIST_CHOICE = click.Choice(LISTS)
SUSPECT_SKIPPED = "# suspect versions skipped (--include-suspect keeps them)"
SUSPECT_INCLUDED = "# suspect versions included"

list_option = click.option(
    "--list",
    "lst",
    type=LIST_CHOICE,
    default="participating",
    show_default=True,
    help="Which list.",
)
any_list_option = click.option(
    "--list", "lst", type=LIST_CHOICE, help="Only this list (default: both)."
)
state_option = click.option("--state", help="Only this state (USPS code or name).")
agency_option = click.option(
    "--agency",
    metavar="NAME",
    help="Only agencies whose name matches (part of a name; case, punctuation, typos ignored).",
)
suspect_option = click.option(
    "--include-suspect",
    is_flag=True,
    help="Keep versions flagged suspect (skipped by default).",
)
source_option = click.option(
    "--source",
    default=None,
    metavar="URL",
    help="Page to read instead of ICE's 287(g) page (a mirror, a local test server).",
)
ocr_option = click.option(
    "--ocr", is_flag=True, help="OCR pages without a text layer (needs tesseract)."
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes reading the PDFs.",
)


def outcome_option(outcomes, rows: str):
    """``--outcome`` of a ledger command: one of `outcomes` (the ledger's vocabulary)."""
    return click.option(
        "--outcome", type=click.Choice(outcomes), help=f"Only {rows} with this outcome."
    )


def suspect_note(include_suspect: bool) -> str:
    return SUSPECT_INCLUDED if include_suspect else SUSPECT_SKIPPED


def filters_text(**filters) -> str:
    """The filters a command applied, as its header names them (``state FL, agency
    'broward'``; empty when none): a state as its USPS code, a name search quoted."""
    parts = []
    for name, value in filters.items():
        if not value:
            continue
        if name == "state":
            from ice287g.query.versions import parse_state

            value = parse_state(value)
        elif name == "agency":
            value = repr(value)
        elif isinstance(value, (tuple, list)):
            value = ",".join(value)
        parts.append(f"{name} {value}")
    return ", ".join(parts)


def filter_lines(**filters) -> list[str]:
    """``# filter: ...`` for a command's header, or nothing when no filter is applied."""
    text = filters_text(**filters)
    return [f"# filter: {text}"] if text else []

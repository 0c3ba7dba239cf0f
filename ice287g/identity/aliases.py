"""The reviewed alias table: verdicts a person made on pairs of agency names, kept as data.

``aliases.csv`` (beside this module) has one verdict per line:

    name_a,name_b,state,model,verdict,note

- ``name_a``, ``name_b``: two agency names as ICE printed them (matched by the exact key,
  so case, spacing and punctuation do not matter);
- ``state``: the USPS code both are listed under;
- ``model``: ``JEM``, ``TFM``, ``WSO`` or ``TTFM`` for a verdict on that agreement only;
  empty for a verdict on the agencies (every model);
- ``verdict``: ``same`` (one agency / agreement under two names) or ``distinct`` (never
  merge them, whatever the rules say);
- ``note``: why (what was checked).

A verdict wins over every rule. ``ice287g identity --candidates`` lists the pairs waiting for
one. A malformed table is refused with the file, the line and the problem.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ice287g.errors import UserError

ALIASES_CSV = Path(__file__).with_name("aliases.csv")
COLUMNS = ["name_a", "name_b", "state", "model", "verdict", "note"]
VERDICTS = ("same", "distinct")
MODELS = ("JEM", "TFM", "WSO", "TTFM")


class AliasTableError(UserError, ValueError):
    pass


def empty() -> pd.DataFrame:
    return pd.DataFrame(columns=[*COLUMNS, "key_a", "key_b"], dtype=object)


def load(path: str | Path | None = None) -> pd.DataFrame:
    """The verdicts of an alias table (default: the reviewed one shipped with the project),
    with ``key_a`` / ``key_b``: each name's exact agency key (``ST:name``)."""
    from ice287g.normalize.apply import agency_id

    path = Path(path) if path is not None else ALIASES_CSV
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AliasTableError(f"{path}: cannot read the alias table ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise AliasTableError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
    out = []
    for line, rec in enumerate(reader, start=2):
        rec = {c: (rec.get(c) or "").strip() for c in COLUMNS}
        if not any(rec.values()):
            continue

        def bad(problem: str, line=line) -> AliasTableError:
            return AliasTableError(f"{path}: line {line}: {problem}")

        if not rec["name_a"] or not rec["name_b"]:
            raise bad("name_a and name_b are both needed")
        if len(rec["state"]) != 2 or not rec["state"].isalpha() or not rec["state"].isupper():
            raise bad(f"state must be a USPS code like FL, not {rec['state']!r}")
        if rec["model"] and rec["model"] not in MODELS:
            raise bad(f"model must be empty or one of {', '.join(MODELS)}, not {rec['model']!r}")
        if rec["verdict"] not in VERDICTS:
            raise bad(f"verdict must be same or distinct, not {rec['verdict']!r}")
        rec["key_a"] = agency_id(rec["state"], rec["name_a"])
        rec["key_b"] = agency_id(rec["state"], rec["name_b"])
        if not rec["key_a"] or not rec["key_b"]:
            raise bad("a name has no letters or digits")
        if rec["key_a"] == rec["key_b"]:
            raise bad("the two names are already one (they differ only in case or punctuation)")
        out.append(rec)
    if not out:
        return empty()
    return pd.DataFrame(out, columns=[*COLUMNS, "key_a", "key_b"], dtype=object)

"""The markdown report of one refresh: stale lists, what was fetched, warnings about the new
versions (new layout, list conflict), counts by model, what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from ice287g.store import Store

if TYPE_CHECKING:
    from ice287g.jobs.refresh import RefreshReport

EXAMPLES_IN_REPORT = 5


def summarize(store: Store, report: RefreshReport) -> str:
    """Markdown: counts by model for each list's newest version, and what the new versions
    changed (agreements added and removed since the previous version of their list)."""
    from ice287g.query.status import stale_notes, version_warnings
    from ice287g.query.versions import catalog, counts

    cat = catalog(store)
    lines = [f"# 287(g) refresh {report.started_at:%Y-%m-%d %H:%M} UTC", ""]
    for note in [n.removeprefix("# ") for n in stale_notes(store)] + report.warnings:
        lines += [f"**Warning:** {note}", ""]
    lines += [f"Source: {report.source}", ""]
    lines.append(
        tabulate(
            [
                (o.file_name, o.outcome, o.list or "", o.version_date or "")
                for o in report.observations
            ],
            ["file", "outcome", "list", "version date"],
            tablefmt="github",
        )
    )
    warnings = [
        f"- {o.file_name} ({o.list} {o.version_date}): {w}"
        for o in report.new_versions
        for version in cat[cat["sha256"] == o.sha256].to_dict("records")
        for w in version_warnings(version)
    ]
    if warnings:
        lines += ["", "## Warnings", "", *warnings]
    if not cat.empty:
        newest = counts(by=["model"], as_of=max(cat["date"]), data_dir=store)
        lines += [
            "",
            "## Agreements by model (newest versions)",
            "",
            tabulate(
                [(r.list, r.date, r.model, r.count) for r in newest.itertuples()],
                ["list", "date", "model", "count"],
                tablefmt="github",
            ),
        ]
    for obs in report.new_versions:
        lines += ["", *changes_since_previous(store, obs.sha256)]
    if report.failures:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in report.failures]
    return "\n".join(lines) + "\n"


def changes_since_previous(store: Store, sha: str) -> list[str]:
    """Markdown lines: what version `sha` changed against its list's previous sound version,
    in the words of ``diff`` (identity resolved over the two versions, so a relabel is one
    ``renamed``; resolving the whole store on every new version would make a replay of a
    year's history quadratic)."""
    import pandas as pd

    from ice287g.query.diff import CHANGES, diff_frames
    from ice287g.query.identity import read_rows
    from ice287g.query.versions import catalog

    cat = catalog(store)
    row = cat[cat["sha256"] == sha]
    if row.empty:
        return []
    version = row.iloc[0]
    same = cat[(cat["list"] == version["list"]) & ~cat["suspect"]]
    earlier = same[
        (same["date"] < version["date"])
        | ((same["date"] == version["date"]) & (same["seq"] < version["seq"]))
    ]
    title = f"## {version['list']} {version['date']} #{version['seq']} ({sha[:12]})"
    if earlier.empty:
        return [title, "", f"First {version['list']} version: {version['rows']} rows."]
    previous = earlier.sort_values(["date", "seq"]).iloc[-1]
    rows = read_rows(pd.DataFrame([previous, version]), store)
    a, b = (rows[rows["sha256"] == v].drop(columns="sha256") for v in (previous["sha256"], sha))
    changes = diff_frames(a, b, previous["columns"], version["columns"], version["list"])
    lines = [
        title,
        "",
        f"Against {previous['date']} #{previous['seq']} "
        f"({previous['sha256'][:12]}): {version['rows'] - previous['rows']:+d} rows.",
    ]
    for kind in CHANGES:
        part = changes[changes["change"] == kind]
        if part.empty:
            continue
        lines.append(f"- {kind}: {len(part)}")
        for r in part.head(EXAMPLES_IN_REPORT).itertuples():
            detail = ""
            if kind == "renamed":
                detail = f" (was {r.before}; {r.evidence})"
            elif kind not in ("added", "removed"):
                detail = f" ({r.field}: {r.before} → {r.after})"
            lines.append(f"  - {r.state} {r.agency} {r.model}{detail}")
    return lines

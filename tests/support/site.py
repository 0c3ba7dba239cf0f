"""A generated ICE site: ICE-like workbooks on a short 2025 timeline, laid out as the corpus.

:func:`write_site` writes ``MANIFEST.csv``, ``publications.csv`` and ``files/`` the way
../shared/ice-corpus holds them, so :class:`~support.replay_server.ReplayCorpus` serves it
exactly as it serves the real corpus. It holds what the fetch, discovery, refresh and Wayback
logic meets on ICE's page: undated and dated names, a name re-used for new bytes, both layouts
(with and without COUNTY and ADDENDUM), "link" cells whose MOA URL is the hyperlink, and the
day the two links were served swapped. The workbooks are small and their counts known here, so
the HTTP tests need no real data.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .workbooks import build_workbook

MODELS = {
    "JEM": "Jail Enforcement Model",
    "TFM": "Task Force Model",
    "WSO": "Warrant Service Officer",
}
# Participating agencies in the order they join; each version lists the first n of them.
PARTICIPATING = [
    ("TEXAS", "Harris County", "TFM"),
    ("FLORIDA", "Lake County", "TFM"),
    ("FLORIDA", "Bay County", "WSO"),
    ("ALABAMA", "Franklin County", "JEM"),
    ("KENTUCKY", "Grayson County", "JEM"),
    ("MINNESOTA", "Crow Wing County", "TFM"),
    ("NEW YORK", "Broome County", "WSO"),
    ("GEORGIA", "Cobb County", "JEM"),
    ("ARIZONA", "Pinal County", "TFM"),
    ("TEXAS", "Rusk County", "WSO"),
    ("FLORIDA", "Highlands County", "WSO"),
    ("NORTH CAROLINA", "Gaston County", "TFM"),
    ("OKLAHOMA", "Tulsa County", "WSO"),
    ("SOUTH CAROLINA", "Charleston County", "JEM"),
    ("TENNESSEE", "Knox County", "TFM"),
]
PENDING = [
    ("OHIO", "Delaware County", "WSO"),
    ("INDIANA", "Elkhart County", "TFM"),
    ("UTAH", "Utah County", "JEM"),
    ("MONTANA", "Cascade County", "WSO"),
    ("VIRGINIA", "Culpeper County", "TFM"),
]
MOA_BASE = "https://www.ice.gov/doclib/287gMOA/"


@dataclass(frozen=True)
class Version:
    """One distinct workbook: which list it holds, its size, layout and save time."""

    list: str
    rows: int
    saved: datetime
    county: bool = True  # the COUNTY column (ICE added it on 2025-03-17)
    addendum: bool = False  # the ADDENDUM column (participating, from 2025-07-01)


VERSIONS = {
    "p0221": Version("participating", 5, datetime(2025, 2, 21, 14, 51), county=False),
    "n0221": Version("pending", 2, datetime(2025, 2, 21, 14, 52), county=False),
    "p0226": Version("participating", 7, datetime(2025, 2, 26, 20, 50), county=False),
    "p0403": Version("participating", 12, datetime(2025, 4, 3, 17, 30)),
    "n0404": Version("pending", 4, datetime(2025, 4, 4, 8, 30)),
    "p0408": Version("participating", 13, datetime(2025, 4, 8, 17, 30)),
    "n0408": Version("pending", 5, datetime(2025, 4, 8, 8, 30)),
    "p0922": Version("participating", 14, datetime(2025, 9, 22, 8, 30), addendum=True),
    "n0922": Version("pending", 3, datetime(2025, 9, 22, 8, 30)),
    "p0923": Version("participating", 15, datetime(2025, 9, 23, 8, 30), addendum=True),
    "n0923": Version("pending", 4, datetime(2025, 9, 23, 8, 30)),
}
# (ICE file name, version served under it); the name carries the day (the undated names
# went up on the version's own day).
UPLOADS = [
    ("participatingAgencies.xlsx", "p0221"),
    ("pendingAgencies.xlsx", "n0221"),
    ("participatingAgencies.xlsx", "p0226"),  # the same name, new bytes
    ("participatingAgencies04032025pm.xlsx", "p0403"),
    ("pendingAgencies04042025am.xlsx", "n0404"),
    ("participatingAgencies04082025pm.xlsx", "p0408"),
    ("pendingAgencies04082025am.xlsx", "n0408"),
    ("participatingAgencies09222025am.xlsx", "p0922"),
    ("pendingAgencies09222025am.xlsx", "n0922"),
    # 2025-09-22 afternoon: each link served the other list (the morning's bytes)
    ("participatingAgencies09222025pm.xlsx", "n0922"),
    ("pendingAgencies09222025pm.xlsx", "p0922"),
    ("participatingAgencies09232025am.xlsx", "p0923"),
    ("pendingAgencies09232025am.xlsx", "n0923"),
]
# The reference day: on 2025-04-04 the page links these two.
REFERENCE = "participatingAgencies04032025pm.xlsx"
REFERENCE_PENDING = "pendingAgencies04042025am.xlsx"
REFERENCE_COUNTS = {"JEM": 3, "TFM": 5, "WSO": 4}
REFERENCE_PENDING_ROWS = 4


def agency(county: str) -> str:
    return f"{county} Sheriff's Office"


def moa_url(state: str, county: str, model: str) -> str:
    """Where a row's MOA hyperlink points, named as ICE names them."""
    return f"{MOA_BASE}{county.replace(' ', '')}{state[:2].title()}_{model}_MOA.pdf"


def workbook(version: Version) -> bytes:
    """The .xlsx of one version: the first ``version.rows`` agencies of its list."""
    participating = version.list == "participating"
    header = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE"]
    header += ["COUNTY"] if version.county else []
    header += ["SUPPORT TYPE"]
    header += ["SIGNED", "MOA"] if participating else []
    header += ["ADDENDUM"] if participating and version.addendum else []
    rows, links = [], {}
    pool = PARTICIPATING if participating else PENDING
    for i, (state, county, model) in enumerate(pool[: version.rows]):
        row = [state, agency(county), "County"]
        row += [county] if version.county else []
        row += [MODELS[model]]
        if participating:
            pending_link = i == version.rows - 1  # the newest agreement awaits its MOA
            row += [datetime(2025, 1, 6) + timedelta(days=7 * i)]
            row += ["link pending" if pending_link else "link"]
            if not pending_link:
                links[(len(rows), "MOA")] = moa_url(state, county, model)
        row += [None] if participating and version.addendum else []
        rows.append(row)
    return build_workbook(header, rows, links=links, saved=version.saved)


def write_site(folder: Path) -> Path:
    """Write the generated site into ``folder`` in the corpus's layout; return ``folder``."""
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    stored: dict[str, tuple[str, str]] = {}  # version key -> (file, sha256)
    manifest = []
    for key, version in VERSIONS.items():
        data = workbook(version)
        sha = hashlib.sha256(data).hexdigest()
        day = version.saved.date()
        name = f"{version.list}_{day}_{sha[:8]}.xlsx"
        (files / name).write_bytes(data)
        stored[key] = (name, sha)
        manifest.append(
            {
                "file": name,
                "list": version.list,
                "date": day.isoformat(),
                "date_source": "generated",
                "sha256": sha,
                "bytes": len(data),
                "workbook_modified_utc": f"{version.saved:%Y-%m-%dT%H:%M:%SZ}",
                "source_repo": "tests/support/site.py",
            }
        )
    publications = [
        {
            "ice_file_name": ice_name,
            "url": f"https://www.ice.gov/doclib/about/offices/ero/287g/{ice_name}",
            "file": stored[key][0],
            "sha256": stored[key][1],
        }
        for ice_name, key in UPLOADS
    ]
    write_csv(folder / "MANIFEST.csv", manifest)
    write_csv(folder / "publications.csv", publications)
    return folder


def write_csv(path: Path, rows: list[dict]) -> None:
    """A manifest-style CSV (as the shared corpus's): a header from the first row's keys,
    then the rows (the bench's synthetic decade writes its manifests with it too)."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

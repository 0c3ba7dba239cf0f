"""What became of one observation or attempt: the words of the ledgers' ``outcome`` column.

One vocabulary for both ledgers (``blocked`` and ``failed`` mean the same in each). Plain
strings, so the CLI can offer them as choices without loading the store. (A file given to
``backfill`` has a ``status`` instead: new, stored or failed; a fetch, a verdict:
``scrapers.answers.FetchResult.outcome``.)
"""

from __future__ import annotations

BLOCKED = "blocked"  # a CDN block page (or 401/403) instead of the file
FAILED = "failed"  # anything else that went wrong: HTTP error, timeout, truncated, unreadable
# Of one observation of a workbook URL (publications ledger).
NEW_VERSION = "new version"
SAME_BYTES = "same bytes"
NOT_MODIFIED = "not modified"
OUTCOMES = (NEW_VERSION, SAME_BYTES, NOT_MODIFIED, BLOCKED, FAILED)
# Of one MOA download attempt (MOA ledger).
STORED = "stored"
ALREADY_STORED = "already stored"
NOT_FOUND = "not found"
REFUSED = "refused"  # the host allowlist stopped it: nothing was sent
MOA_OUTCOMES = (STORED, ALREADY_STORED, NOT_FOUND, BLOCKED, FAILED, REFUSED)
DONE_OUTCOMES = frozenset({STORED, ALREADY_STORED})
DEAD_OUTCOMES = frozenset({NOT_FOUND, BLOCKED, FAILED})

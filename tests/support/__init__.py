"""Test-only helpers (never installed, not product code): where the real data lives, workbook,
PDF and corpus factories, the replay server of ICE's site and the fixtures that serve it, a
row-by-row view of a parsed workbook, replaying a diff, hostile servers, the browser."""

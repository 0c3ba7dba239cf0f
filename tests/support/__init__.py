"""Test-only helpers (never installed): where the real data lives, workbook and corpus
factories, the replay server of ICE's site, and the fixtures that serve it."""

"""Test-only helpers (not installed, not product code)."""

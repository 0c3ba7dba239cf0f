"""`make bench`: speed and memory figures (not installed; run from a checkout)."""

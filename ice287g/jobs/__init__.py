"""Plain functions that change the store: ingest, refresh, Wayback backfill, MOA harvest."""

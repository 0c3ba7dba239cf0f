"""The versioned local store: raw bytes, snapshots, the catalog, and the ledgers."""

from ice287g.store.catalog import Store, StoreError, sha256_bytes

__all__ = ["Store", "StoreError", "sha256_bytes"]

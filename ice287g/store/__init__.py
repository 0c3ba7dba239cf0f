"""The versioned local store: raw bytes, snapshots, the catalog, the ledgers, the MOA documents.

Names are loaded on first use, so that ``from ice287g.store.outcomes import ...`` stays light.
"""

from __future__ import annotations

__all__ = ["Store", "StoreError", "sha256_bytes"]


def __getattr__(name: str):
    if name in ("Store", "StoreError"):
        from ice287g.store import catalog

        return getattr(catalog, name)
    if name == "sha256_bytes":
        from ice287g.store.files import sha256_bytes

        return sha256_bytes
    raise AttributeError(name)

"""File-tree helpers: what a run changed on disk, and private copies of shared stores."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path


def tree_digest(root: Path) -> dict[str, str]:
    """path -> sha256 of every file below root (to prove a run changed nothing)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def copy_store(source: Path, dest: Path) -> Path:
    """A private copy of a data dir to write to (far cheaper than building it again)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("*.lock"))
    return dest

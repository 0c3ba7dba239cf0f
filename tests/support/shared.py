"""Where the real data lives: ../shared beside the repository, or $ICE287G_SHARED.

The real ICE files (352 workbooks, 16 MOA PDFs) are never copied into the repository; the
tests that read them skip, saying what is missing, when the folder is absent. Pointing
ICE287G_SHARED at a missing folder runs the suite as a checkout without ../shared would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ICE287G_SHARED") or REPO.parent / "shared")
CORPUS = SHARED / "ice-corpus"
CORPUS_FILES = CORPUS / "files"
MOA_SAMPLES = SHARED / "moa-samples" / "files"


def corpus_or_skip() -> Path:
    """The real corpus folder (MANIFEST.csv, publications.csv, files/), or skip the test."""
    if not (CORPUS / "publications.csv").is_file() or not CORPUS_FILES.is_dir():
        pytest.skip(f"real ICE corpus not found at {CORPUS} (needs ../shared beside the repo)")
    return CORPUS


SAMPLES_MISSING = (
    f"real MOA samples not available: {MOA_SAMPLES} is missing (needs ../shared beside the repo)"
)


def samples_or_skip() -> Path:
    """The folder of real MOA PDFs, or skip the test."""
    if not MOA_SAMPLES.is_dir():
        pytest.skip(SAMPLES_MISSING)
    return MOA_SAMPLES

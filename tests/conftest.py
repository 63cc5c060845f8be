"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ``../shared`` folder (specs, conformance cases); skips where it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip("../shared is absent (standalone clone): contract files unavailable")
    return SHARED_DIR

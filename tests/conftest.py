"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Recorded behaviour of the real CloudRunner and its node library (see fixtures/README.md).
FIXTURES_DIR = PROJECT_ROOT / "tests" / "fixtures"
# pg_server / pg_database: a throwaway PostgreSQL for the tests that run on both record stores.
pytest_plugins = ["tests.postgres"]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures``: recorded CloudRunner cases, exports and node-library metadata."""
    return FIXTURES_DIR

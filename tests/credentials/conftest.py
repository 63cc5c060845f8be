"""Each test's credentials live under its own tmp folder, with the key file beside the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.credentials.keys import KEY_ENV, KEY_FILE_ENV, KEYRING_ENV


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and provider variables of the machine running the tests must not leak into them."""
    for name in (KEY_ENV, KEY_FILE_ENV, "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "FLY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEYRING_ENV, "0")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "backends" / "backend_cred1"
    folder.mkdir(parents=True)
    return folder

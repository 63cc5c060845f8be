"""The contract GitHub server, a service pointed at it (waits scaled down a hundredfold), and its channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.credentials import CredentialStore
from sidecar.credentials.keys import KEY_ENV, KEY_FILE_ENV, KEYRING_ENV
from sidecar.github import GitHubService, GitHubSettings
from sidecar.ipc.handlers import register_github_methods
from tests.channels import Channels, backend_manager
from tests.github.contract_server import ContractGitHub, contract_github, sample_issues

TOKEN = "gho_validToken0123456789abcdef"
TIME_SCALE = 0.01


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (KEY_ENV, KEY_FILE_ENV, "NOODL_CREDENTIAL_GITHUB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEYRING_ENV, "0")


@pytest.fixture
async def github() -> AsyncIterator[ContractGitHub]:
    async with contract_github(ContractGitHub(tokens={TOKEN: "mona"}, issues=sample_issues())) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "home" / "github")


@pytest.fixture
def service(github: ContractGitHub, store: CredentialStore) -> GitHubService:
    settings = GitHubSettings(
        api_url=github.url, oauth_url=github.url, client_id=github.client_id, time_scale=TIME_SCALE
    )
    return GitHubService(settings, store)


@pytest.fixture
def signed_in(store: CredentialStore) -> None:
    store.create("github", TOKEN, "github")


@pytest.fixture
async def channels(tmp_path: Path, service: GitHubService) -> AsyncIterator[Channels]:
    async with backend_manager(tmp_path / "backends") as manager:
        yield Channels(lambda table, _manager: register_github_methods(table, lambda: service), manager)

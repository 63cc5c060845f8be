"""github:sign-in (OAuth device flow against the contract server), auth-status and sign-out."""

from __future__ import annotations

from itertools import pairwise

import pytest

from sidecar.credentials import CredentialStore
from sidecar.errors import GitHubAuthError, GitHubSignInError
from tests.channels import Channels
from tests.github.conftest import TIME_SCALE, TOKEN
from tests.github.contract_server import ContractGitHub


def polls(github: ContractGitHub) -> list[float]:
    return [seen.at for seen in github.log if seen.path == "/login/oauth/access_token"]


async def test_device_flow_pushes_the_code_and_keeps_the_token(
    channels: Channels, github: ContractGitHub, store: CredentialStore
) -> None:
    github.token_answers = ["authorization_pending", "authorization_pending", "token"]
    status = await channels("github:sign-in")
    assert status == {"signedIn": True, "login": "mona", "scopes": ["repo", "read:org"], "problem": None}
    assert channels.sent[0] == (
        "github:deviceCode",
        [
            {
                "userCode": "WDJB-MJHT",
                "verificationUri": "https://github.com/login/device",
                "expiresIn": 900,
                "interval": 5,
            }
        ],
    )
    assert len(polls(github)) == 3
    form = github.log[1].body or ""
    assert "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code" in form
    assert store.stored_value("github") == github.issued_token
    assert [info.provider for info in store.list()] == ["github"]
    assert (await channels("github:auth-status"))["login"] == "mona"


@pytest.mark.parametrize("sends_interval", [True, False])
async def test_polling_honours_the_interval_and_slow_down(
    channels: Channels, github: ContractGitHub, sends_interval: bool
) -> None:
    github.slow_down_sends_interval = sends_interval
    github.token_answers = ["authorization_pending", "slow_down", "authorization_pending", "token"]
    await channels("github:sign-in")
    at = polls(github)
    gaps = [later - earlier for earlier, later in pairwise(at)]
    step = 5 * TIME_SCALE
    # Each gap holds the sleep before the next poll: 5 s, then 5 s, then 10 s after slow_down (scaled).
    assert gaps[0] >= step * 0.95
    assert gaps[1] >= 2 * step * 0.95
    assert gaps[2] >= 2 * step * 0.95


@pytest.mark.parametrize(
    ("answer", "message"),
    [("expired_token", "expired"), ("access_denied", "cancelled")],
)
async def test_the_flow_ends_without_a_token(
    channels: Channels, github: ContractGitHub, store: CredentialStore, answer: str, message: str
) -> None:
    github.token_answers = ["authorization_pending", answer]
    with pytest.raises(GitHubSignInError, match=message) as raised:
        await channels("github:sign-in")
    assert raised.value.data == {"reason": answer}
    assert store.list() == []


async def test_the_code_expires_on_our_clock_too(channels: Channels, github: ContractGitHub) -> None:
    github.device_expires_in = 12  # room for two polls 5 s apart at most, never a third
    with pytest.raises(GitHubSignInError, match="expired") as raised:
        await channels("github:sign-in")  # the server would answer authorization_pending forever
    assert raised.value.data == {"reason": "expired_token"}
    assert 1 <= len(polls(github)) <= 2  # fewer on a loaded machine, where each poll eats into the 12 s


async def test_an_unknown_client_id_is_refused(channels: Channels, github: ContractGitHub) -> None:
    with pytest.raises(GitHubSignInError, match="client id") as raised:
        await channels("github:sign-in", "Iv1.unknown")
    assert raised.value.data == {"reason": "incorrect_client_credentials"}


@pytest.mark.usefixtures("signed_in")
async def test_sign_out_deletes_the_token(channels: Channels, store: CredentialStore) -> None:
    assert (await channels("github:auth-status"))["signedIn"] is True
    assert await channels("github:sign-out") == {"signedOut": True}
    assert store.stored_value("github") is None
    assert await channels("github:sign-out") == {"signedOut": False}
    assert (await channels("github:auth-status"))["signedIn"] is False
    with pytest.raises(GitHubAuthError, match="not signed in"):
        await channels("github:list-issues", "octo", "hello")


@pytest.mark.usefixtures("signed_in")
async def test_a_revoked_token_is_reported(channels: Channels, github: ContractGitHub) -> None:
    del github.tokens[TOKEN]
    status = await channels("github:auth-status")
    assert status["signedIn"] is False
    assert "revoked" in status["problem"]
    with pytest.raises(GitHubAuthError, match="revoked or has expired; sign in again"):
        await channels("github:list-issues", "octo", "hello")


@pytest.mark.usefixtures("signed_in")
async def test_credentials_test_of_the_token_asks_github_who_it_is(
    store: CredentialStore, github: ContractGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOODL_GITHUB_API_URL", github.url)
    outcome = await store.test("github")
    assert (outcome["status"], outcome["message"]) == ("ok", "signed in as mona")
    del github.tokens[TOKEN]
    outcome = await store.test("github")
    assert outcome["status"] == "failed"
    assert "sign in again" in outcome["message"]


async def test_a_token_from_the_environment_signs_in(
    channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await channels("github:auth-status"))["signedIn"] is False
    monkeypatch.setenv("NOODL_CREDENTIAL_GITHUB", TOKEN)
    assert await channels("github:auth-status") == {
        "signedIn": True,
        "login": "mona",
        "scopes": None,
        "problem": None,
    }
    assert (await channels("github:list-issues", "octo", "hello"))["items"]

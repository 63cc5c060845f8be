"""The OAuth 2.0 device authorization flow as GitHub runs it.

1. ``POST /login/device/code`` with the app's ``client_id`` (and scopes) answers a ``device_code``, the
   ``user_code`` the person types at ``verification_uri``, ``expires_in`` and the polling ``interval``.
2. ``POST /login/oauth/access_token`` with ``grant_type=urn:ietf:params:oauth:grant-type:device_code``,
   no faster than ``interval``: ``authorization_pending`` means ask again later, ``slow_down`` adds 5
   seconds to the interval (GitHub sends the new one, which wins when larger), ``expired_token`` and
   ``access_denied`` end the flow, and an ``access_token`` ends it signed in.

``time_scale`` multiplies every wait (and the expiry clock) so tests run the real schedule in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sidecar.errors import GitHubError, GitHubSignInError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP_S = 5
_TIMEOUT = aiohttp.ClientTimeout(total=30)
_ENDING_ERRORS = {
    "expired_token": "the sign-in code expired before it was entered; start again",
    "access_denied": "the sign-in was cancelled on GitHub",
    "unsupported_grant_type": "GitHub refused the device flow's grant type",
    "incorrect_client_credentials": "GitHub does not know this OAuth app's client id",
    "incorrect_device_code": "GitHub does not know this device code",
    "device_flow_disabled": "the device flow is not enabled for this OAuth app",
}


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class AccessToken:
    token: str
    token_type: str
    scope: str


@dataclass
class DeviceFlow:
    oauth_url: str
    client_id: str
    time_scale: float = 1.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        url = self.oauth_url.rstrip("/") + path
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.post(url, data=form, headers={"Accept": "application/json"}) as answer,
            ):
                data = await answer.json(content_type=None)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise GitHubError(f"GitHub's sign-in service could not be reached: {exc}") from exc
        if not isinstance(data, dict):
            raise GitHubError(f"GitHub's sign-in service answered HTTP {status} without a JSON object")
        if status >= 400 and "error" not in data:
            raise GitHubError(f"GitHub's sign-in service answered HTTP {status}", data={"status": status})
        return data

    async def request_code(self, scopes: list[str]) -> DeviceCode:
        data = await self._post(
            "/login/device/code", {"client_id": self.client_id, "scope": " ".join(scopes)}
        )
        error = data.get("error")
        if isinstance(error, str):
            raise GitHubSignInError(_ENDING_ERRORS.get(error, f"GitHub refused the sign-in: {error}"), error)
        try:
            return DeviceCode(
                device_code=str(data["device_code"]),
                user_code=str(data["user_code"]),
                verification_uri=str(data["verification_uri"]),
                expires_in=int(data.get("expires_in", 900)),
                interval=int(data.get("interval", 5)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(f"GitHub's device code answer lacks {exc}") from exc

    async def poll(self, code: DeviceCode) -> AccessToken:
        """Poll until GitHub answers a token or ends the flow; never faster than the interval it asks."""
        interval = float(code.interval)
        deadline = time.monotonic() + code.expires_in * self.time_scale
        form = {"client_id": self.client_id, "device_code": code.device_code, "grant_type": GRANT_TYPE}
        while True:
            await self.sleep(interval * self.time_scale)
            data = await self._post("/login/oauth/access_token", form)
            token = data.get("access_token")
            if isinstance(token, str) and token:
                return AccessToken(token, str(data.get("token_type", "bearer")), str(data.get("scope", "")))
            error = str(data.get("error", ""))
            if error == "slow_down":
                asked = data.get("interval")
                interval = max(interval + SLOW_DOWN_STEP_S, float(asked) if isinstance(asked, int) else 0.0)
            elif error == "authorization_pending":
                pass
            else:
                reason = error or "no_token"
                message = _ENDING_ERRORS.get(reason, f"GitHub ended the sign-in: {reason}")
                raise GitHubSignInError(message, reason)
            if time.monotonic() + interval * self.time_scale > deadline:
                raise GitHubSignInError(_ENDING_ERRORS["expired_token"], "expired_token")

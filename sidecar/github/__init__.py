"""The GitHub service behind the editor's GitHub panel (``github:*`` channels).

It owns: repository facts read from a project folder with the git CLI (:mod:`.repo`); the OAuth device
flow sign-in and the token kept in the editor-wide credential store under the name ``github``
(:mod:`.device_flow`, :mod:`.service`); and a small typed REST client on aiohttp (:mod:`.client`) that
keeps ETags and answers a 304 from its cache, reports the rate-limit headers, and retries a secondary
rate limit once. No GitHub library is used: none on PyPI is both asyncio-native and does the device flow,
and the panel needs only a dozen endpoints.
"""

from sidecar.github.client import GitHubClient, RateLimit
from sidecar.github.device_flow import DeviceCode, DeviceFlow
from sidecar.github.repo import RepoInfo, read_repo_info
from sidecar.github.service import CREDENTIAL_NAME, GitHubService, GitHubSettings

__all__ = [
    "CREDENTIAL_NAME",
    "DeviceCode",
    "DeviceFlow",
    "GitHubClient",
    "GitHubService",
    "GitHubSettings",
    "RateLimit",
    "RepoInfo",
    "read_repo_info",
]

"""Where Function code (``fetch``) and REST / Python HTTP nodes may send requests: the egress policy, and
the two aiohttp pieces that hold every outbound request of the runtime to it.

- **Always refused**: the cloud metadata endpoints (``169.254.169.254``, ``fd00:ec2::254``,
  ``100.100.100.200``; the names ``metadata.google.internal`` and ``metadata.goog``), which hand out
  the machine's cloud credentials; and this process's own listening ports on a local address (the
  backends' doors with their admin routes, the dashboard): a function never calls the sidecar that
  runs it, whatever credential it holds.
- **Deployed** (``serve`` bound to an address other machines reach, or ``NOODL_EGRESS=deployed``, which
  the container image sets): every address that is not globally routable is refused too (loopback,
  link-local, private, shared/CGNAT, unspecified, reserved), so a function cannot reach the database,
  the cluster or the host behind the backend. The ``NOODL_EGRESS_ALLOW`` environment variable lists
  exceptions, comma-separated: addresses, networks (``10.0.0.0/8``) or host names. The metadata
  endpoints stay refused even when listed.
- **Local** (``stdio`` for the editor, a ``serve`` bound to loopback): localhost and the local network
  stay reachable (a function calls the developer's local APIs), except the two always-refused kinds.

A name is resolved once, by the session's resolver; its addresses are checked and the connection is
made to a checked one, so a name that answers an allowed address for a check and a refused one for the
connection (DNS rebinding) has no second lookup to exploit. A literal address (which aiohttp does not
resolve) is checked by a client middleware, which also sees every redirect hop.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING

from sidecar.errors import EgressRefusedError

if TYPE_CHECKING:
    import aiohttp
    from aiohttp.abc import AbstractResolver, ResolveResult

Address = IPv4Address | IPv6Address
ALLOW_ENV = "NOODL_EGRESS_ALLOW"
MODE_ENV = "NOODL_EGRESS"
METADATA_ADDRESSES = frozenset(
    ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog"})


@dataclass(frozen=True)
class EgressPolicy:
    deployed: bool = False
    """``serve``: addresses that are not globally routable are refused unless allowed."""
    allowed_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    allowed_names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_allow_list(cls, text: str, *, deployed: bool) -> EgressPolicy:
        """``NOODL_EGRESS_ALLOW``'s form: comma-separated addresses, networks or host names."""
        networks: list[IPv4Network | IPv6Network] = []
        names: set[str] = set()
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(deployed, tuple(networks), frozenset(names))

    def name_refusal(self, name: str) -> str | None:
        if name.lower().rstrip(".") in METADATA_NAMES:
            return "a cloud metadata endpoint"
        return None

    def refusal(self, address: Address, port: int, name: str | None = None) -> str | None:
        """Why a connection to ``address:port`` (reached as ``name``, if by name) is refused, or ``None``."""
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address in METADATA_ADDRESSES:
            return "a cloud metadata endpoint"
        if port in _own_ports and (address.is_loopback or address.is_unspecified):
            return "this sidecar's own port"
        if self.deployed and not address.is_global and not self._allowed(address, name):
            return f"not a public address (a deployed backend reaches it only when {ALLOW_ENV} lists it)"
        return None

    def _allowed(self, address: Address, name: str | None) -> bool:
        if name is not None and name.lower().rstrip(".") in self.allowed_names:
            return True
        return any(address in network for network in self.allowed_networks)


_policy = EgressPolicy()
_own_ports: set[int] = set()


def configure(policy: EgressPolicy) -> None:
    """The process's policy (``serve`` sets the deployed one at start)."""
    global _policy
    _policy = policy


def policy_for_serve(host_is_loopback: bool) -> EgressPolicy:
    """``serve``'s policy: deployed when its door is reachable from other machines, or when
    ``NOODL_EGRESS=deployed`` says so (the container image sets it); a ``serve`` bound to loopback is a
    developer's local server (the editor's launcher, ``scripts/demo --serve``), whose functions call
    local APIs as in the editor."""
    deployed = not host_is_loopback or os.environ.get(MODE_ENV, "") == "deployed"
    return EgressPolicy.from_allow_list(os.environ.get(ALLOW_ENV, ""), deployed=deployed)


def current() -> EgressPolicy:
    return _policy


def listening(port: int) -> None:
    """A door of this process listens on ``port``: scripts may not call it."""
    _own_ports.add(port)


def stopped_listening(port: int) -> None:
    _own_ports.discard(port)


def _literal(host: str) -> Address | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _refuse(host: str, reason: str) -> EgressRefusedError:
    return EgressRefusedError(f"requests to {host} are refused: {reason}")


def client_session(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """A session whose every request (and redirect hop) is held to the process's policy."""
    import aiohttp

    policy = _policy

    async def check_literal(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        host = request.url.host or ""
        reason = policy.name_refusal(host)
        address = _literal(host)
        if reason is None and address is not None:
            reason = policy.refusal(address, request.url.port or 0)
        if reason is not None:
            raise _refuse(host, reason)
        return await handler(request)

    connector = aiohttp.TCPConnector(resolver=_checked_resolver_class()(policy))
    return aiohttp.ClientSession(timeout=timeout, connector=connector, middlewares=(check_literal,))


@functools.cache
def _checked_resolver_class() -> Callable[[EgressPolicy], AbstractResolver]:
    """The resolver class, made once (aiohttp is imported only when a request is made)."""
    from aiohttp.resolver import DefaultResolver

    class CheckedResolver(DefaultResolver):  # type: ignore[misc,valid-type]
        """The default resolver's addresses, less the refused ones; none left refuses the request."""

        def __init__(self, policy: EgressPolicy) -> None:
            super().__init__()
            self._policy = policy

        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            reason = self._policy.name_refusal(host)
            if reason is not None:
                raise _refuse(host, reason)
            found: Iterable[ResolveResult] = await super().resolve(host, port, family)
            kept: list[ResolveResult] = []
            for result in found:
                address = _literal(result["host"])
                reason = "not an IP address" if address is None else self._policy.refusal(address, port, host)
                if reason is None:
                    kept.append(result)
            if not kept:
                raise _refuse(host, reason or "no address")
            return kept

    return CheckedResolver

"""``/admin/permissions/functions``: who may call each cloud function, as the gate resolves it.

The rules are the ``functions`` section of ``security.json`` (``sidecar.backends.security_policy``),
changed through the security service so the door enforces them at once. The listing reports the
*effective* rule of every deployed or configured function, resolved the way the door resolves it, so
a panel never has to compute its own answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sidecar.errors import InvalidSecurityPolicyError


class SecurityPort(Protocol):
    def get_permissions(self) -> dict[str, Any]: ...
    async def set_permissions(self, raw: Any) -> dict[str, Any]: ...


class FunctionRules:
    def __init__(
        self,
        security: SecurityPort,
        deployed: Callable[[], Iterable[str]],
        allows_no_auth: Callable[[str], bool],
    ) -> None:
        self._security = security
        self._deployed = deployed
        self._allows_no_auth = allows_no_auth

    def listing(self) -> dict[str, Any]:
        policy = self._security.get_permissions()
        rules: dict[str, Any] = policy.get("functions", {})
        dev_open = bool(policy.get("devOpen"))
        names = sorted({*self._deployed(), *rules})
        return {
            "devOpen": dev_open,
            "functions": [self._row(name, rules.get(name), dev_open) for name in names],
        }

    async def set_rule(self, name: str, rules: Any) -> dict[str, Any]:
        if not isinstance(rules, dict):
            raise InvalidSecurityPolicyError(
                [f"functions.{name}: must be an object with call and/or timeoutMs"]
            )
        policy = self._security.get_permissions()
        policy["functions"] = {**policy.get("functions", {}), name: rules}
        await self._security.set_permissions(policy)  # validates the whole policy, then writes
        return {"success": True, **self._single(name)}

    async def reset_rule(self, name: str) -> dict[str, Any]:
        policy = self._security.get_permissions()
        functions = dict(policy.get("functions", {}))
        removed = functions.pop(name, None) is not None
        policy["functions"] = functions
        await self._security.set_permissions(policy)
        return {"success": True, "removed": removed, **self._single(name)}

    def _single(self, name: str) -> dict[str, Any]:
        policy = self._security.get_permissions()
        return {
            "function": self._row(name, policy.get("functions", {}).get(name), bool(policy.get("devOpen")))
        }

    def _row(self, name: str, rule: Any, dev_open: bool) -> dict[str, Any]:
        rule = rule or {}
        if dev_open:
            call, source = "public", "devOpen"
        elif rule.get("call"):
            call, source = rule["call"], "rule"
        elif self._allows_no_auth(name):
            call, source = "public", "requestNode"
        else:
            call, source = "authenticated", "default"
        return {
            "name": name,
            "rule": rule or None,
            "call": call,
            "source": source,
            "timeoutMs": rule.get("timeoutMs"),
            "deployed": name in set(self._deployed()),
        }

"""Access decisions, as plain functions: who may call a function, who may act on a collection.

The function gate in order: admin always; an API key only with a function scope;
``devOpen`` lets everyone in; then ``security.json`` ``functions.<name>.call``; without a rule the
function's Request node decides (``allowNoAuth`` → public, else authenticated).
Collections follow the store's own class-level permission check, so ``checkAccess`` answers exactly
what a request would meet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.backends.api_keys import may_call
from sidecar.backends.security_policy import SecurityPolicy


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: str

    def to_wire(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason}


def function_decision(
    policy: SecurityPolicy, name: str, caller: Any, allows_no_auth: Callable[[], bool]
) -> AccessDecision:
    """May ``caller`` (a ``CallerContext``) run function ``name``? ``allows_no_auth`` reads the Request
    node, only when no rule decides first."""
    from sidecar.web.auth import ApiKeyCaller

    if caller.is_master:
        return AccessDecision(True, "admin credential")
    if isinstance(caller, ApiKeyCaller):
        if may_call(caller.scopes, name):
            return AccessDecision(True, "API key with a function scope")
        return AccessDecision(False, f"API key lacks the scope functions:{name} (or functions:call)")
    if policy.dev_open:
        return AccessDecision(True, "devOpen: every function is open")
    rule = policy.function_rule(name).call
    if rule is not None:
        return _call_rule(rule, caller, f'security.json rule "{rule}"')
    if allows_no_auth():
        return AccessDecision(True, "Request node allows unauthenticated calls")
    return _call_rule("authenticated", caller, "default rule: the Request node needs a signed-in user")


def _call_rule(rule: str, caller: Any, source: str) -> AccessDecision:
    if rule == "public":
        return AccessDecision(True, source)
    if rule == "authenticated":
        signed_in = caller.user_id is not None
        return AccessDecision(signed_in, source if signed_in else f"{source}: no signed-in user")
    if rule.startswith("role:"):
        role = rule[len("role:") :]
        held = role in caller.roles
        return AccessDecision(held, source if held else f"{source}: the caller does not hold role {role}")
    return AccessDecision(False, f"{source}: admin only")


def collection_decision(
    clp: Mapping[str, Any], operation: str, caller: Any, collection: str
) -> AccessDecision:
    """The store's class-level permission check for ``operation`` on ``collection``."""
    from sidecar.errors import OperationForbiddenError
    from sidecar.store.clp import READ_OPERATIONS, check, read_owner_fields

    if caller.is_master:
        return AccessDecision(True, "admin credential")
    try:
        owners = None
        if operation in READ_OPERATIONS:
            owners = read_owner_fields(clp, operation, caller, collection)
        else:
            check(clp, operation, caller, collection)
    except OperationForbiddenError:
        return AccessDecision(
            False, f"class-level permission {operation} of {collection} does not name the caller"
        )
    if owners is not None:
        fields = ", ".join(owners)
        return AccessDecision(
            True, f"pointer permission of {collection}: only rows whose {fields} point at the caller"
        )
    rule = clp.get(operation)
    if rule is None:
        return AccessDecision(True, f"no {operation} rule on {collection}: open to everyone")
    return AccessDecision(True, f"class-level permission {operation} of {collection} names the caller")

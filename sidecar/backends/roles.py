"""Roles of a backend: ``_Role`` rows and their ``users`` relation, managed as master.

Both doors call these (``backend:listRoles`` … and ``/admin/roles`` …). A role is readable by everyone
(its ACL is ``{"*": {"read": true}}``, which Parse requires a role to carry) and writable by master only;
membership is what the store reads when it resolves a session's roles, so a change applies to the
next request of that user.
"""

from __future__ import annotations

from typing import Any

from sidecar.errors import RoleNotFoundError

ROLE_CLASS = "_Role"
USER_CLASS = "_User"
_ROLE_ACL = {"*": {"read": True}}
_LIST_LIMIT = 1000


def _master() -> Any:
    from sidecar.store import CallerContext

    return CallerContext.master()


def _user_pointer(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": USER_CLASS, "objectId": user_id}


async def _members(store: Any, role_id: str) -> list[str]:
    from sidecar.store import QueryOptions

    related = {
        "$relatedTo": {
            "object": {"__type": "Pointer", "className": ROLE_CLASS, "objectId": role_id},
            "key": "users",
        }
    }
    options = QueryOptions(where=related, keys=("objectId",), limit=_LIST_LIMIT, order=("objectId",))
    found = await store.query(USER_CLASS, options, _master())
    return [str(user["objectId"]) for user in found.results]


async def _role_wire(store: Any, role: dict[str, Any]) -> dict[str, Any]:
    return {
        "objectId": role["objectId"],
        "name": role["name"],
        "users": await _members(store, str(role["objectId"])),
        "createdAt": role.get("createdAt"),
    }


async def find_role(store: Any, name: str) -> dict[str, Any]:
    from sidecar.store import QueryOptions

    found = await store.query(ROLE_CLASS, QueryOptions(where={"name": name}, limit=1), _master())
    if not found.results:
        raise RoleNotFoundError(name)
    role: dict[str, Any] = found.results[0]
    return role


async def list_roles(store: Any) -> list[dict[str, Any]]:
    """Every role with its direct members' user ids, by name."""
    from sidecar.store import QueryOptions

    found = await store.query(ROLE_CLASS, QueryOptions(order=("name",), limit=_LIST_LIMIT), _master())
    return [await _role_wire(store, role) for role in found.results]


async def create_role(store: Any, name: str) -> dict[str, Any]:
    """A new, empty role; the store refuses an invalid (139) or taken (137) name."""
    created = await store.create(ROLE_CLASS, {"name": name, "ACL": _ROLE_ACL}, _master())
    return await _role_wire(store, dict(created.object))


async def delete_role(store: Any, name: str) -> dict[str, Any]:
    role = await find_role(store, name)
    await store.delete(ROLE_CLASS, role["objectId"], _master())
    return {"deleted": True, "name": name}


async def add_role_user(store: Any, name: str, user_id: str) -> dict[str, Any]:
    """Add a user (who must exist: 101 otherwise) to a role; adding twice changes nothing."""
    role = await find_role(store, name)
    await store.fetch(USER_CLASS, user_id, _master())
    await store.add_relation(ROLE_CLASS, role["objectId"], "users", [_user_pointer(user_id)], _master())
    return await _role_wire(store, role)


async def remove_role_user(store: Any, name: str, user_id: str) -> dict[str, Any]:
    role = await find_role(store, name)
    await store.remove_relation(ROLE_CLASS, role["objectId"], "users", [_user_pointer(user_id)], _master())
    return await _role_wire(store, role)


async def roles_of_user(store: Any, user_id: str) -> frozenset[str]:
    """Names of the roles a user holds directly or through role nesting (``_Role.roles``)."""
    from sidecar.store import QueryOptions

    pointer = _user_pointer(user_id)
    found = await store.query(
        ROLE_CLASS, QueryOptions(where={"users": pointer}, limit=_LIST_LIMIT), _master()
    )
    held = {str(role["objectId"]): str(role["name"]) for role in found.results}
    frontier = set(held)
    while frontier:
        parents: dict[str, str] = {}
        for role_id in frontier:
            child = {"__type": "Pointer", "className": ROLE_CLASS, "objectId": role_id}
            nested = await store.query(
                ROLE_CLASS, QueryOptions(where={"roles": child}, limit=_LIST_LIMIT), _master()
            )
            parents.update({str(role["objectId"]): str(role["name"]) for role in nested.results})
        frontier = set(parents) - set(held)
        held.update(parents)
    return frozenset(held.values())

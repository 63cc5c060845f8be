"""Replay with edited input: a past execution's recorded request with the caller's changes applied.

Edits (``execution-history:rerun``'s second argument, the body of ``POST /executions/:id/rerun``)::

    {"body"?: <JSON value>,                  # replaces the recorded body (a trigger's payload is its body)
     "headers"?: {name: text | null},        # merged over the recorded headers; null removes one
     "sessionToken"?: text}                  # run as this user (the x-parse-session-token header)

The recorded request is the scrubbed one (``sidecar.history.scrub``): a header or body key that was
redacted holds only the marker text. Such a part is left out unless the caller supplies it (as a
plain re-run does), and a request that still carries the marker text anywhere (copied back from the
pinned view) is refused with the paths to supply, so a secret is never "replayed" as ``[REDACTED]``.
A request the history cut (over its size limit) cannot be replayed, but can be re-run with a
replacement body.

The new run's metadata carries ``retryOf`` (the original id), ``inputChanges`` (JSON pointers,
RFC 6901, of every path of ``{headers, body}`` that differs from the recorded request, a redacted
part left out included) and ``suppliedSecrets`` (pointers of redacted parts the caller supplied:
they are not diffs, the recorded value being unknown).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sidecar.errors import InvalidParamsError, RerunUnavailableError
from sidecar.history.recorder import RunTrigger
from sidecar.history.rerun import RerunRequest, rerun_request
from sidecar.history.scrub import REDACTED, TOO_DEEP

SESSION_HEADER = "x-parse-session-token"
_EDIT_KEYS = frozenset({"body", "headers", "sessionToken"})
_MARKERS = (REDACTED, TOO_DEEP)
MAX_CHANGES_KEPT = 200  # pointers kept in metadata; a count says how many there were


@dataclass(frozen=True)
class RerunEdits:
    replaces_body: bool = False
    body: Any = None
    headers: Mapping[str, str | None] = field(default_factory=dict)
    session_token: str | None = None

    @classmethod
    def from_wire(cls, value: Any) -> RerunEdits:
        """Validate the caller's edits; raises ``InvalidParamsError`` naming what is wrong."""
        if not isinstance(value, Mapping):
            raise InvalidParamsError("rerun edits must be an object {body?, headers?, sessionToken?}")
        unknown = set(value) - _EDIT_KEYS
        if unknown:
            raise InvalidParamsError(f"unknown rerun edits: {', '.join(sorted(unknown))}")
        headers = value.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
            isinstance(item, str | None) for item in headers.values()
        ):
            raise InvalidParamsError("headers must map header names to text (or null to remove one)")
        token = value.get("sessionToken")
        if token is not None and (not isinstance(token, str) or not token):
            raise InvalidParamsError("sessionToken must be non-empty text")
        return cls(
            replaces_body="body" in value,
            body=value.get("body"),
            headers={str(name).lower(): item for name, item in headers.items()},
            session_token=token,
        )


def edited_rerun_request(execution: Mapping[str, Any], edits: RerunEdits) -> RerunRequest:
    """The request to run: the recorded one (redacted parts left out) with ``edits`` applied.

    A request the history could not keep whole (over its size limit, an unparsable body, a secret
    inside a string) refuses a plain re-run; a caller who replaces the body may still re-run. When
    the whole request was cut, its headers are lost too: only the caller's are sent, and ``omitted``
    says ``headers``."""
    recorded = execution.get("triggerData")
    lost_headers = False
    try:
        base = rerun_request(execution)
    except RerunUnavailableError:
        if not (edits.replaces_body and isinstance(recorded, dict)):
            raise
        lost_headers = "body" not in recorded  # the whole request is the truncation marker
        kept = {"headers": {} if lost_headers else recorded.get("headers") or {}, "body": {}}
        base = rerun_request({**execution, "triggerData": kept})
        if lost_headers:
            base = replace(base, omitted=("headers",))
        recorded = {"headers": {}, "body": recorded if lost_headers else recorded["body"]}
    assert isinstance(recorded, dict)  # rerun_request refused anything else
    recorded_headers: dict[str, Any] = dict(recorded.get("headers") or {})
    headers = dict(base.headers)
    for name, item in edits.headers.items():
        if item is None:
            headers.pop(name, None)
        else:
            headers[name] = item
    if edits.session_token is not None:
        headers[SESSION_HEADER] = edits.session_token
    body = edits.body if edits.replaces_body else json.loads(base.body)
    new = {"headers": headers, "body": body}
    markers = _marker_paths(new, "")
    if markers:
        raise RerunUnavailableError(
            "the edited request still holds redacted text; supply the values at " + ", ".join(markers),
            data={"paths": markers},
        )
    old = {"headers": recorded_headers, "body": recorded.get("body")}
    changes: list[str] = []
    supplied: list[str] = []
    _diff(old, new, "", changes, supplied)
    omitted = tuple(
        path for path in base.omitted if _pointer_of(path) not in supplied and not _dropped(path, edits)
    )
    extra: dict[str, Any] = dict(base.trigger.extra)
    extra["inputChanges"] = changes[:MAX_CHANGES_KEPT]
    if len(changes) > MAX_CHANGES_KEPT:
        extra["inputChangeCount"] = len(changes)
    if supplied:
        extra["suppliedSecrets"] = supplied
    trigger = RunTrigger(trigger_type=base.trigger.trigger_type, trigger_source="rerun-edited", extra=extra)
    return replace(
        base,
        headers=headers,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        trigger=trigger,
        omitted=omitted,
    )


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _pointer_of(dotted: str) -> str:
    """``headers.authorization`` / ``body.items[2].password`` (rerun's notation) as a JSON pointer."""
    pointer = ""
    for part in dotted.replace("[", ".").replace("]", "").split("."):
        pointer += "/" + _escape(part)
    return pointer


def _dropped(dotted: str, edits: RerunEdits) -> bool:
    """True when the caller's edits chose to leave the part out: a header removed with null, or any
    part of a body the caller replaced."""
    if dotted.startswith("headers."):
        name = dotted.removeprefix("headers.")
        return name in edits.headers and edits.headers[name] is None
    return dotted.startswith("body") and edits.replaces_body


def _marker_paths(value: Any, pointer: str) -> list[str]:
    if isinstance(value, str):
        return [pointer] if any(marker in value for marker in _MARKERS) else []
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            found.extend(_marker_paths(item, f"{pointer}/{_escape(str(key))}"))
        return found
    if isinstance(value, list):
        return [path for i, item in enumerate(value) for path in _marker_paths(item, f"{pointer}/{i}")]
    return []


def _diff(old: Any, new: Any, pointer: str, changes: list[str], supplied: list[str]) -> None:
    """Pointers of the paths where ``new`` differs from ``old``; recorded secrets go to ``supplied``."""
    if isinstance(old, str) and old in _MARKERS:
        supplied.append(pointer)
        return
    if isinstance(old, dict) and old.get("__truncated") is True:
        changes.append(pointer)  # cut when recorded: what it held is unknown, so it counts as changed
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [key for key in new if key not in old]:
            child = f"{pointer}/{_escape(str(key))}"
            if key not in new or key not in old:
                changes.append(child)
            else:
                _diff(old[key], new[key], child, changes, supplied)
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            child = f"{pointer}/{i}"
            if i >= len(old) or i >= len(new):
                changes.append(child)
            else:
                _diff(old[i], new[i], child, changes, supplied)
        return
    if type(old) is not type(new) or old != new:
        changes.append(pointer)

"""Request and Response: where a request enters the graph and the first answer leaves it."""

from __future__ import annotations

import functools
from typing import Any

from sidecar.runtime import request_contract
from sidecar.runtime.context import FunctionResponse
from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, for_in_keys, js_json_parse, js_stringify, js_truthy

UNAUTHENTICATED = "Unauthenticated requests not accepted."


def _ignore(node: Node, value: Any) -> None:
    """Editor-only inputs (``params``) carry nothing at run time."""


def _param_entries(params: object) -> list[tuple[str, Any]]:
    """Keys of the parsed body in ``for…in`` order: objects, arrays and strings have keys."""
    if isinstance(params, dict):
        return [(key, params[key]) for key in for_in_keys(params)]
    if isinstance(params, list):
        return [(str(index), item) for index, item in enumerate(params)]
    if isinstance(params, str):
        return [(str(index), char) for index, char in enumerate(params)]
    return []


# Dynamic port specs depend only on the port name, so they are built once per name, not per run.
@functools.cache
def _parameter_output(name: str) -> OutputSpec:
    key = name[3:]
    return OutputSpec(name, "*", get=lambda node: node.params.get(key, UNDEFINED))


# The typed request contract's per-parameter settings: ptype-<name>, preq-<name>, pdef-<name>.
_CONTRACT_PREFIXES = ("ptype-", "preq-", "pdef-")


@functools.cache
def _contract_input(name: str) -> InputSpec:
    def store(node: Any, value: Any) -> None:
        node.contract[name] = value

    return InputSpec(name, "*", set=store)


@functools.cache
def _parameter_input(name: str) -> InputSpec:
    key = name[3:]

    def store(node: Any, value: Any) -> None:
        node.params[key] = value  # a key keeps the position of its first assignment

    return InputSpec(name, "*", set=store)


def _default_text(value: Any) -> str | None:
    """A ``pdef-`` default; an empty one is no default."""
    if value is UNDEFINED or value is None or value == "":
        return None
    return value if isinstance(value, str) else js_stringify(value)


class RequestNode(Node):
    TYPE = "noodl.cloud.request"
    DISPLAY_NAME = "Request"
    CATEGORY = "Cloud"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.allow_no_auth = False
        self.authenticated = False
        self.user_id: Any = UNDEFINED
        self.params: dict[str, Any] = {}
        self.parameter_names: list[str] = []
        self.contract: dict[str, Any] = {}  # ptype-/preq-/pdef- settings by input name

    def _set_allow_no_auth(self, value: Any) -> None:
        self.allow_no_auth = js_truthy(value)

    def _set_parameter_names(self, value: Any) -> None:
        self.parameter_names = request_contract.parameter_names(value)

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _contract_input(name) if name.startswith(_CONTRACT_PREFIXES) else None

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return _parameter_output(name) if name.startswith("pm-") else None

    def _declarations(self) -> list[request_contract.Declaration]:
        contract = self.contract
        if not contract:
            return []
        return [
            request_contract.Declaration(
                name,
                request_contract.declared_type(contract.get("ptype-" + name)),
                js_truthy(contract.get("preq-" + name, False)),
                _default_text(contract.get("pdef-" + name)),
            )
            for name in self.parameter_names
        ]

    def _origin(self) -> str:
        headers = self.ctx.request.headers
        origin = headers.get("origin")
        if origin:
            return origin
        host = headers.get("host")
        return f"http://{host}" if host else ""

    def send_request(self) -> None:
        """Every step synchronously: the ``GET /config`` wait was dropped (docs/runtime.md)."""
        request = self.ctx.request
        token = request.headers.get("x-parse-session-token")
        try:
            params = js_json_parse(request.body) if request.body else {}
        except ValueError:
            params = {}
        if not token and not self.allow_no_auth:
            raise PermissionError(UNAUTHENTICATED)
        if token:
            self._authenticate(token, params)
            return
        self._deliver(params)

    def _authenticate(self, token: str, params: object) -> None:
        users = self.ctx.services.records
        if users is None:
            if not self.allow_no_auth:
                raise PermissionError(UNAUTHENTICATED)
            self._deliver(params)
            return

        def done(user: Any, error: BaseException | None) -> None:
            if error is None and user:
                self.authenticated = True
                self.user_id = user.get("objectId", UNDEFINED)
                self.ctx.user = user
                self.flag_output_dirty("userId")
            elif not self.allow_no_auth:
                self.ctx.reject(UNAUTHENTICATED)
                return
            self._deliver(params)

        self.ctx.spawn(users.current_user(token), done)

    def _deliver(self, params: object) -> None:
        params, problems = request_contract.apply(self._declarations(), params)
        if problems:  # checked after authentication, before the graph sees the request
            self.ctx.settle(FunctionResponse(400, request_contract.failure_body(problems)))
            return
        request = self.ctx.request
        data = {"Authenticated": self.authenticated, "UserId": self.user_id, "Parameters": params}
        data["Headers"] = dict(request.headers)
        self.ctx.models.put("Request", data)  # fresh per request
        self.flag_output_dirty("auth")
        if self.has_output_connections("origin"):  # newer runners' output; not part of every step's record
            self.flag_output_dirty("origin")
        for key, value in _param_entries(params):
            self.params[key] = value
            if self.has_output("pm-" + key):
                self.flag_output_dirty("pm-" + key)
        self.send_signal("receive")

    INPUTS = (
        InputSpec(
            "allowNoAuth",
            "boolean",
            set=_set_allow_no_auth,
            default=False,
            display_name="Allow Unauthenticated",
        ),
        InputSpec("params", "stringlist", set=_set_parameter_names, display_name="Parameters"),
    )
    OUTPUTS = (
        OutputSpec("receive", "signal", display_name="Received"),
        OutputSpec("origin", "string", get=lambda node: node._origin(), display_name="Origin"),
        OutputSpec("auth", "boolean", get=lambda node: node.authenticated, display_name="Authenticated"),
        OutputSpec("userId", "boolean", get=lambda node: node.user_id, display_name="User Id"),
    )


class ResponseNode(Node):
    TYPE = "noodl.cloud.response"
    DISPLAY_NAME = "Response"
    CATEGORY = "Cloud"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.status: Any = UNDEFINED
        self.error_message: Any = UNDEFINED
        self.params: dict[str, Any] = {}

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _parameter_input(name) if name.startswith("pm-") else None

    def _set_status(self, value: Any) -> None:
        self.status = value

    def _set_error_message(self, value: Any) -> None:
        self.error_message = value

    def _on_send(self) -> None:
        """Sends at once, as Noodl's Response does when ``send`` turns true: a value queued behind the
        signal in the same sweep of this node's inputs is not in the body."""
        self._send_response()

    def _send_response(self) -> None:
        if self.status is UNDEFINED or self.status == "success":
            body = js_stringify({"result": self.params})
            response = FunctionResponse(200, body or "{}")
        else:
            response = FunctionResponse(400, js_stringify({"error": self.error_message}) or "{}")
        self.ctx.settle(response)

    INPUTS = (
        InputSpec("params", "stringlist", set=_ignore, display_name="Parameters"),
        InputSpec(
            "status",
            {
                "name": "enum",
                "enums": [{"label": "Success", "value": "success"}, {"label": "Failure", "value": "failure"}],
            },
            set=_set_status,
            default="success",
            display_name="Status",
        ),
        InputSpec("errorMessage", "string", set=_set_error_message, display_name="Error Message"),
        InputSpec("send", "signal", on_signal=_on_send, display_name="Send"),
    )

"""REST (``REST2``, deprecated but registered): an outbound request shaped by two scripts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog

from sidecar.errors import ScriptError
from sidecar.runtime.bridge import apply_effects
from sidecar.runtime.http_client import AiohttpClient, HttpResult
from sidecar.runtime.nodes.code import ScriptHostNode
from sidecar.runtime.nodes.strings import js_replace_first
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_stringify, js_to_string, js_truthy

log = structlog.get_logger()

_SCRIPT_TYPE = {"name": "string", "allowEditOnly": True, "codeeditor": "javascript"}
_METHODS = {
    "name": "enum",
    "enums": [{"label": m, "value": m} for m in ("GET", "POST", "PUT", "PATCH", "DELETE")],
}
DEFAULT_REQUEST_SCRIPT = (
    "//Add custom code to setup the request object before the request\n//is made.\n//\n"
    "//*Request.resource     contains the resource path of the request.\n"
    "//*Request.method       contains the method, GET, POST, PUT or DELETE.\n"
    "//*Request.headers      is a map where you can add additional headers.\n"
    "//*Request.parameters   is a map the parameters that will be appended\n"
    "//                      to the url.\n"
    "//*Request.content      contains the content of the request as a javascript\n"
    "//                      object.\n//\n"
)
DEFAULT_RESPONSE_SCRIPT = (
    "// Add custom code to convert the response content to outputs\n//\n"
    "//*Response.status    The status code of the response\n"
    "//*Response.content   The content of the response as a javascript\n//                    object.\n"
    "//*Response.request   The request object that resulted in the response.\n//\n"
    "//*Inputs and *Outputs contain the inputs and outputs of the node.\n"
)


class RestNode(ScriptHostNode):
    TYPE = "REST2"
    LANGUAGE = "javascript"
    DISPLAY_NAME = "REST"
    CATEGORY = "Data"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.resource: Any = "/"
        self.method: Any = "GET"
        self.request_script: str | None = None
        self.response_script: str | None = None
        self._scheduled = False

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name.startswith("in-"):
            key = name[3:]
            return InputSpec(name, "*", set=lambda n, v: self.inputs.__setitem__(key, v))
        return None

    def _set_resource(self, value: Any) -> None:
        self.resource = value

    def _set_method(self, value: Any) -> None:
        self.method = value

    def _set_request_script(self, value: Any) -> None:
        self.request_script = js_to_string(value)

    def _set_response_script(self, value: Any) -> None:
        self.response_script = js_to_string(value)

    def _on_fetch(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._fetch)

    def _on_cancel(self) -> None:
        log.info("REST cancel is not supported in cloud functions", node_id=self.id)

    def _run_script(self, script: str | None, param: str, payload: dict[str, Any]) -> dict[str, Any]:
        if script is None:
            return payload
        js = self.ctx.services.js
        handle = js.compile_script(script, ("Inputs", "Outputs", param))
        after, effects = js.run_script(self.ctx, handle, self.key, self.inputs, payload)
        apply_effects(self.ctx, effects)
        return after if isinstance(after, dict) else payload

    def _fetch(self) -> None:
        self._scheduled = False
        resource = js_to_string(self.resource) if self.resource is not UNDEFINED else ""
        for key, value in self.inputs.items():  # String.replace: "$&" in a value is the placeholder
            resource = js_replace_first(resource, "{" + key + "}", js_to_string(value))
        request: dict[str, Any] = {
            "resource": resource,
            "headers": {},
            "method": js_to_string(self.method),
            "parameters": {},
        }
        try:
            request = self._run_script(self.request_script, "Request", request)
        except ScriptError as error:
            # CloudRunner's fetch throws out of the scheduled update: nothing is sent.
            log.warning("REST request script failed", node_id=self.id, error=error.message)
            return
        url = js_to_string(request.get("resource", ""))
        parameters = request.get("parameters") or {}
        if parameters:
            url += "?" + "&".join(f"{k}={quote(js_to_string(v), safe='')}" for k, v in parameters.items())
        content = request.get("content", UNDEFINED)
        headers = {str(k): js_to_string(v) for k, v in (request.get("headers") or {}).items()}
        body = None
        if js_truthy(content):  # `request.content ? JSON.stringify(…) : undefined`: 0 and '' send no body
            headers["Content-Type"] = "application/json"
            body = js_stringify(content)
        client = self.ctx.services.http or AiohttpClient()

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None or not isinstance(result, HttpResult):
                log.info("REST: failed to request", url=url, error=repr(error))
                self.send_signal("failure")
                return
            self._respond(result, request)

        call = client.request(js_to_string(request.get("method", "GET")), url, headers, body)
        self.ctx.spawn(call, done, owner=self.id)

    def _respond(self, result: HttpResult, request: dict[str, Any]) -> None:
        if result.content_type is not None and "/json" not in result.content_type:
            # CloudRunner's REST reads JSON only: another content type ends the fetch with no signal.
            log.warning("REST only supports json content type in response", node_id=self.id)
            return
        payload = {"status": result.status, "content": result.content, "request": request}
        try:
            self._run_script(self.response_script, "Response", payload)
        except ScriptError as error:
            # CloudRunner's response script throws before the status is flagged: no signal follows.
            log.warning("REST response script failed", node_id=self.id, error=error.message)
            return
        self.send_signal("success" if 200 <= result.status < 300 else "failure")

    INPUTS = (
        InputSpec(
            "resource", "string", set=_set_resource, default="/", display_name="Resource", group="Request"
        ),
        InputSpec("method", _METHODS, set=_set_method, default="GET", display_name="Method", group="Request"),
        InputSpec(
            "requestScript",
            _SCRIPT_TYPE,
            set=_set_request_script,
            default=DEFAULT_REQUEST_SCRIPT,
            display_name="Request",
            group="Scripts",
        ),
        InputSpec(
            "responseScript",
            _SCRIPT_TYPE,
            set=_set_response_script,
            default=DEFAULT_RESPONSE_SCRIPT,
            display_name="Response",
            group="Scripts",
        ),
        InputSpec("fetch", "signal", on_signal=_on_fetch, display_name="Fetch", group="Actions"),
        InputSpec("cancel", "signal", on_signal=_on_cancel, display_name="Cancel", group="Actions"),
    )
    OUTPUTS = (
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("success", "signal", display_name="Success", group="Events"),
        OutputSpec("canceled", "signal", display_name="Canceled", group="Events"),
    )

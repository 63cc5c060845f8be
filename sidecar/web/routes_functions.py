"""``POST /functions/:name``: the parameters go to the function invoker as JSON text
with the request headers; its ``(status, body)`` is written back as-is."""

from __future__ import annotations

from sidecar.errors import FunctionNotFoundError
from sidecar.jsontext import compact_encoder
from sidecar.web.router import Call, Route
from sidecar.web.services import FunctionRequest
from sidecar.web.wire import Reply

_params_json = compact_encoder(allow_nan=True)  # json.dumps(params, compact), its encoder built once


def not_found(name: str) -> FunctionNotFoundError:
    return FunctionNotFoundError.for_function(name)


async def run_function(call: Call) -> Reply:
    name = call.args["name"]
    invoker = call.services.functions
    if invoker is None:
        raise not_found(name)
    request = FunctionRequest(
        body=_params_json(call.params),
        headers={key.lower(): value for key, value in call.headers.items()},
        caller=call.caller,
    )
    try:
        status, text = await invoker.invoke(name, request)
    except FunctionNotFoundError as exc:
        raise not_found(name) from exc
    return Reply(text, status, is_json_text=True)


ROUTES: list[Route] = [
    Route("POST", "/functions/:name", run_function),
    Route("GET", "/functions/:name", run_function),
]

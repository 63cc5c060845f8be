"""Core Python nodes: what a Python workflow needs without writing a Python Function.

Where each runs follows one rule: a node that evaluates something the user wrote that can loop or
allocate without bound (a Python lambda, a Jinja2 template) runs in the worker pool like the Python
Function; a pure transform whose cost is bounded by its input runs here, in the sidecar's frame:

- **Python JSON Parse** / **Python JSON Stringify**: the standard ``json`` module (here).
- **Python List Transform**: ``map``/``filter``/``reduce`` over a list with a Python lambda (worker)
  or a JMESPath expression (here: ``jmespath`` has no loops or calls into Python, so an expression
  costs at most a pass over the data it is given).
- **Python Template**: a Jinja2 template rendered by ``ImmutableSandboxedEnvironment`` (worker: the
  sandbox guards attributes and calls, not CPU or memory).
- **Python Date**: parse (ISO 8601, epoch milliseconds, or a ``strptime`` format) and format
  (``strftime``) in an IANA time zone, with the standard ``datetime`` and ``zoneinfo`` (here).
- **Python HTTP Request**: one outbound request through the run's HTTP client, as the REST node (here).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import jmespath.exceptions
import structlog

from sidecar.python_runtime import CallResult, PythonLimitError
from sidecar.runtime.http_client import AiohttpClient, HttpResult
from sidecar.runtime.node import Node
from sidecar.runtime.nodes.python import PythonExpressionNode, call_worker, plain
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_number, js_to_string

log = structlog.get_logger()

CATEGORY = "Python"


def _enum(*values: str) -> dict[str, Any]:
    return {"name": "enum", "enums": [{"label": value, "value": value} for value in values]}


def _text(value: Any) -> str:
    return "" if value is UNDEFINED or value is None else js_to_string(value)


class _OnceAfterInputs(Node):
    """Evaluates once per sweep of input changes, once every connected input has its value (or on
    ``run`` when that is connected): not first with the parameters alone, then again."""

    # What these nodes compute in a setup frame depends on their parameters alone (no clock, no
    # run data); a worker call started there is pending work, which keeps the scope from being copied.
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._scheduled = False
        self.received: set[str] = set()
        self.error: str | None = None

    def changed(self) -> None:
        if self.is_input_connected("run"):
            return
        waiting = (
            spec.name
            for spec in self.INPUTS
            if not spec.is_signal and spec.name not in self.received and self.is_input_connected(spec.name)
        )
        if next(waiting, None) is None:
            self.schedule()

    def schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._evaluate_now)

    def _evaluate_now(self) -> None:
        self._scheduled = False
        self.evaluate()

    def evaluate(self) -> None:
        raise NotImplementedError

    def fail(self, message: str) -> None:
        self.error = message
        self.flag_output_dirty("error")
        self.ctx.report_node_error(self, message)
        self.send_signal("failure")


def _setter(attribute: str, port: str | None = None) -> Any:
    def store(node: Any, value: Any) -> None:
        setattr(node, attribute, value)
        node.received.add(port or attribute)
        node.changed()

    return store


_RUN = InputSpec("run", "signal", on_signal=lambda node: node.schedule(), display_name="Run")
_ERROR = OutputSpec("error", "string", get=lambda node: node.error, display_name="Error")
_SUCCESS = OutputSpec("success", "signal", display_name="Success")
_FAILURE = OutputSpec("failure", "signal", display_name="Failure")


class PythonJsonParseNode(_OnceAfterInputs):
    TYPE = "PythonJsonParse"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python JSON Parse"
    CATEGORY = CATEGORY
    DOCS = (
        "Parses JSON text into a value (Python's `json` module). `Value` carries it and `Success` fires; "
        "text that is not JSON fires `Failure` with the reason on `Error`."
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.text: Any = UNDEFINED
        self.value: Any = UNDEFINED

    def evaluate(self) -> None:
        try:
            self.value = json.loads(_text(self.text))
        except (ValueError, RecursionError) as error:
            self.fail(f"not JSON: {error}")
            return
        self.flag_output_dirty("value")
        self.send_signal("success")

    INPUTS = (InputSpec("text", "string", set=_setter("text"), display_name="Text"), _RUN)
    OUTPUTS = (
        OutputSpec("value", "*", get=lambda node: node.value, display_name="Value"),
        _ERROR,
        _SUCCESS,
        _FAILURE,
    )


class PythonJsonStringifyNode(_OnceAfterInputs):
    TYPE = "PythonJsonStringify"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python JSON Stringify"
    CATEGORY = CATEGORY
    DOCS = (
        "Writes a value as JSON text (Python's `json` module): `Indent` spaces (0 for one line), keys "
        "sorted when `Sort Keys` is on. A value JSON cannot hold fires `Failure`."
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.value: Any = UNDEFINED
        self.indent: Any = 0
        self.sort_keys: Any = False
        self.text: str | None = None

    def evaluate(self) -> None:
        indent = int(js_to_number(self.indent) or 0) if self.indent is not UNDEFINED else 0
        try:
            self.text = json.dumps(
                plain(self.value),
                indent=indent if indent > 0 else None,
                sort_keys=bool(self.sort_keys),
                ensure_ascii=False,
                allow_nan=False,
            )
        except (TypeError, ValueError) as error:
            self.fail(f"not representable as JSON: {error}")
            return
        self.flag_output_dirty("text")
        self.send_signal("success")

    INPUTS = (
        InputSpec("value", "*", set=_setter("value"), display_name="Value"),
        InputSpec("indent", "number", set=_setter("indent"), default=0, display_name="Indent"),
        InputSpec(
            "sortKeys",
            "boolean",
            set=_setter("sort_keys", "sortKeys"),
            default=False,
            display_name="Sort Keys",
        ),
        _RUN,
    )
    OUTPUTS = (
        OutputSpec("text", "string", get=lambda node: node.text, display_name="Text"),
        _ERROR,
        _SUCCESS,
        _FAILURE,
    )


def _jmespath_truthy(value: Any) -> bool:
    # JMESPath's own truth: false, null, empty string, list and object are false; 0 is true.
    return not (value is None or value is False or value in ("", [], {}))


class PythonListTransformNode(_OnceAfterInputs):
    TYPE = "PythonListTransform"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python List Transform"
    CATEGORY = CATEGORY
    DOCS = (
        "Maps, filters or reduces the list on `Items`. With `Language` `python` the `Expression` is a "
        "callable, such as `lambda item: item['price'] * 2` (map, filter) or `lambda total, item: total "
        "+ item` (reduce, starting from `Initial` when given), run in an isolated worker. With `jmespath` "
        "it is a JMESPath expression over each item (map, filter: `price > `10``) or over "
        "`{acc, item}` (reduce: `sum([acc, item.price])`), evaluated in the sidecar. `Result` carries the "
        "new list (the reduced value); an error fires `Failure`."
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.items: Any = UNDEFINED
        self.operation: Any = "map"
        self.language: Any = "python"
        self.expression: Any = UNDEFINED
        self.initial: Any = UNDEFINED
        self.result: Any = UNDEFINED

    def evaluate(self) -> None:
        expression = _text(self.expression).strip()
        if not expression:
            return
        items = plain(self.items) if self.items is not UNDEFINED else []
        operation = _text(self.operation) or "map"
        if not isinstance(items, list):
            self.fail(f"Items must be a list, not {type(items).__name__}")
            return
        if _text(self.language) == "jmespath":
            try:
                self._done(_jmespath_transform(expression, operation, items, plain(self.initial)))
            except (jmespath.exceptions.JMESPathError, ValueError) as error:
                self.fail(f"JMESPath: {error}")
            return
        inputs: dict[str, Any] = {"items": items, "operation": operation}
        if self.initial is not UNDEFINED:
            inputs["initial"] = plain(self.initial)
        call_worker(self, {"op": "transform", "source": expression, "inputs": inputs}, self._answered)

    def _answered(self, result: CallResult | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            message = error.message if isinstance(error, PythonLimitError) else repr(error)
            self.ctx.report_node_error(self, message)
            self.ctx.reject(message)
            return
        self.schedule_after_inputs(lambda: self._settle(result))

    def _settle(self, result: CallResult) -> None:
        if result.ok:
            self._done(result.result)
        else:
            self.fail(result.error or "Python code failed")

    def _done(self, value: Any) -> None:
        self.result = value
        self.flag_output_dirty("result")
        self.send_signal("success")

    INPUTS = (
        InputSpec("items", "*", set=_setter("items"), display_name="Items"),
        InputSpec(
            "operation",
            _enum("map", "filter", "reduce"),
            set=_setter("operation"),
            default="map",
            display_name="Operation",
        ),
        InputSpec(
            "language",
            _enum("python", "jmespath"),
            set=_setter("language"),
            default="python",
            display_name="Language",
        ),
        InputSpec(
            "expression",
            {"name": "string", "codeeditor": "python"},
            set=_setter("expression"),
            display_name="Expression",
        ),
        InputSpec("initial", "*", set=_setter("initial"), display_name="Initial"),
        _RUN,
    )
    OUTPUTS = (
        OutputSpec("result", "*", get=lambda node: node.result, display_name="Result"),
        _ERROR,
        _SUCCESS,
        _FAILURE,
    )


def _jmespath_transform(expression: str, operation: str, items: list[Any], initial: Any) -> Any:
    compiled = jmespath.compile(expression)
    if operation == "map":
        return [compiled.search(item) for item in items]
    if operation == "filter":
        return [item for item in items if _jmespath_truthy(compiled.search(item))]
    if operation == "reduce":
        rest = items if initial is not None else items[1:]
        acc = initial if initial is not None else (items[0] if items else None)
        for item in rest:
            acc = compiled.search({"acc": acc, "item": item})
        return acc
    raise ValueError(f"unknown operation {operation!r}")


class PythonTemplateNode(PythonExpressionNode):
    """Jinja2 template; every variable it reads becomes an input, rendered in the worker's sandbox."""

    TYPE = "PythonTemplate"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python Template"
    CATEGORY = CATEGORY
    OP = "template"
    DOCS = (
        "Renders a Jinja2 template, such as `Hello {{ name }}, you owe {{ total | round(2) }}`. Every "
        "variable the template reads is an input. It renders in Jinja2's sandbox (no access to Python "
        "internals) inside an isolated worker, once every input has a value and again when one changes, "
        "or when `Run` is signalled if that is connected. `Text` carries the result and `Done` fires; a "
        "template error is the node's failure."
    )

    @staticmethod
    def names_read(text: str) -> tuple[str, ...]:
        return template_names(text)

    def emit(self) -> None:
        self.flag_output_dirty("text")
        self.send_signal("done")

    INPUTS = (
        InputSpec(
            "expression",
            {"name": "string", "codeeditor": "jinja2"},
            set=PythonExpressionNode._set_expression,
            priority=1,
            display_name="Template",
        ),
        InputSpec("run", "signal", on_signal=PythonExpressionNode._on_run, display_name="Run"),
    )
    OUTPUTS = (  # type: ignore[assignment]
        OutputSpec("text", "string", get=lambda node: node.result, display_name="Text"),
        OutputSpec("done", "signal", display_name="Done"),
    )


@functools.lru_cache(maxsize=1024)
def template_names(text: str) -> tuple[str, ...]:
    """The undeclared variables of a Jinja2 template (parsing runs no template code); () on a syntax
    error, which the worker then reports as the node's failure."""
    from jinja2 import meta
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        found = meta.find_undeclared_variables(ImmutableSandboxedEnvironment().parse(text))
    except (TemplateSyntaxError, RecursionError):
        return ()
    return tuple(sorted(found, key=lambda name: (text.find(name), name)))


def _zone(name: str) -> tzinfo:
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def parse_moment(value: Any, parse_format: str, zone: tzinfo) -> datetime:
    """A date from epoch milliseconds, a ``datetime``, ISO 8601 text or text in ``parse_format``;
    a moment without an offset is read in ``zone``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=zone)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if parse_format:
            moment = datetime.strptime(text, parse_format)
        else:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    else:
        raise ValueError("no date given")
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


class PythonDateNode(_OnceAfterInputs):
    TYPE = "PythonDate"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python Date"
    CATEGORY = CATEGORY
    DOCS = (
        "Parses and formats a date with Python's `datetime`. `Date` is ISO 8601 text, epoch "
        "milliseconds, or text in `Parse Format` (a `strptime` format such as `%d/%m/%Y %H:%M`). A date "
        "without an offset is read in `Time Zone` (an IANA name, default UTC), and `Text` is written in "
        "it with `Format` (a `strftime` format; empty gives ISO 8601). `ISO` is the instant in UTC, "
        "`Timestamp` its epoch milliseconds. An unreadable date fires `Failure`."
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.date: Any = UNDEFINED
        self.parse_format: Any = ""
        self.format: Any = ""
        self.zone: Any = "UTC"
        self.text: str | None = None
        self.iso: str | None = None
        self.timestamp: float | None = None

    def evaluate(self) -> None:
        try:
            zone = _zone(_text(self.zone))
            moment = parse_moment(self.date, _text(self.parse_format), zone)
            out_format = _text(self.format)
            self.text = moment.strftime(out_format) if out_format else moment.isoformat()
        except (ValueError, OverflowError, OSError) as error:
            self.fail(str(error))
            return
        self.iso = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.timestamp = round(moment.timestamp() * 1000, 3)
        for name in ("text", "iso", "timestamp"):
            self.flag_output_dirty(name)
        self.send_signal("success")

    INPUTS = (
        InputSpec("date", "*", set=_setter("date"), display_name="Date"),
        InputSpec(
            "parseFormat",
            "string",
            set=_setter("parse_format", "parseFormat"),
            default="",
            display_name="Parse Format",
        ),
        InputSpec("format", "string", set=_setter("format"), default="", display_name="Format"),
        InputSpec(
            "timeZone", "string", set=_setter("zone", "timeZone"), default="UTC", display_name="Time Zone"
        ),
        _RUN,
    )
    OUTPUTS = (
        OutputSpec("text", "string", get=lambda node: node.text, display_name="Text"),
        OutputSpec("iso", "string", get=lambda node: node.iso, display_name="ISO"),
        OutputSpec("timestamp", "number", get=lambda node: node.timestamp, display_name="Timestamp"),
        _ERROR,
        _SUCCESS,
        _FAILURE,
    )


class PythonHttpRequestNode(Node):
    SAME_EVERY_RUN = True  # nothing happens before Send
    TYPE = "PythonHttpRequest"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python HTTP Request"
    CATEGORY = CATEGORY
    DOCS = (
        "Sends one HTTP request when `Send` is signalled: `URL`, `Method`, `Headers` (an object), "
        "`Query` (an object added to the URL) and `Body` (an object or list goes as JSON, anything else "
        "as text). `Status`, `Body` (parsed when the answer is JSON) and `Success` (2xx) or `Failure` "
        "follow; a request that could not be made fires `Failure` with `Error`. Runs in the sidecar "
        "(aiohttp), 30 s at most."
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.url: Any = UNDEFINED
        self.method: Any = "GET"
        self.headers: Any = UNDEFINED
        self.query: Any = UNDEFINED
        self.body: Any = UNDEFINED
        self.received: set[str] = set()
        self.status: int | None = None
        self.response: Any = None
        self.error: str | None = None

    def _send(self) -> None:
        self.schedule_after_inputs(self._request)

    def _request(self) -> None:
        from urllib.parse import urlencode

        url = _text(self.url)
        query = plain(self.query)
        if isinstance(query, dict) and query:
            url += ("&" if "?" in url else "?") + urlencode({k: _text(v) for k, v in query.items()})
        headers = plain(self.headers)
        headers = {str(k): _text(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
        body: str | None = None
        content = plain(self.body)
        if isinstance(content, (dict, list)):
            headers.setdefault("Content-Type", "application/json")
            body = json.dumps(content)
        elif content is not None:
            body = _text(content)
        client = self.ctx.services.http or AiohttpClient()
        method = (_text(self.method) or "GET").upper()
        self.ctx.spawn(client.request(method, url, headers, body), self._answered, owner=self.id)

    def _answered(self, result: Any, error: BaseException | None) -> None:
        self.schedule_after_inputs(lambda: self._settle(result, error))

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if error is not None or not isinstance(result, HttpResult):
            self.error = str(error) or type(error).__name__
            log.info("python http request failed", node_id=self.id, error=self.error)
            self.flag_output_dirty("error")
            self.send_signal("failure")
            return
        self.status, self.response = result.status, result.content
        self.flag_output_dirty("status")
        self.flag_output_dirty("body")
        self.send_signal("success" if 200 <= result.status < 300 else "failure")

    INPUTS = (
        InputSpec("url", "string", set=_setter("url"), display_name="URL"),
        InputSpec(
            "method",
            _enum("GET", "POST", "PUT", "PATCH", "DELETE"),
            set=_setter("method"),
            default="GET",
            display_name="Method",
        ),
        InputSpec("headers", "*", set=_setter("headers"), display_name="Headers"),
        InputSpec("query", "*", set=_setter("query"), display_name="Query"),
        InputSpec("body", "*", set=_setter("body"), display_name="Body"),
        InputSpec("send", "signal", on_signal=_send, display_name="Send"),
    )
    OUTPUTS = (
        OutputSpec("status", "number", get=lambda node: node.status, display_name="Status"),
        OutputSpec("body", "*", get=lambda node: node.response, display_name="Body"),
        _ERROR,
        _SUCCESS,
        _FAILURE,
    )

    def changed(self) -> None:
        """Inputs only wait for ``Send``."""


PYTHON_CORE_NODE_CLASSES: tuple[type[Node], ...] = (
    PythonJsonParseNode,
    PythonJsonStringifyNode,
    PythonListTransformNode,
    PythonTemplateNode,
    PythonDateNode,
    PythonHttpRequestNode,
)

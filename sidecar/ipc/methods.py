"""The method table: handlers bound to the protocol's method specs.

A handler is ``async def handler(ctx: CallContext, params: P) -> R`` where ``P`` and
``R`` are the params and result models ``ipc_schema.catalog`` declares for the method;
the decorator looks them up by name so the schema the editor sees and the code that
answers can never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter

from ipc_schema import catalog
from ipc_schema.base import PositionalParams
from ipc_schema.lifecycle import ProgressEvent, ProgressParams, ProgressValue, RequestMeta
from sidecar.lazy import Lazy

_PROGRESS_INTERVAL_S = 0.1  # coalesce progress reports to at most 10 per second

Notify = Callable[[str, list[Any]], None]


@dataclass
class CallContext:
    """What a handler knows about the call it is answering."""

    msgid: int
    method: str
    meta: RequestMeta
    notify: Notify
    _last_report: float = field(default=0.0, repr=False)

    def progress(
        self,
        kind: str,
        *,
        title: str | None = None,
        message: str | None = None,
        percentage: float | None = None,
    ) -> None:
        """Send ``$/progress`` if the caller passed a progress token; reports are rate limited."""
        token = self.meta.progress_token
        if token is None:
            return
        now = time.monotonic()
        if kind == "report":
            if now - self._last_report < _PROGRESS_INTERVAL_S:
                return
            self._last_report = now
        value = ProgressValue.model_validate(
            {"kind": kind, "title": title, "message": message, "percentage": percentage}
        )
        params = ProgressParams(event=ProgressEvent(token=token, value=value))
        self.notify("$/progress", [params.event.to_wire()])


Handler = Callable[[CallContext, Any], Awaitable[Any]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class BoundMethod:
    spec: catalog.MethodSpec
    handler: Handler
    dump_result: Callable[[Any], Any]

    def parse_params(self, params: list[Any]) -> PositionalParams:
        """Validate the argument array; raises pydantic.ValidationError."""
        return self.spec.params.from_wire(params)


class MethodTable:
    """Name → bound handler, introspectable for capabilities and documentation."""

    def __init__(self) -> None:
        self._methods: dict[str, BoundMethod] = {}

    def method(self, name: str) -> Callable[[H], H]:
        spec = catalog.method_named(name)

        def bind(handler: H) -> H:
            if name in self._methods:
                raise ValueError(f"method {name!r} is already bound")
            self._methods[name] = BoundMethod(spec, handler, _result_dumper(spec))
            return handler

        return bind

    def get(self, name: str) -> BoundMethod | None:
        return self._methods.get(name)

    def names(self) -> list[str]:
        return sorted(self._methods)

    def describe(self) -> list[dict[str, Any]]:
        """Each bound method with its argument names and documentation."""
        return [
            {"name": name, "arguments": bound.spec.params.argument_names(), "doc": bound.spec.doc}
            for name, bound in sorted(self._methods.items())
        ]


def _result_dumper(spec: catalog.MethodSpec) -> Callable[[Any], Any]:
    # Made on the method's first answer, with the result's model (which may be imported only then,
    # ipc_schema.deferred): a session calls a few of the ~100 methods, and building every adapter when
    # the table is bound cost ~9 ms of CPU before `initialize` could be answered.
    adapter: Lazy[TypeAdapter[Any] | None] = Lazy(
        lambda: None if spec.result is None else TypeAdapter(spec.result)
    )

    def dump(value: Any) -> Any:
        made = adapter.get()
        # Declared optional fields stay as null: the editor's code compares against null.
        return None if made is None else made.dump_python(value, by_alias=True)

    return dump

"""Conditions written as JavaScript expressions over named inputs, run in the embedded engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import ScriptLimitError
from sidecar.runtime.node import Node
from sidecar.runtime.nodes.code import expression_identifiers


def evaluate(node: Node, source: str, values: Mapping[str, Any]) -> Any:
    """Evaluate ``source`` with every identifier it uses bound to ``values`` (missing ones: undefined).

    Raises ``ScriptError`` when the expression does not compile or throws; a script that hits the
    engine's time or memory limit rejects the run, as it does for Expression nodes.
    """
    names = expression_identifiers(source)
    js = node.ctx.services.js
    try:
        handle = js.compile_expression(source, names)
        return js.call_expression(node.ctx, handle, [values.get(name) for name in names])
    except ScriptLimitError as error:
        node.ctx.reject(error.message)
        raise

"""Diagnostic methods for tests and benchmarks (only with NOODL_SIDECAR_DIAGNOSTICS=1)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ipc_schema.diagnostics import EchoParams, PrintParams, SleepParams
from sidecar.ipc.methods import CallContext, MethodTable

ENV_FLAG = "NOODL_SIDECAR_DIAGNOSTICS"


def diagnostics_enabled() -> bool:
    return os.environ.get(ENV_FLAG) == "1"


def register_diagnostic_methods(table: MethodTable) -> None:
    @table.method("diagnostics:echo")
    async def echo(_ctx: CallContext, params: EchoParams) -> Any:
        return params.value

    @table.method("diagnostics:sleep")
    async def sleep(ctx: CallContext, params: SleepParams) -> None:
        ctx.progress("begin", title="sleeping")
        await asyncio.sleep(params.options.ms / 1000)
        ctx.progress("end")

    @table.method("diagnostics:print")
    async def careless_print(_ctx: CallContext, params: PrintParams) -> None:
        print(params.text)  # deliberately: proves stray prints cannot reach the protocol
        os.write(1, f"{params.text} (fd 1)\n".encode())

"""``noodl-sidecar run EXPORT.json FUNCTION [--body TEXT | --request FILE] [--timeout SECONDS]``.

Runs one cloud function with no backend server and prints exactly one JSON line on stdout,
``{"statusCode": N, "body": "<text>"}``: the object the real runner resolves with. Rejections give
the cloud host's ``400 {"error": …}``, an unanswered run the 504 ``function/timeout`` answer. This
is the one place where writing the result to stdout is right. Exit status: 0 when a Response node
answered, 1 for a rejection, unknown function or timeout, 2 for bad arguments or a bad export.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import structlog

from sidecar.errors import WorkflowExportError
from sidecar.runtime.context import NoodlRequest, Outcome
from sidecar.runtime.runtime import DEFAULT_TIMEOUT_SECONDS, Runtime, make_request
from sidecar.runtime.values import js_stringify

log = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noodl-sidecar run", description="Run one cloud function of an export."
    )
    parser.add_argument("export", type=Path, help="deploy export (JSON) of the cloud functions")
    parser.add_argument("function", help="function name, without the /#__cloud__/ prefix")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--body", help="raw request body text (default: {})")
    source.add_argument("--request", type=Path, help="JSON file {headers, body} as in the conformance cases")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="function timeout (seconds)"
    )
    return parser


def request_from_file(data: Any) -> NoodlRequest:
    """``{headers?, body?}``; a body object is sent JSON-encoded; an object with neither key is the body."""
    if isinstance(data, dict) and ("body" in data or "headers" in data):
        return make_request(data.get("body", {}), data.get("headers") or {})
    return make_request(data)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        runtime = Runtime.from_export(
            json.loads(args.export.read_text(encoding="utf-8")), timeout_seconds=args.timeout
        )
        if args.request is not None:
            request = request_from_file(json.loads(args.request.read_text(encoding="utf-8")))
        else:
            request = make_request(args.body if args.body is not None else "{}")
    except (OSError, ValueError, WorkflowExportError) as error:
        log.error("cannot run function", error=getattr(error, "message", None) or str(error))
        return 2
    response = asyncio.run(runtime.run(args.function, request))
    sys.stdout.write((js_stringify({"statusCode": response.status_code, "body": response.body}) or "") + "\n")
    sys.stdout.flush()
    return 0 if response.outcome is Outcome.RESPONDED else 1


if __name__ == "__main__":
    from sidecar import logs

    logs.configure()
    code = main(sys.argv[1:])
    logs.flush()
    sys.exit(code)

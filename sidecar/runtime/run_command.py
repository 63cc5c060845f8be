"""``noodl-sidecar run EXPORT.json FUNCTION [--body JSON [--raw-body] | --request FILE] [--timeout S] …``.

Runs one cloud function with no backend server and prints exactly one JSON line on stdout,
``{"statusCode": N, "body": "<text>"}``: the answer ``POST /functions/FUNCTION`` of a local backend
would give (``sidecar.runtime.answers``). stdout carries that line and nothing else: it is claimed
before anything runs, and log lines go to stderr, at ``warning`` and above unless ``--log-level``
says otherwise.
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
from sidecar.runtime import answers
from sidecar.runtime.answers import FunctionResponse, Outcome
from sidecar.runtime.context import NoodlRequest
from sidecar.runtime.deploy_check import function_components
from sidecar.runtime.export import CLOUD_PREFIX
from sidecar.runtime.runtime import DEFAULT_TIMEOUT_SECONDS, Runtime, make_request
from sidecar.runtime.values import js_stringify

log = structlog.get_logger()

EXIT_RESPONDED = 0
EXIT_NO_RESPONSE = 1
EXIT_USAGE = 2

_EXIT_STATUS = f"""\
stdout: exactly one line, {{"statusCode": N, "body": "<text>"}}, the answer POST /functions/FUNCTION
gives: the Response node's, 500 {{"error"}} when the run fails, 504 function/timeout when no Response
node answers in time, 404 when the export has no such function. Logs go to stderr.

exit status:
  {EXIT_RESPONDED}  the function sent a response (whatever its status code)
  {EXIT_NO_RESPONSE}  no response: the run failed, timed out, or the function does not exist
     (the line on stdout says which)
  {EXIT_USAGE}  bad arguments (a --body that is not JSON, without --raw-body), or the export or
     request file cannot be read (nothing on stdout)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noodl-sidecar run",
        description="Run one cloud function of an export and print its answer as one JSON line.",
        epilog=_EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", type=Path, help="deploy export (JSON) of the cloud functions")
    parser.add_argument("function", help="function name, without the /#__cloud__/ prefix")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--body", help="request body, JSON (default: {}); see --raw-body for other text")
    source.add_argument("--request", type=Path, help="JSON file {headers, body}: the whole request")
    parser.add_argument(
        "--raw-body", action="store_true", help="send --body as it is, even when it is not JSON"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="function timeout (seconds)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error", "critical"],
        help="log lines on stderr at this level and above (default: warning)",
    )
    return parser


def request_from_file(data: Any) -> NoodlRequest:
    """``{headers?, body?}``; a body object is sent JSON-encoded; an object with neither key is the body."""
    if isinstance(data, dict) and ("body" in data or "headers" in data):
        return make_request(data.get("body", {}), data.get("headers") or {})
    return make_request(data)


def main(argv: list[str]) -> int:
    """The command: parse, claim stdout for the answer line, run, print it; returns the exit status."""
    from sidecar import logs
    from sidecar.product_stream import claim_stdout

    parser = _parser()
    args = parser.parse_args(argv)  # --help and usage errors are written before stdout is claimed
    if args.raw_body and args.body is None:
        parser.error("--raw-body applies to --body, which is missing")
    if args.body is not None and not args.raw_body and not _is_json(args.body):
        parser.error(f"--body is not JSON: {args.body[:80]!r} (pass --raw-body to send it as it is)")
    product = claim_stdout()
    logs.configure(args.log_level)
    try:
        code, line = run_once(args)
        if line is not None:
            product.write(line + "\n")
            product.flush()
    finally:
        logs.flush()
    return code


def run_once(args: argparse.Namespace) -> tuple[int, str | None]:
    """The exit status and the answer line (None for a usage error, which is logged instead)."""
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
        return EXIT_USAGE, None
    if not runtime.has_function(args.function):
        available = sorted(
            component.name.removeprefix(CLOUD_PREFIX) for component in function_components(runtime.export)
        )
        log.error("no such function", function=args.function, available=available)
        return EXIT_NO_RESPONSE, answer_line(_not_found(args.function, available))
    try:
        response = asyncio.run(runtime.run(args.function, request))
    except Exception as error:  # a fault of ours still answers, as the backend's door would
        log.exception("function run failed", function=args.function)
        response = answers.rejected(str(error) or type(error).__name__)
    return _exit_status(response), answer_line(response)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _not_found(function: str, available: list[str]) -> FunctionResponse:
    """The HTTP door's 404, its error text naming the functions the export does have."""
    door = answers.not_found(function)
    body = json.loads(door.body)
    names = ", ".join(available) if available else "none"
    body["error"] = f"{body['error']} (available: {names})"
    return FunctionResponse(door.status_code, js_stringify(body) or "{}", door.outcome)


def answer_line(response: FunctionResponse) -> str:
    return js_stringify({"statusCode": response.status_code, "body": response.body}) or "{}"


def _exit_status(response: FunctionResponse) -> int:
    return EXIT_RESPONDED if response.outcome is Outcome.RESPONDED else EXIT_NO_RESPONSE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

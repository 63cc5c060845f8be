"""The deployed entry hands ``serve`` values that may begin with ``-`` (a random admin token, a name)."""

from __future__ import annotations

from pathlib import Path

from sidecar.cli import _parser
from sidecar.deploy.entry import serve_argv


def test_a_token_and_a_name_that_begin_with_a_dash_reach_serve_whole() -> None:
    argv = serve_argv(Path("/data"), "0.0.0.0", 8080, "-Tk3n_x", {"id": "backend_1", "name": "-demo"}, "info")

    parsed = _parser().parse_args(argv)

    assert parsed.token == "-Tk3n_x"
    assert parsed.backend_name == "-demo"
    assert parsed.backend_id == "backend_1"
    assert parsed.port == 8080

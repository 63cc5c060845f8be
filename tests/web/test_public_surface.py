"""The HTTP door's public surface: what the backend composition may import."""

from __future__ import annotations

import sidecar.web


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(sidecar.web.__all__) == [
        "DataStore",
        "FunctionInvoker",
        "FunctionRequest",
        "RunningServer",
        "WebSettings",
        "build_app",
        "start_server",
    ]
    for name in sidecar.web.__all__:
        assert getattr(sidecar.web, name) is not None

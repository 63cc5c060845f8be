"""The HTTP door: the Parse REST wire, realtime SSE and local security over aiohttp.

Public surface (pinned by ``tests/web/test_public_surface.py``); everything else is private.
"""

from sidecar.web.app import build_app
from sidecar.web.server import RunningServer, start_server
from sidecar.web.services import DataStore, FunctionInvoker, FunctionRequest
from sidecar.web.settings import WebSettings

__all__ = [
    "DataStore",
    "FunctionInvoker",
    "FunctionRequest",
    "RunningServer",
    "WebSettings",
    "build_app",
    "start_server",
]

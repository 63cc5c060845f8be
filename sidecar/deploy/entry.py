"""The deployed backend's entry point (what a container's ``bin/start`` runs): install the bundle into the
data directory, then ``serve`` it on all interfaces until SIGTERM, which drains and exits 0.

Environment (``environment.json`` of the bundle lists the secret ones it needs):

    NOODL_ADMIN_TOKEN              required: the admin token (master key); also what a non-loopback bind needs
    PORT                           port to listen on (default 8080)
    NOODL_HOST                     interface (default 0.0.0.0)
    NOODL_DATA_DIR                 the data volume (default /data)
    NOODL_BUNDLE_DIR               the bundle (default: ../bundle beside bin/start)
    NOODL_LOG_LEVEL                debug, info (default), warning, error
    NOODL_CONFIG_<PARAM>           each master-key-only config parameter (JSON, or plain text for a string)
    NOODL_WEBHOOK_SECRET_<ID>      each webhook trigger's signing secret
    NOODL_CREDENTIAL_<NAME>        each credential the workflows look up (or ANTHROPIC_API_KEY, …)

Exit status: serve's (0 after a drain), or 2 when the bundle or the environment is unusable (the reason
on stderr, nothing served).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from sidecar.deploy.bundle import ADMIN_TOKEN_ENV, read_bundle
from sidecar.deploy.install import install_bundle
from sidecar.errors import SidecarError

LEVELS = ["debug", "info", "warning", "error", "critical"]


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(prog="noodl-sidecar-entry", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=env.get("NOODL_BUNDLE_DIR"))
    parser.add_argument("--data-dir", type=Path, default=Path(env.get("NOODL_DATA_DIR", "/data")))
    parser.add_argument("--host", default=env.get("NOODL_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=env.get("PORT", "8080"))  # argparse converts it
    parser.add_argument("--log-level", choices=LEVELS, default=env.get("NOODL_LOG_LEVEL", "info"))
    return parser


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    if options.bundle is None:
        sys.stderr.write("noodl-sidecar entry: no bundle (pass --bundle or set NOODL_BUNDLE_DIR)\n")
        return 2
    from sidecar import logs

    logs.configure(options.log_level)
    data_dir: Path = options.data_dir.resolve()
    try:
        bundle = read_bundle(options.bundle)
        asyncio.run(install_bundle(bundle, data_dir, os.environ))
    except SidecarError as exc:
        sys.stderr.write(f"noodl-sidecar entry: {exc.message}\n")
        logs.flush()
        return 2
    backend = bundle.manifest["backend"]
    from sidecar.cli import main as cli_main

    # In-process, so the token never shows in the process's command line.
    return cli_main(
        serve_argv(
            data_dir, options.host, options.port, os.environ[ADMIN_TOKEN_ENV], backend, options.log_level
        )
    )


def serve_argv(
    data_dir: Path, host: str, port: int, token: str, backend: dict[str, Any], log_level: str
) -> list[str]:
    """``serve``'s arguments. Values from outside are joined to their option with ``=``: a random token (or
    a name) may begin with ``-``, which argparse would otherwise read as the next option."""
    return [
        "serve",
        f"--data-dir={data_dir}",
        f"--host={host}",
        f"--port={port}",
        f"--token={token}",
        f"--backend-id={backend['id']}",
        f"--backend-name={backend['name']}",
        f"--log-level={log_level}",
    ]


if __name__ == "__main__":
    sys.exit(main())

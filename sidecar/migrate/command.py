"""``noodl-sidecar migrate --to postgres://… [BACKEND]``: move an embedded backend onto PostgreSQL.

BACKEND is a backend id of ``$NOODL_HOME/backends`` or the path of a data directory (default: the
current directory). Its records, schemas, users, sessions, roles, relation pairs and execution history
are copied into the database given by ``--to`` (default: $DATABASE_URL); then serve it with
``noodl-sidecar serve --database-url … --data-dir BACKEND`` (uploaded files stay in BACKEND/files).
Stop the backend first: what it writes during the copy may stay behind.

A target that holds data is refused unless ``--resume`` is given: then rows already there are kept and
the rest is copied, which also finishes a migration that was interrupted. Progress goes to stderr, one
JSON report to stdout (per table: rows in the source and in the target). Exit status: 0 copied and
verified, 1 refused, failed or not verified (the report or the message says which), 2 bad arguments or
an unknown backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from sidecar.backends.transfer_command import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _data_dir
from sidecar.errors import SidecarError


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(
        prog="noodl-sidecar migrate",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    made.add_argument(
        "backend", nargs="?", default=".", help="backend id in $NOODL_HOME/backends, or a data directory"
    )
    made.add_argument("--to", dest="url", default=None, help="postgres://… (default: $DATABASE_URL)")
    made.add_argument(
        "--resume", action="store_true", help="copy into a target that holds data, keeping its rows"
    )
    made.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return made


def main(argv: list[str]) -> int:
    try:
        options = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from sidecar import logs
    from sidecar.product_stream import claim_stdout

    product = claim_stdout()
    logs.configure(options.log_level)
    try:
        url = options.url or os.environ.get("DATABASE_URL")
        if not url:
            sys.stderr.write("noodl-sidecar migrate: name the target: --to postgres://… or $DATABASE_URL\n")
            return EXIT_USAGE
        data_dir = _data_dir(options.backend)
        if data_dir is None:
            sys.stderr.write(f"noodl-sidecar migrate: no backend {options.backend!r}\n")
            return EXIT_USAGE
        from sidecar.migrate import migrate_to_postgres

        def progress(stage: str, done: int, total: int) -> None:
            sys.stderr.write(f"migrate: {stage} {done}/{total}\n")

        try:
            report = asyncio.run(migrate_to_postgres(data_dir, url, resume=options.resume, progress=progress))
        except SidecarError as exc:
            sys.stderr.write(f"noodl-sidecar migrate: {exc.message}\n")
            return EXIT_FAILED
        product.write(json.dumps(report) + "\n")
        product.flush()
        return EXIT_OK if report["verified"] else EXIT_FAILED
    finally:
        logs.flush()

"""``noodl-sidecar export BACKEND …`` and ``noodl-sidecar import BACKEND FILE …``: records out and in.

BACKEND is a backend id of ``$NOODL_HOME/backends`` or the path of a data directory; its
``data/local.db`` is opened directly (stop the backend first, or run against a copy).

``export`` writes the export (``--format jsonl|postgres|supabase``) to stdout, or to ``--output FILE``
(mode 0600) and then one JSON summary line to stdout. ``import`` reads JSON lines or a Parse Server
export (``--format parse --class-name C``) and writes one JSON report to stdout; ``--dry-run`` checks
and writes nothing. Exit status: 0 done (an import with no row rejected), 1 the store could not be
used or rows were rejected (the report lists them), 2 bad arguments, an unknown backend or an
unreadable input file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidParamsError, SidecarError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"noodl-sidecar {command}",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("backend", help="backend id in $NOODL_HOME/backends, or a data directory")
    if command == "export":
        parser.add_argument("--format", choices=("jsonl", "postgres", "supabase"), default="jsonl")
        parser.add_argument("--class", dest="classes", action="append", help="a class to export (repeat)")
        parser.add_argument("--include-password-hashes", action="store_true")
        parser.add_argument("--output", type=Path, default=None, help="write here instead of stdout")
    else:
        parser.add_argument("file", type=Path, help="the export to import")
        parser.add_argument("--format", choices=("jsonl", "parse"), default="jsonl")
        parser.add_argument("--class-name", default=None, help="--format parse: the class of the results")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def _data_dir(backend: str) -> Path | None:
    from sidecar.backends.registry import BackendRegistry

    candidate = Path(backend)
    if candidate.is_dir():
        return candidate.resolve()
    registry = BackendRegistry.default()
    try:
        return registry.data_dir(backend) if registry.get(backend) is not None else None
    except SidecarError:
        return None


def main(command: str, argv: list[str]) -> int:
    try:
        options = _parser(command).parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from sidecar import logs
    from sidecar.product_stream import claim_stdout

    product = claim_stdout()
    logs.configure(options.log_level)
    try:
        data_dir = _data_dir(options.backend)
        if data_dir is None:
            sys.stderr.write(f"noodl-sidecar {command}: no backend {options.backend!r}\n")
            return EXIT_USAGE
        try:
            if command == "export":
                text, code = asyncio.run(_export(data_dir, options))
            else:
                text, code = asyncio.run(_import(data_dir, options))
        except InvalidParamsError as exc:
            sys.stderr.write(f"noodl-sidecar {command}: {exc.message}\n")
            return EXIT_USAGE
        except Exception as exc:  # the store could not be opened or read: say why, no traceback
            message = exc.message if isinstance(exc, SidecarError) else f"{type(exc).__name__}: {exc}"
            sys.stderr.write(f"noodl-sidecar {command}: {message}\n")
            return EXIT_FAILED
        product.write(text)
        product.flush()
        return code
    finally:
        logs.flush()


async def _open(data_dir: Path, *, create: bool) -> Any:
    """The data directory's store; an import creates the database a new backend has not made yet."""
    from sidecar.private_files import private_dir
    from sidecar.store import SqliteRecordStore

    path = data_dir / "data" / "local.db"
    if not create and not path.is_file():
        raise SidecarError(f"no database at {path}")
    private_dir(data_dir)
    return await SqliteRecordStore.open(path)


async def _export(data_dir: Path, options: argparse.Namespace) -> tuple[str, int]:
    from sidecar.backends.transfer import export_to

    store = await _open(data_dir, create=False)
    try:
        output = None if options.output is None else str(options.output.resolve())
        done = await export_to(
            store,
            data_dir / "files",
            options.format,
            options.classes,
            options.include_password_hashes,
            output,
        )
    finally:
        await store.close()
    if output is None:
        return str(done["content"]), EXIT_OK
    return json.dumps(done) + "\n", EXIT_OK


async def _import(data_dir: Path, options: argparse.Namespace) -> tuple[str, int]:
    from sidecar.backends.transfer import import_data, read_import_text

    text = await read_import_text(None, str(options.file))
    store = await _open(data_dir, create=True)
    try:
        report = await import_data(
            store, text, options.format, class_name=options.class_name, dry_run=options.dry_run
        )
    finally:
        await store.close()
    return json.dumps(report) + "\n", EXIT_OK if report["rejectedCount"] == 0 else EXIT_FAILED

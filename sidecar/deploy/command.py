"""``noodl-sidecar deploy BACKEND --provider docker --out DIR [--base-image IMAGE] [--build --tag TAG]``.

Writes the backend's container build context into DIR (``sidecar.deploy.context``) and, with ``--build``,
builds it through the docker SDK. BACKEND is a backend id of ``$NOODL_HOME/backends`` or the path of a
data directory. stdout carries one JSON line, ``{provider, bundleHash, path, requiredEnvironment[, image]}``;
the stages and the build log go to stderr.

Exit status: 0 written (and built), 1 the deploy failed (the reason on stderr, nothing on stdout),
2 bad arguments or an unknown backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import structlog

from sidecar.errors import SidecarError

log = structlog.get_logger("sidecar.deploy")

PROVIDERS = ("docker",)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noodl-sidecar deploy",
        description="Write a backend's container build context (and build it with --build).",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("backend", help="backend id in $NOODL_HOME/backends, or a data directory")
    parser.add_argument("--provider", choices=PROVIDERS, required=True)
    parser.add_argument("--out", type=Path, required=True, help="an empty (or missing) folder")
    parser.add_argument("--base-image", default=None, help="the Dockerfile's BASE_IMAGE default")
    parser.add_argument("--build", action="store_true", help="build the image through the docker SDK")
    parser.add_argument("--tag", default=None, help="image tag for --build (default <backend id>:<hash>)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def _data_dir(backend: str) -> Path | None:
    from sidecar.backends.registry import BackendRegistry

    candidate = Path(backend)
    if candidate.is_dir():
        return candidate.resolve()
    registry = BackendRegistry.default()
    try:
        return registry.data_dir(backend) if registry.get(backend) is not None else None
    except SidecarError:  # not a backend id either
        return None


def main(argv: list[str]) -> int:
    try:
        options = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has said why on stderr
        return EXIT_USAGE if exc.code else EXIT_OK
    from sidecar import logs
    from sidecar.product_stream import claim_stdout

    product = claim_stdout()
    logs.configure(options.log_level)
    try:
        data_dir = _data_dir(options.backend)
        if data_dir is None:
            sys.stderr.write(
                f"noodl-sidecar deploy: no backend {options.backend!r} (an id or a data directory)\n"
            )
            return EXIT_USAGE
        try:
            answer = asyncio.run(_deploy(data_dir, options))
        except SidecarError as exc:
            sys.stderr.write(f"noodl-sidecar deploy: {exc.message}\n")
            return EXIT_FAILED
        product.write(json.dumps(answer) + "\n")
        product.flush()
        return EXIT_OK
    finally:
        logs.flush()


async def _deploy(data_dir: Path, options: argparse.Namespace) -> dict[str, object]:
    from sidecar.deploy.context import DEFAULT_BASE_IMAGE, BuildContext
    from sidecar.deploy.service import make_build_context

    base_image = options.base_image or DEFAULT_BASE_IMAGE
    written = await make_build_context(
        data_dir,
        options.out,
        base_image=base_image,
        on_stage=lambda message, percent: log.info("deploy_stage", stage=message, percent=percent),
    )
    answer: dict[str, object] = {"provider": options.provider, **written}
    if options.build:
        from sidecar.deploy.docker_build import build_image, engine_unavailable
        from sidecar.errors import DeployError

        reason = engine_unavailable()
        if reason is not None:
            raise DeployError(f"cannot build the image: {reason}")
        backend_id = _context_backend_id(options.out)
        tag = options.tag or f"{backend_id}:{str(written['bundleHash'])[7:19]}"
        context = BuildContext(options.out, str(written["bundleHash"]))
        image = await asyncio.to_thread(
            build_image,
            context,
            tag,
            lambda line: log.info("build", line=line),
            base_image=options.base_image,
        )
        answer["image"] = {"id": image.id, "tag": image.tag, "sizeBytes": image.size_bytes}
    return answer


def _context_backend_id(context_dir: Path) -> str:
    manifest = json.loads((context_dir / "bundle" / "manifest.json").read_text())
    return str(manifest["backend"]["id"]).lower()

"""``noodl-sidecar deploy BACKEND --provider fly|railway|render|docker ...``.

``--provider docker --out DIR [--base-image IMAGE] [--build --tag TAG]`` writes the backend's container
build context into DIR (``sidecar.deploy.context``) and, with ``--build``, builds it through the docker
SDK; stdout carries ``{provider, bundleHash, path, requiredEnvironment[, image]}``.

``--provider fly|railway|render [--target production] [--app NAME] [--region R] [--api-base URL]
[--registry HOST] [--public-url URL] [--token-credential NAME] [--registry-credential NAME
--registry-user USER] [--rollback VERSION]`` runs the deploy flow (``sidecar.deploy.flow``) to that
target, creating or changing it from the options given; stdout carries the live release. The provider's
API token is the backend's credential named like the provider (or ``--token-credential``; the provider's
usual variable, ``FLY_API_TOKEN``, ``RAILWAY_API_TOKEN``, ``RENDER_API_KEY``, as a fallback). Railway and
Render pull the image from ``--registry`` with ``--registry-user`` and the password in the credential
``--registry-credential``. Ctrl-C cancels: the previous release is put back.

BACKEND is a backend id of ``$NOODL_HOME/backends`` or the path of a data directory. Stages and logs go to
stderr. Exit status: 0 done, 1 the deploy failed (the stage and the reason on stderr, nothing on stdout),
2 bad arguments or an unknown backend, 130 cancelled.
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

PROVIDERS = ("fly", "railway", "render", "docker")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noodl-sidecar deploy",
        description="Write a backend's container build context (and build it with --build).",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("backend", help="backend id in $NOODL_HOME/backends, or a data directory")
    parser.add_argument("--provider", choices=PROVIDERS, required=True)
    parser.add_argument("--out", type=Path, help="docker: an empty (or missing) folder for the context")
    parser.add_argument("--base-image", default=None, help="the Dockerfile's BASE_IMAGE default")
    parser.add_argument("--build", action="store_true", help="build the image through the docker SDK")
    parser.add_argument("--tag", default=None, help="image tag for --build (default <backend id>:<hash>)")
    parser.add_argument("--target", default="production", help="cloud: the target's name")
    parser.add_argument("--app", default=None, help="cloud: the provider's app name (first deploy)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--api-base", default=None, help="cloud: the provider API's address")
    parser.add_argument("--registry", default=None, help="cloud: the image registry host")
    parser.add_argument("--public-url", default=None, help="cloud: the app's address ({app} replaced)")
    parser.add_argument("--token-credential", default=None, help="cloud: credential with the API token")
    parser.add_argument(
        "--registry-credential", default=None, help="railway/render: credential with the registry password"
    )
    parser.add_argument("--registry-user", default=None, help="railway/render: the registry user name")
    parser.add_argument("--rollback", type=int, default=None, metavar="VERSION", help="redeploy a release")
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
        if options.provider == "docker" and options.out is None:
            sys.stderr.write("noodl-sidecar deploy: --provider docker needs --out DIR\n")
            return EXIT_USAGE
        try:
            answer = asyncio.run(
                _deploy(data_dir, options) if options.provider == "docker" else _cloud(data_dir, options)
            )
        except SidecarError as exc:
            sys.stderr.write(f"noodl-sidecar deploy: {exc.message}\n")
            return EXIT_FAILED
        except asyncio.CancelledError:
            sys.stderr.write("noodl-sidecar deploy: cancelled; the previous release was put back\n")
            return EXIT_CANCELLED
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


async def _cloud(data_dir: Path, options: argparse.Namespace) -> dict[str, object]:
    import signal

    from sidecar.deploy import flow
    from sidecar.deploy.targets import TargetStore

    targets = TargetStore(data_dir)
    existing = targets.get(options.target)
    settings = {
        "region": options.region,
        "api_base": options.api_base,
        "registry": options.registry,
        "public_url": options.public_url,
        "token_credential": options.token_credential,
    }
    if (
        existing is None
        or options.app
        or any(settings.values())
        or existing.spec.provider != options.provider
    ):
        app = options.app or (existing.spec.app if existing is not None else None)
        if app is None:
            from sidecar.errors import DeployError

            raise DeployError(f"target {options.target} is new: name the provider's app with --app")
        if existing is not None:  # keep what was set before and is not given now
            kept = existing.to_json()
            for key, wire in (
                ("region", "region"),
                ("api_base", "apiBase"),
                ("registry", "registry"),
                ("public_url", "publicUrl"),
                ("token_credential", "tokenCredential"),
            ):
                settings[key] = settings[key] or kept[wire] or None
        kept_options = dict(existing.spec.options) if existing is not None else {}
        await asyncio.to_thread(
            targets.configure, options.target, options.provider, app, options=kept_options, **settings
        )
    if options.registry_credential or options.registry_user:
        target = targets.require(options.target)
        extra = {"registryCredential": options.registry_credential, "registryUser": options.registry_user}
        merged = {**target.spec.options, **{key: value for key, value in extra.items() if value}}
        await asyncio.to_thread(
            targets.configure,
            options.target,
            target.spec.provider,
            target.spec.app,
            region=target.spec.region,
            api_base=target.spec.api_base,
            registry=target.spec.registry,
            public_url=target.spec.public_url,
            token_credential=target.spec.token_credential,
            options=merged,
        )

    def on_stage(message: str, percent: float) -> None:
        log.info("deploy_stage", stage=message, percent=percent)

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    if options.rollback is not None:
        return await flow.rollback(data_dir, options.target, options.rollback, on_stage=on_stage)
    return await flow.deploy(data_dir, options.target, on_stage=on_stage)


def _context_backend_id(context_dir: Path) -> str:
    manifest = json.loads((context_dir / "bundle" / "manifest.json").read_text())
    return str(manifest["backend"]["id"]).lower()

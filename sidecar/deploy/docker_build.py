"""Building a build context into an image through the ``docker`` SDK, against the engine ``DOCKER_HOST``
names (or the local socket), streaming the build log line by line.

The SDK is optional (it is not a dependency of the sidecar): without it, or without a reachable engine,
:func:`engine_unavailable` says why and nothing is attempted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sidecar.deploy.context import BuildContext
from sidecar.errors import DeployError

OnLog = Callable[[str], None]


@dataclass(frozen=True)
class BuiltImage:
    id: str
    tag: str
    size_bytes: int | None


def docker_client() -> Any:
    import docker  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional: see above

    return docker.from_env()


def engine_unavailable() -> str | None:
    """``None`` when an image can be built here; otherwise the reason it cannot."""
    try:
        client = docker_client()
    except ImportError:
        return "the docker SDK is not installed (pip install docker)"
    except Exception as exc:  # DockerException: no socket, bad DOCKER_HOST
        return f"no container engine reachable: {exc}"
    try:
        client.ping()
    except Exception as exc:
        return f"the container engine does not answer: {exc}"
    return None


def build_image(
    context: BuildContext, tag: str, on_log: OnLog, *, base_image: str | None = None, client: Any = None
) -> BuiltImage:
    """Build ``context`` as ``tag``; each log line goes to ``on_log``; a failed step raises DeployError
    with the engine's message."""
    engine = client if client is not None else docker_client()
    build_args = {"BASE_IMAGE": base_image} if base_image else {}
    chunks = engine.api.build(
        path=str(context.folder), tag=tag, rm=True, forcerm=True, decode=True, buildargs=build_args
    )
    image_id = follow_build_log(chunks, on_log)
    size: int | None = None
    try:
        size = int(engine.images.get(image_id).attrs["Size"])
    except Exception:  # the size is a report, not a condition of success
        size = None
    return BuiltImage(image_id, tag, size)


def follow_build_log(chunks: Iterable[dict[str, Any]], on_log: OnLog) -> str:
    """The image id from a decoded build stream (``stream``, ``status``, ``error``, ``aux`` chunks)."""
    image_id: str | None = None
    for chunk in chunks:
        if "error" in chunk:
            detail = chunk.get("errorDetail") or {}
            raise DeployError(f"image build failed: {detail.get('message') or chunk['error']}".strip())
        text = chunk.get("stream") or chunk.get("status")
        if isinstance(text, str) and text.strip():
            for line in text.rstrip("\n").splitlines():
                on_log(line)
        aux = chunk.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
            image_id = aux["ID"]
    if image_id is None:
        raise DeployError("image build ended without an image id")
    return image_id

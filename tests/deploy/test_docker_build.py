"""Building the context through the docker SDK: the build stream followed, and a real build where an
engine is reachable (none is on the machines this project is tested on: that test says why it skips)."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.deploy.bundle import Bundle
from sidecar.deploy.context import BuildContext
from sidecar.deploy.docker_build import build_image, engine_unavailable, follow_build_log
from sidecar.errors import DeployError


def test_the_build_log_is_streamed_line_by_line_and_the_image_id_kept() -> None:
    lines: list[str] = []
    chunks: list[dict[str, Any]] = [
        {"stream": "Step 1/20 : ARG BASE_IMAGE\n"},
        {"stream": "\n"},
        {"status": "Pulling fs layer"},
        {"stream": " ---> Running in 1a2b\nCollecting aiohttp\n"},
        {"aux": {"ID": "sha256:abc123"}},
        {"stream": "Successfully built abc123\n"},
    ]
    assert follow_build_log(chunks, lines.append) == "sha256:abc123"
    assert lines == [
        "Step 1/20 : ARG BASE_IMAGE",
        "Pulling fs layer",
        " ---> Running in 1a2b",
        "Collecting aiohttp",
        "Successfully built abc123",
    ]


def test_a_failed_step_says_what_the_engine_said() -> None:
    chunks: list[dict[str, Any]] = [
        {"stream": "Step 5/20 : RUN pip install\n"},
        {"error": "failed", "errorDetail": {"message": "The command '/bin/sh -c pip install' returned 1"}},
    ]
    with pytest.raises(
        DeployError, match="image build failed: The command '/bin/sh -c pip install' returned 1"
    ):
        follow_build_log(chunks, lambda _line: None)
    with pytest.raises(DeployError, match="without an image id"):
        follow_build_log([{"stream": "Step 1/1\n"}], lambda _line: None)


def test_a_real_image_builds_where_an_engine_is_reachable(context: tuple[Bundle, BuildContext]) -> None:
    reason = engine_unavailable()
    if reason is not None:
        pytest.skip(f"no image build here: {reason}")
    _bundle, built = context
    lines: list[str] = []
    image = build_image(built, "noodl-sidecar-test:latest", lines.append)
    assert image.id.startswith("sha256:")
    assert lines

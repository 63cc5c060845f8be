"""The deploy steps the doors share (``deploy:*`` channels, ``noodl-sidecar deploy``): each reports its
stages through ``on_stage`` so the editor can show ``$/progress`` and the command its log lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sidecar.deploy.bundle import Bundle, collect_bundle
from sidecar.deploy.context import DEFAULT_BASE_IMAGE, write_build_context

OnStage = Callable[[str, float], None]
"""``(message, percentage)``."""


def _quiet(_message: str, _percentage: float) -> None:
    return None


async def make_bundle(
    data_dir: Path, out_dir: Path, *, store: Any = None, on_stage: OnStage = _quiet
) -> Bundle:
    on_stage("collecting the backend's workflows, schema, triggers, rules and config", 10.0)
    bundle = await collect_bundle(data_dir, store=store)
    on_stage(f"writing bundle {bundle.hash} to {out_dir}", 80.0)
    await asyncio.to_thread(bundle.write, out_dir)  # file writes stay off the event loop
    return bundle


def bundle_summary(bundle: Bundle, out_dir: Path) -> dict[str, Any]:
    return {
        "bundleHash": bundle.hash,
        "path": str(out_dir),
        "createdAt": bundle.manifest["createdAt"],
        "files": dict(bundle.manifest["files"]),
    }


async def make_build_context(
    data_dir: Path,
    out_dir: Path,
    *,
    store: Any = None,
    base_image: str = DEFAULT_BASE_IMAGE,
    on_stage: OnStage = _quiet,
) -> dict[str, Any]:
    on_stage("collecting the backend's workflows, schema, triggers, rules and config", 10.0)
    bundle = await collect_bundle(data_dir, store=store)
    on_stage(f"writing the build context of bundle {bundle.hash} to {out_dir}", 60.0)
    context = await asyncio.to_thread(write_build_context, bundle, out_dir, base_image=base_image)
    environment = [item["name"] for item in _variables(bundle) if item["required"]]
    return {
        "bundleHash": bundle.hash,
        "path": str(context.folder),
        "dockerfile": str(context.dockerfile),
        "baseImage": base_image,
        "requiredEnvironment": environment,
    }


def _variables(bundle: Bundle) -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = json.loads(bundle.files["environment.json"])["variables"]
    return variables

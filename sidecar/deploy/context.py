"""A Docker build context made from a bundle: the image runs the bundle's backend in ``serve`` mode.

Layout::

    Dockerfile          python:3.11-slim (``BASE_IMAGE`` build arg), non-root user 10001, /data volume,
                        HEALTHCHECK bin/healthcheck, STOPSIGNAL SIGTERM, CMD bin/start
    .dockerignore
    README.md           the environment variables the container reads
    bin/start           installs the bundle into $NOODL_DATA_DIR and serves it (``sidecar.deploy.entry``)
    bin/healthcheck     exits 0 when /health answers ok with this image's bundle hash
    bundle/             the deploy bundle (``sidecar.deploy.bundle``)
    src/                the sidecar's own source (sidecar, ipc_schema, runtimes/js) and requirements.txt,
                        its dependencies pinned to the versions installed where the context was made

``bin/start`` and ``bin/healthcheck`` find everything relative to themselves, so the same context runs
outside a container too (that is how it is tested where no container engine is available).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sidecar import __version__
from sidecar.deploy.bundle import Bundle
from sidecar.errors import DeployError

DEFAULT_BASE_IMAGE = "python:3.11-slim"
CONTAINER_PORT = 8080
USER_ID = 10001
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_SOURCE_PACKAGES = ("sidecar", "ipc_schema")
# What every JavaScript context loads (sidecar.runtime.jsthreads): Intl and its stand-ins, fetch's
# Headers/Response, Node's globals, V8's error wording, the bridge's prelude.
_PRELUDE_FILES = tuple(
    Path("runtimes") / "js" / name
    for name in (
        "lazy-source.js",
        "intl.js",
        "intl-lazy.js",
        "web.js",
        "node-globals.js",
        "node-globals-lazy.js",
        "errors.js",
        "error-words.js",
        "prelude.js",
    )
)


@dataclass(frozen=True)
class BuildContext:
    folder: Path
    bundle_hash: str

    @property
    def dockerfile(self) -> Path:
        return self.folder / "Dockerfile"


def write_build_context(
    bundle: Bundle, out_dir: Path, *, base_image: str = DEFAULT_BASE_IMAGE
) -> BuildContext:
    """Write the context into ``out_dir`` (made if missing; it must be empty)."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DeployError(f"{out_dir} is not empty: a build context is written into an empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle.write(out_dir / "bundle")
    _copy_source(out_dir / "src")
    (out_dir / "src" / "requirements.txt").write_text(requirements())
    _write(out_dir / "Dockerfile", dockerfile(bundle, base_image))
    _write(out_dir / ".dockerignore", "**/__pycache__\n**/*.pyc\n")
    _write(out_dir / "README.md", readme(bundle))
    _write(out_dir / "bin" / "start", START_SCRIPT, executable=True)
    _write(out_dir / "bin" / "healthcheck", HEALTHCHECK_SCRIPT, executable=True)
    return BuildContext(out_dir, bundle.hash)


def _write(path: Path, text: str, *, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, 0o755 if executable else 0o644)


def _copy_source(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    missing = [name for name in _SOURCE_PACKAGES if not (_PACKAGE_ROOT / name / "__init__.py").is_file()]
    if missing:  # a frozen binary carries compiled modules only
        raise DeployError(
            f"this sidecar has no source of {', '.join(missing)} under {_PACKAGE_ROOT} to put in an image: "
            "make build contexts with a sidecar installed from source"
        )
    for package in _SOURCE_PACKAGES:
        shutil.copytree(_PACKAGE_ROOT / package, target / package, ignore=ignore)
    for part in _PRELUDE_FILES:
        prelude = _PACKAGE_ROOT / part
        if not prelude.is_file():
            raise DeployError(f"the JavaScript prelude is missing ({prelude}): cannot make a runnable image")
        (target / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prelude, target / part)


def _declared_dependencies() -> list[str]:
    pyproject = _PACKAGE_ROOT / "pyproject.toml"
    if pyproject.is_file():
        return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])
    declared = importlib.metadata.requires("noodl-sidecar") or []
    return [item for item in declared if "extra ==" not in item]


def requirements() -> str:
    """The runtime dependencies, each pinned to the version installed here (the one the tests ran with)."""
    lines = []
    for spec in _declared_dependencies():
        name = re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]
        try:
            lines.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(spec)
    return "".join(line + "\n" for line in sorted(lines, key=str.lower))


def dockerfile(bundle: Bundle, base_image: str) -> str:
    backend = bundle.manifest["backend"]
    return f"""\
# Generated by noodl-sidecar {__version__} for backend {backend["id"]} ({backend["name"]}).
# Bundle {bundle.hash}. The environment it reads is in README.md.
ARG BASE_IMAGE={base_image}
FROM ${{BASE_IMAGE}}

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user owns the data volume; nothing else in the image is writable by it.
RUN groupadd --system --gid {USER_ID} noodl \\
 && useradd --system --uid {USER_ID} --gid noodl --home-dir /nonexistent --no-create-home \\
      --shell /usr/sbin/nologin noodl

WORKDIR /app
# Dependencies first: their layer is reused while only the bundle changes.
COPY src/requirements.txt /app/src/requirements.txt
RUN python3 -m pip install --no-cache-dir -r /app/src/requirements.txt
COPY src /app/src
COPY bin /app/bin
COPY bundle /app/bundle
RUN mkdir -p /data && chown {USER_ID}:{USER_ID} /data && chmod 0700 /data \\
 && chmod 0755 /app/bin/start /app/bin/healthcheck

ENV NOODL_DATA_DIR=/data \\
    NOODL_EGRESS=deployed \\
    NOODL_BUNDLE_DIR=/app/bundle \\
    NOODL_HOST=0.0.0.0 \\
    PORT={CONTAINER_PORT}
VOLUME ["/data"]
EXPOSE {CONTAINER_PORT}
USER {USER_ID}:{USER_ID}

# bin/start execs Python, which drains in-flight requests on SIGTERM and exits within 3 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/app/bin/healthcheck"]
CMD ["/app/bin/start"]
"""


START_SCRIPT = """\
#!/bin/sh
# Install the bundle into the data volume, then serve it (sidecar.deploy.entry; see README.md).
set -eu
app="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$app/src${PYTHONPATH:+:$PYTHONPATH}"
NOODL_BUNDLE_DIR="${NOODL_BUNDLE_DIR:-$app/bundle}"
export PYTHONPATH NOODL_BUNDLE_DIR
exec python3 -m sidecar.deploy.entry "$@"
"""

HEALTHCHECK_SCRIPT = '''\
#!/usr/bin/env python3
"""Healthy when /health answers ok and serves this image's bundle (exit 0), else exit 1 with why."""
import json
import os
import sys
import urllib.request
from pathlib import Path

manifest = Path(__file__).resolve().parent.parent / "bundle" / "manifest.json"
expected = json.loads(manifest.read_text())["bundleHash"]
url = "http://127.0.0.1:%s/health" % os.environ.get("PORT", "8080")
try:
    with urllib.request.urlopen(url, timeout=4) as reply:
        health = json.load(reply)
except Exception as exc:
    sys.stderr.write("unhealthy: %s: %s\\n" % (url, exc))
    sys.exit(1)
served = (health.get("bundle") or {}).get("hash")
if not health.get("ok") or served != expected:
    sys.stderr.write("unhealthy: ok=%s bundle=%s expected=%s\\n" % (health.get("ok"), served, expected))
    sys.exit(1)
'''


def readme(bundle: Bundle) -> str:
    variables = json.loads(bundle.files["environment.json"])["variables"]
    rows = "".join(
        f"| `{item['name']}` | {'yes' if item['required'] else 'no'} | {item['purpose']} |\n"
        for item in variables
    )
    backend = bundle.manifest["backend"]
    tag = f"{backend['id']}:{bundle.hash[7:19]}"
    return f"""\
# {backend["name"]} ({backend["id"]}): container build context

Generated by noodl-sidecar {__version__} from bundle `{bundle.hash}`.

    docker build -t {tag} .
    docker run -p 8080:{CONTAINER_PORT} -v {backend["id"]}-data:/data -e NOODL_ADMIN_TOKEN=… {tag}

The container runs as user {USER_ID}, keeps its data in the `/data` volume, answers `GET /health` with
`bundle.hash` equal to the bundle above, and drains on SIGTERM. At every start it installs the bundle's
workflows, triggers, security rules, config and schema into `/data` (data is kept; no class or field is
dropped) and takes every secret from the environment:

| variable | required | what |
|---|---|---|
{rows}| `PORT` | no | port to listen on (default {CONTAINER_PORT}) |
| `NOODL_HOST` | no | interface (default 0.0.0.0) |
| `NOODL_DATA_DIR` | no | data directory (default /data) |
| `NOODL_LOG_LEVEL` | no | debug, info (default), warning, error |
| `NOODL_EGRESS_ALLOW` | no | private addresses, networks or names functions may call (comma-separated) |

A master-key-only config parameter's variable holds JSON (a number, object, quoted string) or plain text
(a string). A credential is also found under its provider's usual variable (`ANTHROPIC_API_KEY`,
`OPENAI_API_KEY`, `FLY_API_TOKEN`, …). A missing required variable stops the start with exit status 2.
"""

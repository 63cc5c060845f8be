"""The deploy flow: validate → build → push → release → health → record, for one backend and target.

Each stage reports through ``on_stage`` (``$/progress`` on the IPC door, log lines on the command) and is
timed into the release record. A failure names its stage and why (:class:`DeployStageError`). Until the
release stage, nothing on the target changed; from it on, a failure or a cancellation puts the previous
live release's image back and waits for it to answer ``/health`` again, so the previous release keeps
serving (on a first deploy there is none: the target is left without a healthy release, and the record
says so). A deploy is *live* once ``/health`` of the deployed backend answers ``ok`` with this bundle's
hash. :func:`rollback` is the same flow from ``release`` on, with an earlier release's image.
"""

from __future__ import annotations

import asyncio
import secrets as random_tokens
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from sidecar.credentials import CredentialStore
from sidecar.deploy.bundle import ADMIN_TOKEN_ENV, Bundle, collect_bundle
from sidecar.deploy.context import write_build_context
from sidecar.deploy.image import build_app_image, push_image, tag_for
from sidecar.deploy.providers import make_provider
from sidecar.deploy.providers.base import Provider, Released
from sidecar.deploy.releases import ReleaseLog
from sidecar.deploy.targets import Target, TargetSecrets, TargetStore, plan
from sidecar.errors import DeployError, DeployStageError, SidecarError
from sidecar.secret_text import redact_secrets

log = structlog.get_logger("sidecar.deploy")

OnStage = Callable[[str, float], None]
ProviderFactory = Callable[..., Provider]
STAGES = ("validate", "build", "push", "release", "health", "record")
_PERCENT = {"validate": 5.0, "build": 15.0, "push": 35.0, "release": 55.0, "health": 70.0, "record": 95.0}


def _quiet(_message: str, _percentage: float) -> None:
    return None


@dataclass(frozen=True)
class FlowOptions:
    health_timeout_s: float = 120.0
    poll_s: float = 0.25
    restore_timeout_s: float = 60.0


class _Run:
    """One deploy's bookkeeping: the stage it is in, its times and log lines, its release record."""

    def __init__(self, releases: ReleaseLog, release: dict[str, Any], on_stage: OnStage) -> None:
        self.releases = releases
        self.version = int(release["version"])
        self.on_stage = on_stage
        self.stage = "validate"
        self.times: dict[str, float] = {}
        self.lines: list[str] = []
        self._started = time.monotonic()

    def restart_clock(self, since: float) -> None:
        self._started = since

    def enter(self, stage: str, message: str) -> None:
        self._close()
        self.stage = stage
        self._started = time.monotonic()
        self.say(message)

    def _close(self) -> None:
        self.times[self.stage] = round(time.monotonic() - self._started, 3)

    def say(self, message: str) -> None:
        text = redact_secrets(message)
        self.lines.append(f"[{self.stage}] {text}")
        log.info("deploy_stage", stage=self.stage, message=text, release=self.version)
        self.on_stage(f"{self.stage}: {text}", _PERCENT.get(self.stage, 50.0))

    def finish(self, **changes: Any) -> dict[str, Any]:
        self._close()
        from sidecar.deploy.releases import now

        return self.releases.update(
            self.version, stages=dict(self.times), logs=self.lines[-400:], finishedAt=now(), **changes
        )


def provider_token(data_dir: Path, target: Target) -> str:
    credential = target.spec.token_credential or target.spec.provider
    return CredentialStore(data_dir).lookup(credential, target.spec.provider).value


def open_provider(data_dir: Path, target: Target, factory: ProviderFactory) -> Provider:
    """The target's provider with its API token and, when the target names one (``options.
    registryCredential``, user ``options.registryUser``), the image registry's login."""
    options = target.spec.options
    login = None
    if options.get("registryCredential"):
        password = CredentialStore(data_dir).lookup(str(options["registryCredential"])).value
        login = (str(options.get("registryUser") or "x"), password)
    return factory(target.spec, provider_token(data_dir, target), login)


async def deploy(
    data_dir: Path,
    target_name: str,
    *,
    store: Any = None,
    on_stage: OnStage = _quiet,
    options: FlowOptions = FlowOptions(),
    rollback_to: int | None = None,
    reason: str = "deploy",
    provider_factory: ProviderFactory = make_provider,
) -> dict[str, Any]:
    """Deploy the backend in ``data_dir`` to ``target_name`` (or, with ``rollback_to``, redeploy that
    release's image); answers the live release. Raises :class:`DeployStageError` when a stage fails."""
    targets = TargetStore(data_dir)
    target = targets.require(target_name)
    releases = ReleaseLog(data_dir, target_name)
    previous = releases.live()
    earlier = releases.get(rollback_to) if rollback_to is not None else None
    if earlier is not None and not (earlier.get("image") or {}).get("reference"):
        raise DeployError(f"release {rollback_to} has no pushed image to roll back to")
    bundle: Bundle | None = None
    collecting = time.monotonic()
    if earlier is None:
        bundle = await _validated_bundle(data_dir, store)
    bundle_hash = bundle.hash if bundle is not None else str(earlier["bundleHash"])  # type: ignore[index]
    started = releases.start(bundle_hash, rollback_of=rollback_to if reason == "rollback" else None)
    run = _Run(releases, releases.update(int(started["version"]), reason=reason), on_stage)
    run.restart_clock(collecting)  # collecting the bundle is part of "validate"
    provider: Provider | None = None
    touched = False  # from the release call on, the target may run something else
    try:
        run.say(f"release {run.version} of bundle {bundle_hash} to {target.spec.provider}:{target.spec.app}")
        _check_environment(data_dir, target, bundle)
        provider = open_provider(data_dir, target, provider_factory)
        if bundle is not None:
            image_ref, digest = await _build_and_push(run, data_dir, target, bundle, provider)
        else:
            image_ref, digest = earlier["image"]["reference"], earlier["image"].get("digest")  # type: ignore[index]
        image = {"reference": image_ref, "digest": digest}
        releases.update(run.version, image=image)

        run.enter("release", f"{target.spec.provider}: app {target.spec.app}, image {image_ref}")
        await provider.prepare()
        await _apply_environment(run, data_dir, targets, target, provider)
        touched = True
        released = await provider.release(image_ref, target.env)
        run.say(f"accepted: {released.handle}")

        run.enter("health", f"waiting for {released.url}/health to answer bundle {bundle_hash}")
        await _wait_healthy(provider, released, bundle_hash, options.health_timeout_s, options.poll_s)
        run.enter("record", "healthy; recording the release")
        return run.finish(status="live", url=released.url, handle=released.handle)
    except asyncio.CancelledError:
        restored = await _restore(run, provider, previous, target, touched, options)
        run.finish(status="cancelled", stage=run.stage, error="cancelled", restored=restored)
        raise
    except Exception as exc:  # an API answering an unexpected shape must still restore and record
        why = _why(exc)
        stage = exc.stage if isinstance(exc, DeployStageError) else run.stage
        run.say(f"failed: {why}")
        restored = await _restore(run, provider, previous, target, touched, options)
        run.finish(status="failed", stage=stage, error=why, restored=restored)
        raise DeployStageError(stage, why, data={"version": run.version, "restored": restored}) from exc
    finally:
        if provider is not None:
            await provider.close()


def _why(exc: Exception) -> str:
    if isinstance(exc, DeployStageError):
        text = exc.reason
    elif isinstance(exc, SidecarError):
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact_secrets(text)


async def rollback(data_dir: Path, target_name: str, version: int, **kwargs: Any) -> dict[str, Any]:
    """Redeploy release ``version``'s image (no build, no push) and record it as a new release."""
    return await deploy(data_dir, target_name, rollback_to=version, reason="rollback", **kwargs)


async def apply_environment(
    data_dir: Path, target_name: str, *, provider_factory: ProviderFactory = make_provider, **kwargs: Any
) -> dict[str, Any]:
    """Apply the target's env vars and secrets now. With a live release the machine restarts on the same
    image (a new release, ``reason: environment``, health-checked and restored on failure like any);
    without one, only the secrets are sent and the env vars ride on the first deploy."""
    live = ReleaseLog(data_dir, target_name).live()
    if live is not None:
        release = await deploy(
            data_dir,
            target_name,
            rollback_to=int(live["version"]),
            reason="environment",
            provider_factory=provider_factory,
            **kwargs,
        )
        return {"applied": True, "release": release}
    targets = TargetStore(data_dir)
    target = targets.require(target_name)
    provider = open_provider(data_dir, target, provider_factory)
    try:
        await provider.prepare()
        values = TargetSecrets(data_dir, target_name).values()
        send = {name: values[name] for name in target.pending_secrets if name in values}
        held_env, _held = await provider.current_environment()
        await provider.set_environment(target.env, send, _unset(target, held_env, values))
    finally:
        await provider.close()
    target.pending_secrets, target.unset = [], []
    targets.save(target)
    return {"applied": True, "release": None}


async def add_domain(
    data_dir: Path,
    target_name: str,
    hostname: str,
    *,
    wait_s: float = 600.0,
    poll_s: float = 5.0,
    on_stage: OnStage = _quiet,
    provider_factory: ProviderFactory = make_provider,
) -> dict[str, Any]:
    """Add a custom domain to the target and poll its certificate until issued or failed (or ``wait_s``
    runs out: then it answers ``pending``; asking again later goes on polling)."""
    from sidecar.deploy.releases import now
    from sidecar.deploy.targets import validate_hostname

    clean = validate_hostname(hostname)
    targets = TargetStore(data_dir)
    target = targets.require(target_name)
    provider = open_provider(data_dir, target, provider_factory)
    deadline = time.monotonic() + wait_s
    try:
        known = {str(item.get("hostname")) for item in target.domains}
        status = await (provider.domain_status(clean) if clean in known else provider.add_domain(clean))
        on_stage(f"certificate for {clean}: {status.status} ({status.detail})", 10.0)
        while status.status == "pending" and time.monotonic() < deadline:
            await asyncio.sleep(poll_s)
            status = await provider.domain_status(clean)
            on_stage(f"certificate for {clean}: {status.status} ({status.detail})", 50.0)
    finally:
        await provider.close()
    entry = {"hostname": clean, "status": status.status, "detail": status.detail, "checkedAt": now()}
    target = targets.require(target_name)
    target.domains = [item for item in target.domains if item.get("hostname") != clean] + [entry]
    targets.save(target)
    return entry


async def _validated_bundle(data_dir: Path, store: Any) -> Bundle:
    try:
        return await collect_bundle(data_dir, store=store)
    except SidecarError as exc:
        raise DeployStageError("validate", exc.message) from exc


def _check_environment(data_dir: Path, target: Target, bundle: Bundle | None) -> None:
    """Every variable the bundle requires must be set on the target (the admin token is made if not)."""
    secrets = TargetSecrets(data_dir, target.spec.name)
    if ADMIN_TOKEN_ENV not in secrets.names():
        secrets.create(ADMIN_TOKEN_ENV, random_tokens.token_urlsafe(32), "deploy-secret")
        target.pending_secrets = sorted({*target.pending_secrets, ADMIN_TOKEN_ENV})
    if bundle is None:
        return
    import json

    variables = json.loads(bundle.files["environment.json"])["variables"]
    have = set(target.env) | set(secrets.names())
    missing = [item["name"] for item in variables if item.get("required") and item["name"] not in have]
    if missing:
        raise DeployStageError(
            "validate",
            f"target {target.spec.name} does not set {', '.join(missing)} (set them as secrets first)",
            data={"missing": missing},
        )


async def _build_and_push(
    run: _Run, data_dir: Path, target: Target, bundle: Bundle, provider: Provider
) -> tuple[str, str]:
    run.enter("build", "writing the build context and the application layer image")
    with tempfile.TemporaryDirectory(prefix="noodl-deploy-") as scratch:
        context = await asyncio.to_thread(write_build_context, bundle, Path(scratch) / "context")
        image = await asyncio.to_thread(build_app_image, context)
    run.say(f"image {image.digest} ({image.size_bytes} bytes)")
    registry = getattr(provider, "registry", "") or target.spec.registry
    if not registry:
        raise DeployStageError("push", f"target {target.spec.name} names no image registry")
    reference = f"{registry}/{target.spec.app}:{tag_for(bundle.hash)}"
    if target.spec.provider == "fly":
        from sidecar.deploy.providers.fly import fly_toml

        toml = fly_toml(target.spec, reference, target.env)
        path = data_dir / "deploy" / f"fly-{target.spec.name}.toml"
        await asyncio.to_thread(path.write_text, toml)
    run.enter("push", f"pushing {reference}")
    try:
        digest = await push_image(image, reference, await provider.registry_login())
    except aiohttp.ClientError as exc:
        raise DeployStageError("push", f"cannot reach the registry {registry}: {exc}") from exc
    run.say(f"pushed {digest}")
    return reference, digest


async def _apply_environment(
    run: _Run, data_dir: Path, targets: TargetStore, target: Target, provider: Provider
) -> None:
    secrets = TargetSecrets(data_dir, target.spec.name)
    held_env, held = await provider.current_environment()
    values = secrets.values()
    send = {name: values[name] for name in values if name in target.pending_secrets or name not in held}
    diff = plan(target, list(values), held_env, held)
    changes = [f"{item['action']} {item['name']}" for item in diff["env"] + diff["secrets"]]
    run.say("environment: " + (", ".join(changes) if changes else "no change"))
    await provider.set_environment(target.env, send, _unset(target, held_env, values))
    target.pending_secrets, target.unset = [], []
    targets.save(target)


def _unset(target: Target, held_env: Mapping[str, str], secret_values: Mapping[str, str]) -> set[str]:
    """Secrets removed here, and variables the provider holds that are neither env vars nor secrets of
    the target any more (providers listing secrets among the env report them in ``held_env``)."""
    gone = set(held_env) - set(target.env) - set(secret_values)
    return set(target.unset) | gone


async def _wait_healthy(
    provider: Provider, released: Released, bundle_hash: str, timeout_s: float, poll_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            state = await provider.state(released)
            if state == "failed":
                raise DeployStageError("health", f"the new release did not start ({released.handle}); {last}")
            if state == "started":
                try:
                    async with http.get(released.url.rstrip("/") + "/health") as reply:
                        health = await reply.json(content_type=None) if reply.status == 200 else None
                        last = f"/health answered {reply.status}"
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    health, last = None, f"/health: {type(exc).__name__}"
                if isinstance(health, Mapping):
                    served = (health.get("bundle") or {}).get("hash")
                    if health.get("ok") and served == bundle_hash:
                        return
                    last = f"/health serves bundle {served}, ok={health.get('ok')}"
            await asyncio.sleep(poll_s)
    raise DeployStageError("health", f"not healthy with bundle {bundle_hash} after {timeout_s:.0f} s; {last}")


async def _restore(
    run: _Run,
    provider: Provider | None,
    previous: dict[str, Any] | None,
    target: Target,
    touched: bool,
    options: FlowOptions,
) -> bool | None:
    """Put the previous live release back when this deploy touched the target; ``None``: untouched.
    The env vars and secrets this deploy applied stay (they are the target's now)."""
    if not touched or provider is None:
        run.say("the target was not changed; the previous release keeps serving")
        return None
    if previous is None:
        run.say("first release on this target: there is no previous release to restore")
        return False
    image = previous["image"]["reference"]
    run.say(f"restoring release {previous['version']} ({image})")
    try:
        again = await provider.release(image, target.env)
        await _wait_healthy(
            provider, again, str(previous["bundleHash"]), options.restore_timeout_s, options.poll_s
        )
    except Exception as exc:  # whatever the provider answered, the record must say so
        run.say(f"restoring release {previous['version']} failed too: {_why(exc)}")
        return False
    run.say(f"release {previous['version']} serves again")
    return True


async def environment_plan(
    data_dir: Path, target_name: str, provider_factory: ProviderFactory = make_provider
) -> dict[str, Any]:
    """The diff applying the target's env vars and secrets would make (secret values never shown)."""
    target = TargetStore(data_dir).require(target_name)
    provider = open_provider(data_dir, target, provider_factory)
    try:
        held_env, held = await provider.current_environment()
    finally:
        await provider.close()
    return plan(target, TargetSecrets(data_dir, target_name).names(), held_env, held)

"""The cloud providers a backend deploys to, behind one interface (:class:`~.base.Provider`).

``fly`` is built (Machines API); ``railway`` and ``render`` are named targets whose clients are not written
yet: configuring one works, deploying to it says so.
"""

from __future__ import annotations

from sidecar.deploy.providers.base import Provider, TargetSpec
from sidecar.errors import DeployError


def make_provider(spec: TargetSpec, token: str) -> Provider:
    if spec.provider == "fly":
        from sidecar.deploy.providers.fly import FlyProvider

        return FlyProvider(spec, token)
    raise DeployError(f"deploying to {spec.provider} is not available yet (only fly is built)")

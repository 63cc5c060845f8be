"""The cloud providers a backend deploys to, behind one interface (:class:`~.base.Provider`): ``fly``
(Machines API), ``railway`` (public GraphQL API) and ``render`` (REST API).

``registry_login`` is the image registry's ``(user, password)`` when the target names a registry
credential; Fly's own registry takes the API token instead, Railway and Render pull from the registry
with the login they are given.
"""

from __future__ import annotations

from sidecar.deploy.providers.base import Provider, TargetSpec
from sidecar.errors import DeployError


def make_provider(spec: TargetSpec, token: str, registry_login: tuple[str, str] | None = None) -> Provider:
    if spec.provider == "fly":
        from sidecar.deploy.providers.fly import FlyProvider

        return FlyProvider(spec, token, registry_login)
    if spec.provider == "railway":
        from sidecar.deploy.providers.railway import RailwayProvider

        return RailwayProvider(spec, token, registry_login)
    if spec.provider == "render":
        from sidecar.deploy.providers.render import RenderProvider

        return RenderProvider(spec, token, registry_login)
    raise DeployError(f"no deploy provider {spec.provider!r} (fly, railway, render)")

"""Railway through its public GraphQL API (``https://backboard.railway.com/graphql/v2``), written from
Railway's public API reference: projects, environments, services, volumes, variables, service instance
source and deployments, service and custom domains.

Mapping: the target's app is a Railway *project*; the target's name is the project's *environment*
(``production``, ``staging``); the backend is the project's service ``noodl`` with a volume at ``/data``.
A release points the service instance at the image (with the registry login, and ``/health`` as its
healthcheck path) and deploys it; Railway keeps the previous deployment serving until the new one is
healthy. Variables are set with ``skipDeploys`` so only the release deploys. Railway lists every
variable with its value, so the flow's write-only rule for secret values is kept on this side.

GraphQL errors come back as ``{"errors": [{"message"}]}`` (often with HTTP 200) and are raised as
:class:`ProviderApiError`; lists are Relay connections, read page by page (``first``/``after``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.deploy.context import CONTAINER_PORT
from sidecar.deploy.providers.base import ApiClient, DomainStatus, Released, TargetSpec
from sidecar.errors import DeployError, ProviderApiError

API_BASE = "https://backboard.railway.com/graphql/v2"
SERVICE_NAME = "noodl"
PAGE = 50
_FAILED = {"FAILED", "CRASHED", "REMOVED", "SKIPPED"}


class RailwayProvider:
    name = "railway"

    def __init__(self, spec: TargetSpec, token: str, registry_login: tuple[str, str] | None = None) -> None:
        self.spec = spec
        self.api = ApiClient("railway", spec.api_base or API_BASE, token)
        self._registry_login = registry_login
        self._project = ""
        self._environment = ""
        self._service = ""
        self._url = ""

    @property
    def registry(self) -> str:
        return self.spec.registry

    async def close(self) -> None:
        await self.api.close()

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        status, body = await self.api.call("POST", "", json={"query": query, "variables": variables})
        if not isinstance(body, Mapping):
            raise ProviderApiError("railway", status, "the answer is not a GraphQL response")
        errors = body.get("errors")
        if errors:
            text = "; ".join(str(item.get("message", item)) for item in errors if isinstance(item, Mapping))
            raise ProviderApiError("railway", status, text or str(errors))
        data = body.get("data")
        return dict(data) if isinstance(data, Mapping) else {}

    async def _pages(self, query: str, path: tuple[str, ...], **variables: Any) -> list[dict[str, Any]]:
        """Every node of a connection, following ``pageInfo.endCursor`` while ``hasNextPage``."""
        nodes: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            data: Any = await self.gql(query, first=PAGE, after=after, **variables)
            for key in path:
                data = data[key]
            nodes += [edge["node"] for edge in data["edges"]]
            info = data.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return nodes
            after = info.get("endCursor")

    async def prepare(self) -> None:
        projects = await self._pages(
            "query Projects($first: Int, $after: String) { projects(first: $first, after: $after) {"
            " edges { node { id name } } pageInfo { hasNextPage endCursor } } }",
            ("projects",),
        )
        found = [item for item in projects if item.get("name") == self.spec.app]
        if found:
            self._project = str(found[0]["id"])
        else:
            made = await self.gql(
                "mutation ProjectCreate($input: ProjectCreateInput!) { projectCreate(input: $input) { id } }",
                input={"name": self.spec.app},
            )
            self._project = str(made["projectCreate"]["id"])
        project = (
            await self.gql(
                "query Project($id: String!) { project(id: $id) {"
                " environments { edges { node { id name } } } services { edges { node { id name } } }"
                " volumes { edges { node { id name } } } } }",
                id=self._project,
            )
        )["project"]
        environments = {edge["node"]["name"]: edge["node"]["id"] for edge in project["environments"]["edges"]}
        self._environment = environments.get(self.spec.name) or str(
            (
                await self.gql(
                    "mutation EnvironmentCreate($input: EnvironmentCreateInput!) {"
                    " environmentCreate(input: $input) { id } }",
                    input={"projectId": self._project, "name": self.spec.name},
                )
            )["environmentCreate"]["id"]
        )
        services = {edge["node"]["name"]: edge["node"]["id"] for edge in project["services"]["edges"]}
        self._service = services.get(SERVICE_NAME) or str(
            (
                await self.gql(
                    "mutation ServiceCreate($input: ServiceCreateInput!) {"
                    " serviceCreate(input: $input) { id } }",
                    input={"projectId": self._project, "name": SERVICE_NAME},
                )
            )["serviceCreate"]["id"]
        )
        if not project["volumes"]["edges"]:
            await self.gql(
                "mutation VolumeCreate($input: VolumeCreateInput!) { volumeCreate(input: $input) { id } }",
                input={
                    "projectId": self._project,
                    "serviceId": self._service,
                    "environmentId": self._environment,
                    "mountPath": "/data",
                },
            )
        await self._address()

    def _ids(self) -> dict[str, str]:
        if not self._service:
            raise DeployError("railway: prepare() was not called")
        return {"projectId": self._project, "environmentId": self._environment, "serviceId": self._service}

    async def _address(self) -> None:
        if self.spec.public_url:
            self._url = self.spec.public_url.format(app=self.spec.app)
            return
        domains = await self._domains()
        service_domains = [item["domain"] for item in domains.get("serviceDomains", [])]
        if not service_domains:
            made = await self.gql(
                "mutation ServiceDomainCreate($input: ServiceDomainCreateInput!) {"
                " serviceDomainCreate(input: $input) { domain } }",
                input={"serviceId": self._service, "environmentId": self._environment},
            )
            service_domains = [made["serviceDomainCreate"]["domain"]]
        self._url = f"https://{service_domains[0]}"

    async def _domains(self) -> dict[str, Any]:
        data = await self.gql(
            "query Domains($projectId: String!, $environmentId: String!, $serviceId: String!) {"
            " domains(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) {"
            " serviceDomains { domain } customDomains { id domain status { certificateStatus } } } }",
            **self._ids(),
        )
        return dict(data["domains"])

    async def registry_login(self) -> tuple[str, str]:
        if self._registry_login is None:
            raise DeployError(
                "railway pulls the image from your registry: set the target's options registryCredential "
                "(a credential holding the registry password) and registryUser"
            )
        return self._registry_login

    async def current_environment(self) -> tuple[dict[str, str], set[str]]:
        if not self._service:
            await self.prepare()
        data = await self.gql(
            "query Variables($projectId: String!, $environmentId: String!, $serviceId: String!) {"
            " variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) }",
            **self._ids(),
        )
        held = {str(name): str(value) for name, value in (data.get("variables") or {}).items()}
        held.pop("PORT", None)
        return held, set(held)

    async def set_environment(
        self, env: Mapping[str, str], secrets: Mapping[str, str], unset: set[str]
    ) -> None:
        variables = {**env, **secrets, "PORT": str(CONTAINER_PORT)}
        await self.gql(
            "mutation Upsert($input: VariableCollectionUpsertInput!) {"
            " variableCollectionUpsert(input: $input) }",
            input={**self._ids(), "variables": variables, "skipDeploys": True},
        )
        held, _ = await self.current_environment()
        for name in sorted(unset & set(held)):
            await self.gql(
                "mutation VariableDelete($input: VariableDeleteInput!) { variableDelete(input: $input) }",
                input={**self._ids(), "name": name},
            )

    async def release(self, image: str, env: Mapping[str, str]) -> Released:
        ids = self._ids()
        source: dict[str, Any] = {"source": {"image": image}, "healthcheckPath": "/health"}
        source["restartPolicyType"] = "ON_FAILURE"
        if self._registry_login is not None:
            username, password = self._registry_login
            source["registryCredentials"] = {"username": username, "password": password}
        await self.gql(
            "mutation InstanceUpdate($serviceId: String!, $environmentId: String!,"
            " $input: ServiceInstanceUpdateInput!) {"
            " serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input) }",
            serviceId=ids["serviceId"],
            environmentId=ids["environmentId"],
            input=source,
        )
        data = await self.gql(
            "mutation Deploy($serviceId: String!, $environmentId: String!) {"
            " serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId) }",
            serviceId=ids["serviceId"],
            environmentId=ids["environmentId"],
        )
        deployment = str(data["serviceInstanceDeployV2"])
        return Released(deployment, self._url, {"deployment": deployment})

    async def state(self, released: Released) -> str:
        data = await self.gql(
            "query Deployment($id: String!) { deployment(id: $id) { id status } }", id=released.handle
        )
        status = str((data.get("deployment") or {}).get("status") or "")
        if status == "SUCCESS":
            return "started"
        return "failed" if status in _FAILED else "starting"

    async def add_domain(self, hostname: str) -> DomainStatus:
        if not self._service:
            await self.prepare()
        existing = await self.domain_status(hostname)
        if existing.detail != "unknown":
            return existing
        await self.gql(
            "mutation CustomDomainCreate($input: CustomDomainCreateInput!) {"
            " customDomainCreate(input: $input) { id domain status { certificateStatus } } }",
            input={**self._ids(), "domain": hostname},
        )
        return await self.domain_status(hostname)

    async def domain_status(self, hostname: str) -> DomainStatus:
        if not self._service:
            await self.prepare()
        for item in (await self._domains()).get("customDomains", []):
            if item.get("domain") == hostname:
                status = str((item.get("status") or {}).get("certificateStatus") or "")
                if status.endswith("VALID"):
                    return DomainStatus(hostname, "issued", status)
                if "FAIL" in status or "ERROR" in status:
                    return DomainStatus(hostname, "failed", status)
                return DomainStatus(hostname, "pending", status or "waiting for DNS")
        return DomainStatus(hostname, "pending", "unknown")

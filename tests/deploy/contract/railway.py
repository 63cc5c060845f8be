"""Railway's public GraphQL API as a local contract server: one ``POST`` endpoint; the operation is told
by its root field (``projects``, ``projectCreate``, ``serviceInstanceDeployV2``, …) and answered with the
shapes of Railway's reference (Relay connections with ``pageInfo``, ``{"errors": [{"message"}]}`` with
HTTP 200 for a refused operation, 401 without the token).

A deployment is a real ``serve`` process (``runner.py``) started from the service instance's image with
the registry login Railway was given and the service's variables: ``INITIALIZING`` → ``DEPLOYING`` →
``SUCCESS`` once its healthcheck path answers 200 (the previous deployment is then ``REMOVED``), or
``FAILED`` when it exits (the previous one keeps serving). ``/_edge/<project>/...`` stands in for the
service's domain.

Scripts: :meth:`fail` answers the next calls of a root field with an HTTP status; ``crash_next_starts``;
``page_size`` caps connections; ``certificate_checks`` looks before a custom domain's certificate is
``CERTIFICATE_STATUS_TYPE_VALID`` (or ``certificate_outcome = "failed"``).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.deploy.contract.runner import Unit, proxy, start_unit, stop_unit

_ROOT = re.compile(r"^\s*(?:query|mutation)\b[^{]*\{\s*(\w+)")


class GraphQLError(Exception):
    pass


@dataclass
class Deployment:
    id: str
    service: str
    environment: str
    unit: Unit
    status: str = "INITIALIZING"


@dataclass
class Project:
    id: str
    name: str
    environments: dict[str, str] = field(default_factory=dict)  # id -> name
    services: dict[str, str] = field(default_factory=dict)  # id -> name
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    service_domains: dict[tuple[str, str], str] = field(default_factory=dict)
    custom_domains: dict[str, dict[str, Any]] = field(default_factory=dict)


def _id() -> str:
    return str(uuid.uuid4())


class RailwayContract:
    def __init__(self, token: str, workdir: Path) -> None:
        self.token = token
        self.workdir = workdir
        self.projects: dict[str, Project] = {}
        self.deployments: dict[str, Deployment] = {}
        self.calls: list[tuple[str, int]] = []
        self._scripted: list[tuple[str, int, dict[str, str]]] = []
        self.crash_next_starts = 0
        self.page_size = 50
        self.certificate_checks = 2
        self.certificate_outcome = "issued"
        self.app = web.Application()
        self.app.router.add_post("/graphql/v2", self._graphql)
        self.app.router.add_route("*", "/_edge/{project}/{tail:.*}", self._edge)
        self.app.on_shutdown.append(self._stop_all)
        self._tasks: set[asyncio.Task[None]] = set()

    def fail(
        self, root_field: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        self._scripted += [(root_field, status, headers or {})] * times

    def project(self, name: str) -> Project:
        return next(project for project in self.projects.values() if project.name == name)

    def make_project(self, name: str) -> Project:
        project = Project(_id(), name)
        project.environments[_id()] = "production"
        self.projects[project.id] = project
        return project

    async def _graphql(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.calls.append(("", 401))
            return web.json_response({"errors": [{"message": "Not Authorized"}]}, status=401)
        body = await request.json()
        matched = _ROOT.match(str(body.get("query", "")))
        root = matched.group(1) if matched else ""
        for index, (name, status, headers) in enumerate(self._scripted):
            if name == root:
                del self._scripted[index]
                self.calls.append((root, status))
                message = "Rate limit exceeded" if status == 429 else "Internal server error"
                return web.json_response({"errors": [{"message": message}]}, status=status, headers=headers)
        handler = getattr(self, f"_op_{root}", None)
        try:
            if handler is None:
                raise GraphQLError(f'Cannot query field "{root}"')
            data = await handler(dict(body.get("variables") or {}))
        except GraphQLError as exc:
            self.calls.append((root, 200))
            return web.json_response({"data": None, "errors": [{"message": str(exc)}]})
        self.calls.append((root, 200))
        return web.json_response({"data": {root: data}})

    def _project(self, project_id: Any) -> Project:
        project = self.projects.get(str(project_id))
        if project is None:
            raise GraphQLError("Project not found")
        return project

    @staticmethod
    def _connection(items: list[dict[str, Any]], first: int, after: str | None) -> dict[str, Any]:
        start = int(after) if after else 0
        page = items[start : start + first]
        end = start + len(page)
        return {
            "edges": [{"node": node} for node in page],
            "pageInfo": {"hasNextPage": end < len(items), "endCursor": str(end)},
        }

    # ---- projects, environments, services, volumes ------------------------------------------

    async def _op_projects(self, args: dict[str, Any]) -> dict[str, Any]:
        items = [{"id": project.id, "name": project.name} for project in self.projects.values()]
        return self._connection(items, min(int(args.get("first") or 50), self.page_size), args.get("after"))

    async def _op_projectCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        project = self.make_project(str(args["input"]["name"]))
        return {"id": project.id, "name": project.name}

    async def _op_project(self, args: dict[str, Any]) -> dict[str, Any]:
        project = self._project(args.get("id"))

        def edges(items: list[dict[str, Any]]) -> dict[str, Any]:
            return {"edges": [{"node": node} for node in items]}

        return {
            "id": project.id,
            "name": project.name,
            "environments": edges([{"id": key, "name": name} for key, name in project.environments.items()]),
            "services": edges([{"id": key, "name": name} for key, name in project.services.items()]),
            "volumes": edges(list(project.volumes.values())),
        }

    async def _op_environmentCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        project = self._project(args["input"]["projectId"])
        environment = _id()
        project.environments[environment] = str(args["input"]["name"])
        return {"id": environment}

    async def _op_serviceCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        project = self._project(args["input"]["projectId"])
        service = _id()
        project.services[service] = str(args["input"]["name"])
        return {"id": service}

    async def _op_volumeCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        project = self._project(args["input"]["projectId"])
        volume = _id()
        project.volumes[volume] = {"id": volume, "name": "volume", "mountPath": args["input"]["mountPath"]}
        return {"id": volume}

    def _scope(self, args: dict[str, Any]) -> tuple[Project, tuple[str, str]]:
        project = self._project(args.get("projectId"))
        environment, service = str(args.get("environmentId")), str(args.get("serviceId"))
        if environment not in project.environments or service not in project.services:
            raise GraphQLError("Service or environment not found")
        return project, (environment, service)

    # ---- variables -------------------------------------------------------------------------

    async def _op_variables(self, args: dict[str, Any]) -> dict[str, str]:
        project, key = self._scope(args)
        return dict(project.variables.get(key, {}))

    async def _op_variableCollectionUpsert(self, args: dict[str, Any]) -> bool:
        project, key = self._scope(args["input"])
        project.variables.setdefault(key, {}).update(
            {str(k): str(v) for k, v in args["input"]["variables"].items()}
        )
        return True

    async def _op_variableDelete(self, args: dict[str, Any]) -> bool:
        project, key = self._scope(args["input"])
        if project.variables.get(key, {}).pop(str(args["input"]["name"]), None) is None:
            raise GraphQLError("Variable not found")
        return True

    # ---- instances and deployments ---------------------------------------------------------

    async def _op_serviceInstanceUpdate(self, args: dict[str, Any]) -> bool:
        project = next((p for p in self.projects.values() if args["serviceId"] in p.services), None)
        if project is None:
            raise GraphQLError("Service not found")
        instance = project.instances.setdefault((str(args["environmentId"]), str(args["serviceId"])), {})
        instance.update(args["input"])
        return True

    async def _op_serviceInstanceDeployV2(self, args: dict[str, Any]) -> str:
        service, environment = str(args["serviceId"]), str(args["environmentId"])
        project = next((p for p in self.projects.values() if service in p.services), None)
        if project is None:
            raise GraphQLError("Service not found")
        instance = project.instances.get((environment, service)) or {}
        image = (instance.get("source") or {}).get("image")
        if not image:
            raise GraphQLError("Service has no source")
        deployment = Deployment(_id(), service, environment, Unit(_id(), str(image)))
        self.deployments[deployment.id] = deployment
        env = dict(project.variables.get((environment, service), {}))
        if self.crash_next_starts > 0:
            self.crash_next_starts -= 1
            env = {}
        credentials = instance.get("registryCredentials") or {}
        login = (str(credentials.get("username", "")), str(credentials.get("password", "")))
        volume = next(iter(project.volumes), "ephemeral-" + deployment.id)
        task = asyncio.get_running_loop().create_task(
            self._run(deployment, login, env, volume, str(instance.get("healthcheckPath") or "/"))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return deployment.id

    async def _run(
        self, deployment: Deployment, login: tuple[str, str], env: dict[str, str], volume: str, health: str
    ) -> None:
        deployment.status = "DEPLOYING"
        await start_unit(self.workdir, deployment.unit, login, env, volume)
        unit = deployment.unit
        while unit.state == "starting":
            unit.changed.clear()
            await unit.changed.wait()
        if unit.state != "started":
            deployment.status = "FAILED"
            return
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{unit.port}{health}") as reply,
        ):
            healthy = reply.status == 200
        if not healthy:
            deployment.status = "FAILED"
            await stop_unit(unit)
            return
        for other in self.deployments.values():
            same = (other.service, other.environment) == (deployment.service, deployment.environment)
            if other is not deployment and same and other.status == "SUCCESS":
                other.status = "REMOVED"
                await stop_unit(other.unit)
        deployment.status = "SUCCESS"

    async def _op_deployment(self, args: dict[str, Any]) -> dict[str, Any]:
        deployment = self.deployments.get(str(args.get("id")))
        if deployment is None:
            raise GraphQLError("Deployment not found")
        if deployment.status == "SUCCESS" and deployment.unit.state == "failed":
            deployment.status = "CRASHED"
        return {"id": deployment.id, "status": deployment.status}

    # ---- domains ---------------------------------------------------------------------------

    async def _op_domains(self, args: dict[str, Any]) -> dict[str, Any]:
        project, key = self._scope(args)
        customs = []
        for domain in project.custom_domains.values():
            if (domain["environmentId"], domain["serviceId"]) != key:
                continue
            domain["_looks"] += 1
            if domain["_looks"] > self.certificate_checks:
                status = "ISSUE_FAILED" if self.certificate_outcome == "failed" else "VALID"
            else:
                status = "VALIDATING_OWNERSHIP" if domain["_looks"] == 1 else "ISSUING"
            customs.append(
                {"id": domain["id"], "domain": domain["domain"],
                 "status": {"certificateStatus": "CERTIFICATE_STATUS_TYPE_" + status}}
            )  # fmt: skip
        served = project.service_domains.get(key)
        return {"serviceDomains": [{"domain": served}] if served else [], "customDomains": customs}

    async def _op_serviceDomainCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        project = next((p for p in self.projects.values() if args["input"]["serviceId"] in p.services), None)
        if project is None:
            raise GraphQLError("Service not found")
        domain = f"{project.name}-production.up.railway.app"
        project.service_domains[(str(args["input"]["environmentId"]), str(args["input"]["serviceId"]))] = (
            domain
        )
        return {"domain": domain}

    async def _op_customDomainCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        project, _key = self._scope(args["input"])
        hostname = str(args["input"]["domain"])
        if hostname in project.custom_domains:
            raise GraphQLError("Domain is already in use")
        project.custom_domains[hostname] = {**args["input"], "id": _id(), "_looks": 0}
        return {"id": project.custom_domains[hostname]["id"], "domain": hostname,
                "status": {"certificateStatus": "CERTIFICATE_STATUS_TYPE_VALIDATING_OWNERSHIP"}}  # fmt: skip

    # ---- the service's address -------------------------------------------------------------

    async def _edge(self, request: web.Request) -> web.StreamResponse:
        project = next((p for p in self.projects.values() if p.name == request.match_info["project"]), None)
        live = [
            deployment
            for deployment in self.deployments.values()
            if project is not None
            and deployment.service in project.services
            and deployment.status == "SUCCESS"
        ]
        return await proxy(request, live[-1].unit if live else None, request.match_info["tail"])

    async def _stop_all(self, _app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        for deployment in self.deployments.values():
            await stop_unit(deployment.unit)

    # ---- test helpers ----------------------------------------------------------------------

    def variables_of(self, name: str) -> dict[str, str]:
        project = self.project(name)
        environment = next(key for key, value in project.environments.items() if value == "production")
        service = next(iter(project.services))
        return dict(project.variables.get((environment, service), {}))

    def script_busy_api(self) -> None:
        """A 429 on the first project listing, a 503 on the first project read, pages of one project
        with two other projects before ours."""
        self.fail("projects", 429, headers={"Retry-After": "0"})
        self.fail("project", 503)
        self.page_size = 1
        self.make_project("someone-else")
        self.make_project("another-one")

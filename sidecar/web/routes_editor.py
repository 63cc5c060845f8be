"""The rest of the admin routes the editor's BackendManager calls (both public versions of it):
workflow definitions, function permission rules, function secrets, search, sign-in and email settings,
webhook secret rotation, the newer ``PUT`` verb for enabling a trigger, and ``/_admin/whoami``.

Admin only, JSON in and out, mounted before the Parse catch-all like ``routes_backend``. Each handler
reads the wire and calls one backend service; the services say in their docstrings what is stored
only (no engine yet) and answer 501/503 for that rather than reporting success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from sidecar.backends.auth_settings import AuthSettings
from sidecar.backends.email_settings import EmailSettings
from sidecar.backends.function_rules import FunctionRules
from sidecar.backends.search_settings import SearchSettings
from sidecar.backends.secret_names import FunctionSecrets
from sidecar.backends.workflow_defs import NO_ENGINE, WorkflowDefinitions
from sidecar.errors import FeatureNotImplementedError, InvalidParamsError, SettingNotFoundError
from sidecar.web.routes_backend import admin_only, json_body
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response


class TriggerPort(Protocol):
    async def set_trigger_enabled(self, trigger_id: str, enabled: bool) -> dict[str, Any]: ...
    def rotate_webhook_secret(self, trigger_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EditorServices:
    """What these routes call; ``Backend`` builds one per start."""

    definitions: WorkflowDefinitions
    rules: FunctionRules
    secrets: FunctionSecrets
    search: SearchSettings
    auth: AuthSettings
    email: EmailSettings
    triggers: TriggerPort
    whoami: dict[str, Any]


def editor_routes(services: EditorServices, settings: WebSettings) -> list[web.RouteDef]:
    h = _EditorRoutes(services)
    table = [
        web.get("/_admin/whoami", h.whoami),
        web.get("/admin/workflow-step-kinds", h.step_kinds),
        web.get("/admin/workflow-defs", h.list_defs),
        web.post("/admin/workflow-defs", h.create_def),
        web.post("/admin/workflow-defs/validate", h.validate_def),
        web.get("/admin/workflow-defs/{id}", h.get_def),
        web.put("/admin/workflow-defs/{id}", h.update_def),
        web.delete("/admin/workflow-defs/{id}", h.delete_def),
        web.post("/admin/workflow-defs/{id}/run", h.run_def),
        web.post("/admin/workflow-runs/{executionId}/cancel", h.cancel_run),
        web.get("/admin/permissions/functions", h.function_rules),
        web.put("/admin/permissions/functions/{name}", h.set_function_rule),
        web.delete("/admin/permissions/functions/{name}", h.reset_function_rule),
        web.get("/admin/secrets", h.list_secrets),
        web.put("/admin/secrets/{name}", h.put_secret),
        web.delete("/admin/secrets/{name}", h.delete_secret),
        web.get("/admin/search", h.search_config),
        web.put("/admin/search/collections/{name}", h.put_search),
        web.delete("/admin/search/collections/{name}", h.delete_search),
        web.post("/admin/search/collections/{name}/rebuild", h.rebuild_search),
        web.get("/admin/auth", h.auth_config),
        web.put("/admin/auth", h.put_auth_policy),
        web.put("/admin/auth/providers/{id}", h.put_auth_provider),
        web.delete("/admin/auth/providers/{id}", h.delete_auth_provider),
        web.get("/admin/email/config", h.email_config),
        web.put("/admin/email/config", h.put_email_config),
        web.post("/admin/email/test", h.test_email),
        web.get("/admin/email/templates", h.email_templates),
        web.put("/admin/email/templates/{id}", h.put_email_template),
        web.delete("/admin/email/templates/{id}", h.delete_email_template),
        web.get("/admin/email/templates/{id}/preview", h.preview_email_template),
        web.put("/admin/triggers/{id}/enabled", h.set_trigger_enabled),
        web.post("/admin/triggers/{id}/secret", h.rotate_trigger_secret),
    ]
    return [web.route(route.method, route.path, admin_only(settings, route.handler)) for route in table]


async def _optional_body(request: web.Request) -> dict[str, Any]:
    """The editor sends some POSTs with no body at all (rotate, rebuild, cancel)."""
    return await json_body(request) if await request.read() else {}


class _EditorRoutes:
    def __init__(self, services: EditorServices) -> None:
        self.s = services

    async def whoami(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.whoami)

    # ---- workflow definitions ------------------------------------------------------------

    async def step_kinds(self, _request: web.Request) -> web.StreamResponse:
        return json_response({"kinds": [], "engine": False, "note": NO_ENGINE})

    async def list_defs(self, _request: web.Request) -> web.StreamResponse:
        return json_response({"workflows": self.s.definitions.all(), "lastRuns": {}})

    async def get_def(self, request: web.Request) -> web.StreamResponse:
        found = self.s.definitions.get(request.match_info["id"])
        if found is None:
            raise SettingNotFoundError(f'No workflow "{request.match_info["id"]}"')
        return json_response({"workflow": found})

    async def validate_def(self, request: web.Request) -> web.StreamResponse:
        errors, definition = self.s.definitions.preview(await json_body(request))
        return json_response({"valid": not errors, "errors": errors, "definition": definition})

    async def create_def(self, request: web.Request) -> web.StreamResponse:
        _created, definition = self.s.definitions.upsert(await json_body(request))
        return json_response({"workflow": definition}, 201)

    async def update_def(self, request: web.Request) -> web.StreamResponse:
        _created, definition = self.s.definitions.upsert(await json_body(request), request.match_info["id"])
        return json_response({"workflow": definition})

    async def delete_def(self, request: web.Request) -> web.StreamResponse:
        definition_id = request.match_info["id"]
        if not self.s.definitions.delete(definition_id):
            raise SettingNotFoundError(f'No workflow "{definition_id}"')
        return json_response({"deleted": True, "id": definition_id})

    async def run_def(self, request: web.Request) -> web.StreamResponse:
        definition_id = request.match_info["id"]
        if self.s.definitions.get(definition_id) is None:
            raise SettingNotFoundError(f'No workflow "{definition_id}"')
        raise FeatureNotImplementedError(NO_ENGINE)

    async def cancel_run(self, request: web.Request) -> web.StreamResponse:
        # Without a definition engine nothing is ever in flight, so every id is not an active run.
        raise SettingNotFoundError(f'No active run "{request.match_info["executionId"]}"')

    # ---- function permission rules -------------------------------------------------------

    async def function_rules(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.rules.listing())

    async def set_function_rule(self, request: web.Request) -> web.StreamResponse:
        return json_response(
            await self.s.rules.set_rule(request.match_info["name"], await json_body(request))
        )

    async def reset_function_rule(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.s.rules.reset_rule(request.match_info["name"]))

    # ---- function secrets ----------------------------------------------------------------

    async def list_secrets(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.secrets.listing())

    async def put_secret(self, request: web.Request) -> web.StreamResponse:
        status, answer = self.s.secrets.put(request.match_info["name"], await json_body(request))
        return json_response(answer, status)

    async def delete_secret(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.secrets.delete(request.match_info["name"]))

    # ---- search --------------------------------------------------------------------------

    async def search_config(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.search.config())

    async def put_search(self, request: web.Request) -> web.StreamResponse:
        return json_response(
            await self.s.search.put_collection(request.match_info["name"], await json_body(request))
        )

    async def delete_search(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.search.delete_collection(request.match_info["name"]))

    async def rebuild_search(self, request: web.Request) -> web.StreamResponse:
        await _optional_body(request)
        return json_response(self.s.search.rebuild(request.match_info["name"]))

    # ---- sign-in -------------------------------------------------------------------------

    async def auth_config(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.auth.config())

    async def put_auth_policy(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.auth.put_policy(await json_body(request)))

    async def put_auth_provider(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.auth.put_provider(request.match_info["id"], await json_body(request)))

    async def delete_auth_provider(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.auth.delete_provider(request.match_info["id"]))

    # ---- email ---------------------------------------------------------------------------

    async def email_config(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.email.config())

    async def put_email_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.email.put_config(await json_body(request)))

    async def test_email(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.s.email.test_send(await json_body(request)))

    async def email_templates(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.s.email.templates())

    async def put_email_template(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.email.put_template(request.match_info["id"], await json_body(request)))

    async def delete_email_template(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.email.delete_template(request.match_info["id"]))

    async def preview_email_template(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.s.email.preview(request.match_info["id"]))

    # ---- triggers ------------------------------------------------------------------------

    async def set_trigger_enabled(self, request: web.Request) -> web.StreamResponse:
        enabled = (await json_body(request)).get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidParamsError("`enabled` must be true or false")
        return json_response(await self.s.triggers.set_trigger_enabled(request.match_info["id"], enabled))

    async def rotate_trigger_secret(self, request: web.Request) -> web.StreamResponse:
        await _optional_body(request)
        return json_response(self.s.triggers.rotate_webhook_secret(request.match_info["id"]))

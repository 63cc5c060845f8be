"""Config, Cloud File, User and Set User Properties."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.nodes.records import error_message
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.records_codec import CloudFile
from sidecar.runtime.values import UNDEFINED, js_to_string, js_truthy

NO_USER = "No user is logged in for this request"


class ConfigNode(Node):
    """``DbConfig``: one config parameter, read from the config the run was started with."""

    TYPE = "DbConfig"
    DISPLAY_NAME = "Config"
    CATEGORY = "Cloud Services"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.config_key: Any = UNDEFINED

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name == "configKey":
            return InputSpec(name, "string", set=ConfigNode._set_key, display_name="Parameter")
        if name in ("useDevValue", "devValue"):
            return InputSpec(name, "*", set=lambda node, value: None)  # only inside the editor's preview
        return None

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return OutputSpec(name, "*", get=ConfigNode._value, display_name="Value") if name == "value" else None

    def _set_key(self, value: Any) -> None:
        self.config_key = value
        if self.has_output("value"):
            self.flag_output_dirty("value")

    def _value(self) -> Any:
        config = self.ctx.config
        if config is None or self.config_key is UNDEFINED:
            return UNDEFINED
        return config.get(js_to_string(self.config_key), UNDEFINED)


class CloudFileNode(Node):
    TYPE = "Cloud File"
    CATEGORY = "Cloud Services"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.file: Any = UNDEFINED

    def _set_file(self, value: Any) -> None:
        if not isinstance(value, CloudFile):
            return  # as the real runner: only a record's File property is a file here
        self.file = value
        self.flag_output_dirty("name")
        self.flag_output_dirty("url")

    def _url(self) -> Any:
        return self.file.get("url", UNDEFINED) if isinstance(self.file, CloudFile) else UNDEFINED

    def _name(self) -> Any:
        name = self.file.get("name") if isinstance(self.file, CloudFile) else None
        if not isinstance(name, str):
            return UNDEFINED
        # Stored names carry a unique prefix before the first "_"; the original name follows it.
        parts = name.split("_")
        return "_".join(parts[1:]) if len(parts) > 1 else name

    INPUTS = (InputSpec("file", "cloudfile", set=_set_file, display_name="Cloud File", group="General"),)
    OUTPUTS = (
        OutputSpec("url", "string", get=_url, display_name="URL", group="General"),
        OutputSpec("name", "string", get=_name, display_name="Name", group="General"),
    )


class UserNode(Node):
    """``net.noodl.user.User``: the request's session user."""

    TYPE = "net.noodl.user.User"
    DISPLAY_NAME = "User"
    CATEGORY = "Cloud Services"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.user: dict[str, Any] | None = None
        self.error: Any = UNDEFINED

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        if name.startswith("prop-"):
            key = name[5:]
            return OutputSpec(name, "*", get=lambda n: self.field(key))
        return None

    def field(self, key: str) -> Any:
        return self.user.get(key, UNDEFINED) if self.user else UNDEFINED

    def _on_fetch(self) -> None:
        self.schedule_after_inputs(self._fetch)

    def _fetch(self) -> None:
        token = self.ctx.request.headers.get("x-parse-session-token")
        records = self.ctx.services.records
        if not token or records is None:
            self._fail(NO_USER)
            return

        def done(user: Any, error: BaseException | None) -> None:
            if error is not None or not isinstance(user, dict):
                self._fail(error_message(error) if error else NO_USER)
                return
            self.user = user
            for output in ("id", "username", "email", "authenticated"):
                self.flag_output_dirty(output)
            for key in user:
                if self.has_output("prop-" + key):
                    self.flag_output_dirty("prop-" + key)
            self.send_signal("fetched")

        self.ctx.spawn(records.current_user(token), done, owner=self.id)

    def _fail(self, message: str) -> None:
        self.error = message
        self.flag_output_dirty("error")
        self.send_signal("failure")

    INPUTS = (InputSpec("fetch", "signal", on_signal=_on_fetch, display_name="Fetch", group="Actions"),)
    OUTPUTS = (
        OutputSpec("id", "string", get=lambda n: n.field("objectId"), display_name="Id", group="General"),
        OutputSpec("fetched", "signal", display_name="Fetched", group="Events"),
        OutputSpec("changed", "signal", display_name="Changed", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("error", "string", get=lambda n: n.error, display_name="Error", group="Error"),
        OutputSpec(
            "username", "string", get=lambda n: n.field("username"), display_name="Username", group="General"
        ),
        OutputSpec("email", "string", get=lambda n: n.field("email"), display_name="Email", group="General"),
        OutputSpec(
            "authenticated",
            "boolean",
            get=lambda n: n.user is not None,
            display_name="Authenticated",
            group="General",
        ),
    )


class SetUserPropertiesNode(Node):
    TYPE = "net.noodl.user.SetUserProperties"
    DISPLAY_NAME = "Set User Properties"
    CATEGORY = "Cloud Services"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.values: dict[str, Any] = {}
        self.error: Any = UNDEFINED

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name.startswith("prop-"):
            key = name[5:]
            return InputSpec(name, "*", set=lambda n, v: self.values.__setitem__(key, v))
        return None

    def _set_field(self, name: str, value: Any) -> None:
        self.values[name] = value

    def _on_store(self) -> None:
        self.schedule_after_inputs(self._store)

    def _store(self) -> None:
        user = self.ctx.user
        records = self.ctx.services.records
        if not isinstance(user, dict) or records is None or not js_truthy(user.get("objectId")):
            self._fail(NO_USER)
            return
        body = {key: value for key, value in self.values.items() if value is not UNDEFINED}
        work: Awaitable[Any] = records.save_user(js_to_string(user["objectId"]), body)

        def done(_result: Any, error: BaseException | None) -> None:
            if error is not None:
                self._fail(error_message(error))
            else:
                self.send_signal("success")

        self.ctx.spawn(work, done, owner=self.id)

    def _fail(self, message: str) -> None:
        self.error = message
        self.flag_output_dirty("error")
        self.send_signal("failure")

    INPUTS = (
        InputSpec("store", "signal", on_signal=_on_store, display_name="Do", group="Actions"),
        InputSpec(
            "email",
            "string",
            set=lambda n, v: n._set_field("email", v),
            display_name="Email",
            group="General",
        ),
        InputSpec(
            "username",
            "string",
            set=lambda n, v: n._set_field("username", v),
            display_name="Username",
            group="General",
        ),
    )
    OUTPUTS = (
        OutputSpec("success", "signal", display_name="Success", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("error", "string", get=lambda n: n.error, display_name="Error", group="Error"),
    )

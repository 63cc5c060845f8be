"""``/admin/email/*``: the backend's outgoing mail settings (``email.json``), its templates and a test
send. The SMTP password is write-only: it lives in ``secrets.json`` (``email`` namespace) and reads
answer ``hasSmtpPassword``. The test send really connects to the configured server; password-reset and
verification mails are not sent by this backend yet (the templates are stored for when they are).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar.backends.secret_names import SecretNamespace
from sidecar.backends.settings_file import SettingsFile
from sidecar.errors import EmailSendError, FeatureUnavailableError, InvalidParamsError, SettingNotFoundError

if TYPE_CHECKING:
    from email.message import EmailMessage

SEND_TIMEOUT_S = 15.0
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
DEFAULTS: dict[str, Any] = {
    "version": 1,
    "from": "",
    "appName": "",
    "baseUrl": "",
    "smtp": {"host": "", "port": 587, "secure": False, "user": ""},
    "verification": {"required": False},
    "templates": {},
}
TEMPLATES: dict[str, dict[str, str]] = {
    "passwordReset": {
        "subject": "Reset your {{appName}} password",
        "text": "Hi {{username}},\n\nFollow this link to choose a new password: {{resetUrl}}\n"
        "It stops working in {{expiresIn}}. If you did not ask for it, ignore this mail.\n",
        "html": "",
    },
    "verifyEmail": {
        "subject": "Confirm your email for {{appName}}",
        "text": "Hi {{username}},\n\nConfirm this address by opening {{verifyUrl}}\n",
        "html": "",
    },
    "magicLink": {
        "subject": "Your {{appName}} sign-in link",
        "text": "Open this link to sign in: {{magicLinkUrl}}\nIt stops working in {{expiresIn}}.\n",
        "html": "",
    },
}
SAMPLE = {
    "appName": "Your App",
    "username": "jane.doe",
    "resetUrl": "https://example.com/reset?token=SAMPLE",
    "verifyUrl": "https://example.com/verify?token=SAMPLE",
    "magicLinkUrl": "https://example.com/magic?token=SAMPLE",
    "expiresIn": "1 hour",
}


class EmailSettings:
    def __init__(self, data_dir: Path) -> None:
        self._file = SettingsFile(data_dir / "email.json", DEFAULTS)
        self._secret = SecretNamespace(data_dir, "email")

    # ---- config -------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        config = self._file.read()
        reason = _not_configured_reason(config)
        return {
            "config": config,
            "hasSmtpPassword": self._secret.has("smtpPassword"),
            "configured": reason is None,
            "notConfiguredReason": reason,
        }

    def put_config(self, body: dict[str, Any]) -> dict[str, Any]:
        password = body.get("smtpPassword")
        candidate = dict(body["config"]) if isinstance(body.get("config"), dict) else dict(body)
        candidate.pop("smtpPassword", None)
        current = self._file.read()
        merged = {
            **current,
            **candidate,
            "smtp": {**current["smtp"], **_object(candidate.get("smtp"), "smtp")},
            "verification": {
                **current["verification"],
                **_object(candidate.get("verification"), "verification"),
            },
            "templates": candidate.get("templates", current["templates"]),
        }
        problems = _problems(merged)
        if problems:
            raise InvalidParamsError(
                "Invalid email config: " + "; ".join(problems), data={"problems": problems}
            )
        self._file.write(merged)
        if isinstance(password, str) and password:
            self._secret.set("smtpPassword", password)
        answer = self.config()
        answer.pop("notConfiguredReason")
        return {"success": True, **answer}

    # ---- test send ----------------------------------------------------------------------------

    async def test_send(self, body: dict[str, Any]) -> dict[str, Any]:
        to = str(body.get("to") or "")
        if not to:
            raise InvalidParamsError('Provide "to": the address to send the test email to.')
        if not _ADDRESS.match(to):
            raise InvalidParamsError(f'"to" is not an email address: {to}')
        config = self._file.read()
        reason = _not_configured_reason(config)
        if reason is not None:
            raise FeatureUnavailableError(reason)
        from email.message import EmailMessage  # mail modules load on the first send, not at start

        message = EmailMessage()
        message["From"] = config["from"]
        message["To"] = to
        message["Subject"] = "noodl-sidecar backend: test email"
        fallback = not config.get("baseUrl")
        message.set_content(
            "This is a test email from your local backend. If you can read it, SMTP is configured.\n"
            + (
                "\nNo baseUrl is set: links in reset and verification mails would point at localhost.\n"
                if fallback
                else ""
            )
        )
        await asyncio.to_thread(_send, config["smtp"], self._secret.value("smtpPassword"), message)
        return {"success": True, "retried": False, "baseUrlWarning": fallback}

    # ---- templates ----------------------------------------------------------------------------

    def templates(self) -> dict[str, Any]:
        overrides = self._file.read().get("templates", {})
        rows = []
        for template_id, default in TEMPLATES.items():
            override = overrides.get(template_id) if isinstance(overrides, dict) else None
            rows.append(
                {
                    "id": template_id,
                    "default": default,
                    "override": override or None,
                    "effective": {**default, **(override or {})},
                    "isOverridden": bool(override),
                }
            )
        return {"templates": rows}

    def put_template(self, template_id: str, body: dict[str, Any]) -> dict[str, Any]:
        default = _template(template_id)
        override = {key: body[key] for key in ("subject", "text", "html") if isinstance(body.get(key), str)}
        config = self._file.read()
        config["templates"] = {**config.get("templates", {}), template_id: override}
        self._file.write(config)
        return {"success": True, "id": template_id, "effective": {**default, **override}}

    def delete_template(self, template_id: str) -> dict[str, Any]:
        default = _template(template_id)
        config = self._file.read()
        templates = dict(config.get("templates", {}))
        removed = templates.pop(template_id, None) is not None
        config["templates"] = templates
        self._file.write(config)
        return {"success": True, "id": template_id, "removed": removed, "effective": default}

    def preview(self, template_id: str) -> dict[str, Any]:
        effective = {
            **_template(template_id),
            **(self._file.read().get("templates", {}).get(template_id) or {}),
        }
        rendered = {key: _render(value, SAMPLE) for key, value in effective.items()}
        return {"id": template_id, "preview": rendered}


def _template(template_id: str) -> dict[str, str]:
    if template_id not in TEMPLATES:
        raise SettingNotFoundError(f"No such template: {template_id}. Known: {', '.join(TEMPLATES)}")
    return TEMPLATES[template_id]


def _render(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParamsError(f"`{name}` must be an object")
    return value


def _problems(config: dict[str, Any]) -> list[str]:
    problems = []
    sender = config.get("from")
    if not isinstance(sender, str) or (sender and not _ADDRESS.search(sender.split("<")[-1].rstrip(">"))):
        problems.append("from: an email address (or 'Name <address>') is required to send")
    smtp = config["smtp"]
    if not isinstance(smtp.get("host"), str):
        problems.append("smtp.host: must be a string")
    port = smtp.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append("smtp.port: must be an integer from 1 to 65535")
    if not isinstance(smtp.get("secure"), bool):
        problems.append("smtp.secure: must be true or false")
    if not isinstance(smtp.get("user", ""), str):
        problems.append("smtp.user: must be a string")
    base = config.get("baseUrl")
    if not isinstance(base, str) or (base and not re.match(r"^https?://", base)):
        problems.append("baseUrl: must start with http:// or https://")
    if not isinstance(config.get("templates"), dict):
        problems.append("templates: must be an object")
    return problems


def _not_configured_reason(config: dict[str, Any]) -> str | None:
    if not config.get("smtp", {}).get("host"):
        return "Email is not configured: set an SMTP host."
    if not config.get("from"):
        return "Email is not configured: set a From address."
    return None


def _send(smtp: dict[str, Any], password: str | None, message: EmailMessage) -> None:
    import smtplib
    import ssl

    host, port = str(smtp["host"]), int(smtp["port"])
    try:
        if smtp.get("secure"):
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=SEND_TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=SEND_TIMEOUT_S)
        with client:
            client.ehlo()
            if not smtp.get("secure") and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.get("user") and password:
                client.login(str(smtp["user"]), password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise EmailSendError(f"Failed to send the test email: {exc}") from exc

"""The credential channels (``credentials:*``): arguments and results. Values go in, never come out."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class CredentialTest(WireModel):
    status: Literal["ok", "failed", "untested"]
    message: str
    tested_at: str


class CredentialInfo(WireModel):
    name: str
    provider: str
    created_at: str
    updated_at: str
    last_test: CredentialTest | None = None
    env: str = Field(description="The environment variable a deployed backend reads this credential from.")


class CredentialList(WireModel):
    credentials: list[CredentialInfo]


class CredentialTestResult(CredentialTest):
    name: str
    provider: str


class CredentialDeleted(WireModel):
    deleted: bool
    name: str


class NewCredential(WireModel):
    name: str = Field(description="1-64 characters: a letter, then letters, digits, '_', '.', '-'.")
    value: str = Field(description="The secret; stored encrypted, never answered.")
    provider: str | None = Field(
        default=None, description="anthropic, openai, fly, railway, render, … (default generic)."
    )
    replace: bool = Field(default=False, description="Overwrite a credential of the same name.")


class CreateCredentialParams(PositionalParams):
    backend_id: str
    credential: NewCredential


class CredentialNameParams(PositionalParams):
    backend_id: str
    name: str

"""The credential store: named secrets of one backend (provider API keys, deploy tokens).

It owns ``<dataDir>/credentials.json`` (mode 0600): each credential's name, provider, times and last test
result in clear, its value encrypted with AES-GCM (the name is the associated data, so a value cannot be
moved under another name). The key never sits among the data directory's JSON files: it comes from
``$NOODL_CREDENTIALS_KEY``, the OS keyring when the optional ``keyring`` package finds a working one, or a
0600 key file beside the data directory (``sidecar.credentials.keys``). Values leave the store only through
:meth:`CredentialStore.lookup`, which also registers them with the log and history redaction
(``sidecar.secret_text``); listings never carry them, and deploy bundles leave the file out.

A lookup by name falls back on the environment, as the vendors' SDKs do: ``NOODL_CREDENTIAL_<NAME>``, the
name itself when it is an environment variable's name (``OPENAI_API_KEY``), then the provider's usual
variable (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``, ``FLY_API_TOKEN``, …). A deployed container gets its
credentials that way.

Testing a credential runs the check its provider registered (:func:`register_check`); a provider without
one answers ``untested``.
"""

from sidecar.credentials.checks import CheckOutcome, register_check, unregister_check
from sidecar.credentials.keys import KeyMaterial, load_key
from sidecar.credentials.store import (
    FILE_NAME,
    PROVIDER_ENV,
    CredentialInfo,
    CredentialStore,
    ResolvedCredential,
    env_name_for,
    remember_stored_values,
)

__all__ = [
    "FILE_NAME",
    "PROVIDER_ENV",
    "CheckOutcome",
    "CredentialInfo",
    "CredentialStore",
    "KeyMaterial",
    "ResolvedCredential",
    "env_name_for",
    "load_key",
    "register_check",
    "remember_stored_values",
    "unregister_check",
]

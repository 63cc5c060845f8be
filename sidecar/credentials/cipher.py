"""The credential store's cipher: AES-GCM from ``cryptography``, with the credential's name as
associated data. Loaded the first time a value is sealed or opened (``sidecar.lazy``): a backend
without stored credentials never imports ``cryptography``."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class AesGcm:
    def seal(self, key: bytes, nonce: bytes, plain: bytes, associated: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, plain, associated)

    def open(self, key: bytes, nonce: bytes, sealed: bytes, associated: bytes) -> bytes:
        """The plain bytes; ``ValueError`` when the key or the associated data is not the one sealed with."""
        try:
            return AESGCM(key).decrypt(nonce, sealed, associated)
        except InvalidTag as exc:
            raise ValueError("authentication failed") from exc

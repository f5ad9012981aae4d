"""Secrets kept at rest sealed under one key-encryption key (AES-256-GCM from cryptography),
so a copied database file or backup holds no usable signing key or token.

The key-encryption key comes from LOOPGATE_KEY_ENCRYPTION_KEY (base64 of 32 bytes: a
Kubernetes Secret, a vault) or, when that is unset, from `key-encryption-key` in the data
dir, made once with mode 0600. Each sealed value is bound to what it is (`context`, the
associated data), so a sealed value copied into another row or column does not open.
"""

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = "key-encryption-key"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class SecretBoxError(ValueError):
    """A sealed value that does not open: another key-encryption key, or altered bytes."""


class SecretBox:
    def __init__(self, key: bytes):
        if len(key) != _KEY_BYTES:
            raise SecretBoxError(f"a key-encryption key has {_KEY_BYTES} bytes, not {len(key)}")
        self._key = key
        self._aead = AESGCM(key)
        self._derived: dict[str, bytes] = {}

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, context.encode())
        except InvalidTag:
            raise SecretBoxError(
                f"a sealed {context} does not open with this key-encryption key"
            ) from None

    def derived_key(self, purpose: str) -> bytes:
        """A key of its own for `purpose` (HKDF-SHA256 of the key-encryption key), e.g. to
        compute MACs with; it tells nothing of the key-encryption key or of other purposes'.
        Derived once per purpose: every ticket URL made or checked asks for it."""
        if purpose not in self._derived:
            self._derived[purpose] = HKDF(
                algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=purpose.encode()
            ).derive(self._key)
        return self._derived[purpose]


def key_encryption_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key (base64), else the data dir's key file, made once if missing."""
    if configured:
        try:
            key = base64.b64decode(configured, validate=True)
        except binascii.Error:
            raise SecretBoxError("LOOPGATE_KEY_ENCRYPTION_KEY must be base64") from None
        if len(key) != _KEY_BYTES:
            raise SecretBoxError(
                f"LOOPGATE_KEY_ENCRYPTION_KEY must hold {_KEY_BYTES} bytes, not {len(key)}"
            )
        return key
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = data_dir / f".{KEY_FILE}.{secrets.token_hex(8)}"
        descriptor = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode() + "\n")
        try:
            # A hard link appears whole or not at all: when several processes start at once,
            # one key wins and every process reads that one.
            os.link(made, path)
        except FileExistsError:
            pass
        finally:
            made.unlink()
    return key_encryption_key(path.read_text().strip(), data_dir)

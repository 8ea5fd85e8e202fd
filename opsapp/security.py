"""Password hashing (argon2) and encryption of tenant secrets at rest (Fernet)."""

from __future__ import annotations

import base64
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from opsapp.settings import get_settings

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _fernet(secret_key: str | None = None) -> Fernet:
    key = secret_key or get_settings().secret_key.get_secret_value()
    # Fernet wants 32 url-safe base64 bytes; derive them so any passphrase works as the key.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest()))


def encrypt_secret(plain: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(plain.encode("utf-8")).decode("ascii")


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key (OPSAPP_SECRET_KEY changed)."""


def decrypt_secret(token: str, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretUnreadable(
            "the tenant secret cannot be decrypted with OPSAPP_SECRET_KEY"
        ) from None

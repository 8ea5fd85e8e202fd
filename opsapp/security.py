"""Password hashing (argon2) and encryption of tenant secrets at rest (Fernet).

Key rotation: OPSAPP_SECRET_KEY encrypts, it and OPSAPP_SECRET_KEYS_OLD all decrypt
(MultiFernet); `opsapp secrets rotate` (rotate_stored_secrets) re-encrypts every stored secret
with the current key, after which the old keys can be dropped."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from opsapp.settings import DEMO_SECRET_KEY, get_settings
from opsapp.settings_guard import MAKE_KEY_HINT, UnsafeConfiguration

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


class WeakSecretKey(UnsafeConfiguration):
    """Refused: a real secret would be encrypted with the public built-in key."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _fernet_for(key: str) -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; derive them so any passphrase works as the key.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest()))


def _keys(secret_key: str | None = None, secret_keys: Sequence[str] | None = None) -> list[str]:
    if secret_keys:
        return list(secret_keys)
    if secret_key:
        return [secret_key]
    return get_settings().secret_keys()


def _multi_fernet(keys: Sequence[str]) -> MultiFernet:
    """The first key encrypts; every key decrypts (key rotation)."""
    return MultiFernet([_fernet_for(key) for key in keys])


def _demo_client_secrets() -> frozenset[str]:
    from opsapp.graph.demo.tenants import DEMO_TENANTS

    return frozenset(tenant.client_secret for tenant in DEMO_TENANTS)


def encrypt_secret(plain: str, *, secret_key: str | None = None) -> str:
    """Encrypt with the current key (OPSAPP_SECRET_KEY, or `secret_key`).

    The built-in demo key is public, so it only ever encrypts the demo tenants' public secrets:
    anything else raises WeakSecretKey (the process may be in demo mode, but the secret is real).
    """
    key = _keys(secret_key)[0]
    if key == DEMO_SECRET_KEY and plain not in _demo_client_secrets():
        raise WeakSecretKey(
            "a real client secret is never encrypted with the built-in demo key; set "
            f"OPSAPP_SECRET_KEY to a strong key first ({MAKE_KEY_HINT})"
        )
    return _fernet_for(key).encrypt(plain.encode("utf-8")).decode("ascii")


class SecretUnreadable(Exception):
    """No configured key (OPSAPP_SECRET_KEY, OPSAPP_SECRET_KEYS_OLD) decrypts the stored secret."""


def decrypt_secret(
    token: str, *, secret_key: str | None = None, secret_keys: Sequence[str] | None = None
) -> str:
    """Decrypt with any configured key (the current one, then OPSAPP_SECRET_KEYS_OLD)."""
    try:
        return (
            _multi_fernet(_keys(secret_key, secret_keys))
            .decrypt(token.encode("ascii"))
            .decode("utf-8")
        )
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable(
            "the tenant secret cannot be decrypted with OPSAPP_SECRET_KEY or OPSAPP_SECRET_KEYS_OLD"
        ) from None


@dataclass(frozen=True)
class RotationResult:
    rotated: int
    unreadable_tenants: tuple[str, ...]  # slugs; their stored secret is left as it was

    def to_dict(self) -> dict[str, int]:
        return {"rotated": self.rotated, "unreadable": len(self.unreadable_tenants)}


def rotate_stored_secrets(session, *, secret_keys: Sequence[str] | None = None) -> RotationResult:
    """Re-encrypt every tenant's client secret with the current (first) key, in the caller's
    transaction. A secret no key can read is counted and named by tenant slug, never changed;
    nothing is decrypted into a log or a message."""
    from sqlmodel import select

    from opsapp.models import Tenant

    fernet = _multi_fernet(_keys(secret_keys=secret_keys))
    rows = session.exec(
        select(Tenant)
        .where(Tenant.client_secret_encrypted.is_not(None))  # type: ignore[union-attr]
        .order_by(Tenant.id)
        .with_for_update()  # PostgreSQL: no concurrent write between our read and our write
    ).all()
    rotated, unreadable = 0, []
    for tenant in rows:
        try:
            token = fernet.rotate(tenant.client_secret_encrypted.encode("ascii"))
        except (InvalidToken, UnicodeError):
            unreadable.append(tenant.slug)
            continue
        tenant.client_secret_encrypted = token.decode("ascii")
        session.add(tenant)
        rotated += 1
    session.flush()
    return RotationResult(rotated=rotated, unreadable_tenants=tuple(unreadable))

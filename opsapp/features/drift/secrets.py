"""Masking of secret values and certificate/binary blobs for display.

Drift keeps raw values (fingerprints must change when a secret changes) but what a person sees
goes through `mask`: a secret is shown as ``"•••••• (hidden)"`` and a certificate or other
binary blob as ``"certificate / binary data (hidden)"`` -- never its length or any part of it.

A path is secret by the names of its segments (``[...]`` qualifiers removed, compared
case-insensitively; the last one or any parent): a name is, or ends with, a secret word ("password", "preSharedKey",
"trustedRootCertificate", "payload"...). Counters and flags that merely start with such a word
(``passwordMinimumLength``, ``passwordRequired``) are not secret. The normalizer names
settings-catalog SecretSettingValue leaves ``secretValue``/``secretValues`` and encrypted OMA-URI
values ``secretValue``, so they are secret by this rule too. Independently of the path, any
string that looks like a PEM block or a base64 blob of 64+ characters is masked as a blob.

Booleans are never masked (a flag such as ``requirePassword`` cannot leak a secret).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SECRET_MASK = "•••••• (hidden)"
BLOB_MASK = "certificate / binary data (hidden)"

# Secret names (lower case) matched as the whole name or as its suffix.
_SECRET_SUFFIXES: tuple[str, ...] = (
    "password",
    "passwordvalue",
    "passphrase",
    "secret",
    "secretvalue",
    "secretvalues",
    "sharedkey",  # sharedKey, preSharedKey
    "psk",
    "privatekey",
    "productkey",
    "recoverykey",
    "encryptionkey",
    "apikey",
    "token",
    "credential",
    "credentials",
)
# Certificate / binary names: masked with the blob text.
_BLOB_SUFFIXES: tuple[str, ...] = (
    "certificate",  # rootCertificate, trustedRootCertificate, ...
    "certcontent",
    "pfxblob",
    "blob",
    "payload",  # custom configuration profiles: a base64 .mobileconfig / XML
)

_QUALIFIER = re.compile(r"\[[^\]]*\]")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n")
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
_BLOB_MIN_LENGTH = 64


@lru_cache(maxsize=4096)
def _secret_kind(path: str) -> str | None:
    """ "secret", "blob" or None, from the segments' names: the last one, or any parent (a
    `credentials.value` or `proxy.password.text` is as secret as a `password`)."""
    kind = None
    for name in _QUALIFIER.sub("", path).lower().split("."):
        if name.endswith(_BLOB_SUFFIXES):
            kind = "blob"
        elif name.endswith(_SECRET_SUFFIXES):
            return "secret"
    return kind


def is_secret_path(path: str) -> bool:
    """True when values at `path` are secrets or certificate blobs by their name."""
    return _secret_kind(path) is not None


def looks_like_blob(value: str) -> bool:
    """A PEM block, or 64+ characters of only the base64 alphabet (pure hex, e.g. a SHA-256
    thumbprint, is not a blob)."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return True
    if len(text) < _BLOB_MIN_LENGTH:
        return False
    chars = set(text)
    return chars <= _BASE64_CHARS and not chars <= _HEX_CHARS


def mask(path: str, value: Any) -> Any:
    """The display value of `value` at `path`: unchanged unless secret or a blob."""
    if value is None or isinstance(value, bool):
        return value
    kind = _secret_kind(path)
    if kind == "secret":
        return SECRET_MASK
    if kind == "blob":
        return BLOB_MASK
    if isinstance(value, str):
        return BLOB_MASK if looks_like_blob(value) else value
    if isinstance(value, list):
        return [BLOB_MASK if isinstance(v, str) and looks_like_blob(v) else v for v in value]
    return value

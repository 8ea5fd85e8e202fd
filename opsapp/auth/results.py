"""What sign-in returns and raises. Messages are user-facing and never say whether the e-mail
exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

INVALID_CREDENTIALS = "Invalid e-mail or password."


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    email: str
    display_name: str


@dataclass(frozen=True)
class SignInResult:
    token: str  # the plain session token, to be kept by the browser
    user: AuthenticatedUser
    expires_at: datetime


class SignInFailed(Exception):
    """Wrong e-mail or password. str(exc) is the user-facing message, the same whether or not the
    e-mail exists: 'Invalid e-mail or password.'"""

    def __init__(self, message: str = INVALID_CREDENTIALS) -> None:
        super().__init__(message)


class SignInThrottled(SignInFailed):
    """Too many failed attempts for this e-mail or client; nothing was checked."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        super().__init__(
            f"Too many sign-in attempts. Try again in {self.retry_after_seconds} seconds."
        )

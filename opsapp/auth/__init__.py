"""Server side of web sign-in: password check with a rate limit, browser sessions (token hashes
only in the database, sliding expiry), sign-out and housekeeping. All functions are synchronous;
call them from async code through asyncio.to_thread."""

from opsapp.auth.results import (
    AuthenticatedUser,
    SignInFailed,
    SignInResult,
    SignInThrottled,
)
from opsapp.auth.service import prune_sign_in_records, sign_in
from opsapp.auth.sessions import resolve_session, revoke_user_sessions, sign_out

__all__ = [
    "AuthenticatedUser",
    "SignInFailed",
    "SignInResult",
    "SignInThrottled",
    "prune_sign_in_records",
    "resolve_session",
    "revoke_user_sessions",
    "sign_in",
    "sign_out",
]

"""Web sign-in: browser sessions (only the token's hash is stored) and sign-in attempts
(the record the rate limit counts)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import UTCDateTime, utcnow


class UserSession(SQLModel, table=True):
    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    # sha256 hex of the session token; the plain token stays with the browser.
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    client: str = Field(default="", max_length=64)  # client IP, informational only


class SignInAttempt(SQLModel, table=True):
    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        sa.Index("ix_sign_in_attempts_email_created", "email_key", "created_at"),
        sa.Index("ix_sign_in_attempts_client_created", "client_key", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email_key: str = Field(max_length=320)  # the e-mail as typed, stripped and lower-cased
    client_key: str = Field(default="", max_length=64)
    succeeded: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

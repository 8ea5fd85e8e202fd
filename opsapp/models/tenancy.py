"""Tenants, users and their memberships (one role per user and tenant)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import UTCDateTime, utcnow
from opsapp.roles import Role as Role  # defined there (no database imports), re-exported


class ProviderKind(StrEnum):
    demo = "demo"  # the built-in demo Graph server
    client_credentials = "client_credentials"  # a real app registration (client id + secret)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=64, sa_column_kwargs={"unique": True}, index=False)
    entra_tenant_id: str = Field(default="", max_length=64)
    provider: str = Field(default=ProviderKind.demo.value, max_length=32)
    client_id: str = Field(default="", max_length=128)
    # Fernet token of the client secret; the plain secret is never stored.
    client_secret_encrypted: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    display_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_memberships_tenant_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

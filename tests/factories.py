"""Test data builders. Passwords are fixed and long enough for the real hasher."""

from __future__ import annotations

import itertools

from sqlalchemy.engine import Engine

from opsapp.db import session_scope
from opsapp.models import Role, Tenant, User
from opsapp.tenancy import create_tenant, create_user, set_membership

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_tenant(engine: Engine, slug: str | None = None, **kwargs) -> Tenant:
    n = next(_seq)
    with session_scope(engine) as session:
        return create_tenant(
            session, slug=slug or f"tenant-{n}", name=kwargs.pop("name", f"Tenant {n}"), **kwargs
        )


def make_user(
    engine: Engine,
    *,
    tenant: Tenant | None = None,
    role: Role | str = Role.operator,
    email: str | None = None,
) -> User:
    n = next(_seq)
    with session_scope(engine) as session:
        user = create_user(session, email=email or f"user{n}@example.test", password=PASSWORD)
        if tenant is not None:
            set_membership(session, tenant=session.get(Tenant, tenant.id), user=user, role=role)
        return user

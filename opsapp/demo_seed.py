"""Demo data for the embedded default: the demo Graph's tenants, a few users per role and a
month of completed runs (opsapp.demo_history) so Monitoring is not empty on a fresh demo.

Idempotent: running it again creates what is missing and changes nothing else. The passwords
are fixed demo values (printed by `opsapp demo seed`) — for a local demo only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from opsapp.db import session_scope
from opsapp.demo_history import seed_demo_history
from opsapp.graph.demo.tenants import DEMO_TENANTS
from opsapp.models import ProviderKind, Role, Tenant
from opsapp.settings import get_settings
from opsapp.tenancy import (
    TenancyError,
    create_tenant,
    create_user,
    get_tenant_by_slug,
    get_user_by_email,
    set_membership,
)

# (email, display name, password, {tenant slug: role})
DEMO_USERS: tuple[tuple[str, str, str, dict[str, Role]], ...] = (
    (
        "owner@opsapp.demo",
        "Olivia Owner",
        "demo-owner-pass",
        {"contoso": Role.owner, "fabrikam": Role.owner, "woodgrove": Role.owner},
    ),
    ("manager@opsapp.demo", "Mark Manager", "demo-manager-pass", {"contoso": Role.manager}),
    ("operator@opsapp.demo", "Oscar Operator", "demo-operator-pass", {"contoso": Role.operator}),
    ("reader@opsapp.demo", "Rita Reader", "demo-reader-pass", {"contoso": Role.readonly}),
    ("fabrikam@opsapp.demo", "Frank Fabrikam", "demo-fabrikam-pass", {"fabrikam": Role.owner}),
)


class DemoSeedRefused(TenancyError):
    """Demo users have published passwords: they never go into a live or real database."""


def _refuse_unless_demo_database(session) -> None:
    if get_settings().graph_mode != "demo":
        raise DemoSeedRefused(
            "demo data is only seeded in demo mode (OPSAPP_GRAPH_MODE=demo); nothing was created"
        )
    real = session.exec(
        select(Tenant.slug).where(Tenant.provider != ProviderKind.demo.value).limit(1)
    ).first()
    if real is not None:
        raise DemoSeedRefused(
            "this database has real tenants: demo users with published passwords are never "
            "added to it; nothing was created"
        )


def seed_demo(engine: Engine | None = None) -> dict[str, Any]:
    """Create the demo tenants and users, then their run history; return what exists (passwords
    included for the demo) and, under "history", what seed_demo_history did. Refused
    (DemoSeedRefused, nothing created) outside demo mode or into a database with a real tenant:
    once sign-in exists, a known password there would be a back door."""
    tenants, users = [], []
    with session_scope(engine) as session:
        _refuse_unless_demo_database(session)
        by_slug = {}
        for demo in DEMO_TENANTS:
            tenant = get_tenant_by_slug(session, demo.slug)
            created = tenant is None
            if created:
                tenant = create_tenant(
                    session,
                    slug=demo.slug,
                    name=demo.name,
                    entra_tenant_id=demo.entra_tenant_id,
                    provider=ProviderKind.demo,
                    client_id=demo.client_id,
                    client_secret=demo.client_secret,
                )
            by_slug[demo.slug] = tenant
            tenants.append(
                {"id": tenant.id, "slug": tenant.slug, "name": tenant.name, "created": created}
            )
        for email, name, password, roles in DEMO_USERS:
            user = get_user_by_email(session, email)
            created = user is None
            if created:
                user = create_user(session, email=email, password=password, display_name=name)
                for slug, role in roles.items():
                    set_membership(session, tenant=by_slug[slug], user=user, role=role)
            for slug, role in roles.items():
                users.append(
                    {
                        "id": user.id,
                        "email": email,
                        "display_name": user.display_name,
                        "password": password,
                        "tenant": slug,
                        "role": role.value,
                        "created": created,
                    }
                )
    history = seed_demo_history(engine)
    return {"tenants": tenants, "users": users, "history": history}

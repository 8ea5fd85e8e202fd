"""Tenant, user and membership commands (CLI, demo seed, tests)."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from opsapp.models import Membership, ProviderKind, Role, Tenant, User
from opsapp.operations.access import NotFound, role_in_tenant
from opsapp.security import encrypt_secret, hash_password

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_LABELS: dict[Role, str] = {
    Role.owner: "Owner",
    Role.manager: "Manager",
    Role.operator: "Operator",
    Role.readonly: "Read-only",
}


class TenancyError(ValueError):
    """Bad input for a tenancy command; the message says what to fix."""


def get_tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.exec(select(Tenant).where(Tenant.slug == slug)).first()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_tenant(
    session: Session,
    *,
    slug: str,
    name: str,
    entra_tenant_id: str = "",
    provider: ProviderKind = ProviderKind.demo,
    client_id: str = "",
    client_secret: str | None = None,
) -> Tenant:
    """Create a tenant; the client secret is encrypted before it touches the database."""
    if not SLUG_RE.match(slug):
        raise TenancyError("slug must be 2-63 characters: lowercase letters, digits and '-'")
    if not name.strip():
        raise TenancyError("name must not be empty")
    if get_tenant_by_slug(session, slug):
        raise TenancyError(f"a tenant with slug '{slug}' already exists")
    tenant = Tenant(
        slug=slug,
        name=name.strip(),
        entra_tenant_id=entra_tenant_id,
        provider=ProviderKind(provider).value,
        client_id=client_id,
        client_secret_encrypted=encrypt_secret(client_secret) if client_secret else None,
    )
    session.add(tenant)
    session.flush()
    return tenant


def create_user(session: Session, *, email: str, password: str, display_name: str = "") -> User:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise TenancyError(f"'{email}' is not a valid e-mail address")
    if get_user_by_email(session, email):
        raise TenancyError(f"a user with e-mail '{email}' already exists")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise TenancyError(str(exc)) from None
    user = User(
        email=email,
        display_name=display_name.strip() or email.split("@")[0],
        password_hash=password_hash,
    )
    session.add(user)
    session.flush()
    return user


def set_membership(session: Session, *, tenant: Tenant, user: User, role: Role | str) -> Membership:
    """Give `user` the `role` in `tenant` (replacing any role they had there)."""
    try:
        role = Role(role)
    except ValueError:
        raise TenancyError(f"role must be one of: {', '.join(r.value for r in Role)}") from None
    membership = session.exec(
        select(Membership).where(Membership.tenant_id == tenant.id, Membership.user_id == user.id)
    ).first()
    if membership is None:
        membership = Membership(tenant_id=tenant.id, user_id=user.id, role=role.value)
        session.add(membership)
    else:
        membership.role = role.value
    session.flush()
    return membership


def user_tenants(session: Session, *, user_id: int) -> list[dict]:
    """The tenants `user_id` is a member of, sorted by name:
    [{"id", "slug", "name", "role", "role_label"}]."""
    rows = session.exec(
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Tenant.name, Tenant.id)
    ).all()
    return [
        {
            "id": tenant.id,
            "slug": tenant.slug,
            "name": tenant.name,
            "role": Role(role).value,
            "role_label": ROLE_LABELS[Role(role)],
        }
        for tenant, role in rows
    ]


def tenant_for_member(session: Session, *, user_id: int | None, slug: str) -> tuple[Tenant, Role]:
    """The tenant with `slug` and the user's role in it. An unknown slug and a tenant the user is
    not a member of raise the same NotFound, so a stranger cannot learn which tenants exist."""
    tenant = get_tenant_by_slug(session, slug) if slug else None
    role = role_in_tenant(session, user_id=user_id, tenant_id=tenant.id) if tenant else None
    if tenant is None or role is None:
        raise NotFound()
    return tenant, role

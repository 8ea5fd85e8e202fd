"""The tenants a signed-in user may open, and the per-tenant membership check the UI routes use."""

from __future__ import annotations

import pytest

from opsapp.db import session_scope
from opsapp.models import Role, Tenant, User
from opsapp.operations.access import NotFound
from opsapp.tenancy import set_membership, tenant_for_member, user_tenants
from tests.factories import make_tenant, make_user


def test_user_tenants_lists_only_the_users_tenants_by_name_with_their_roles(engine):
    zulu = make_tenant(engine, "zulu", name="Zulu Corp")
    alpha = make_tenant(engine, "alpha", name="Alpha Ltd")
    make_tenant(engine, "other", name="Beta (not a member)")
    user = make_user(engine, tenant=zulu, role=Role.owner)
    with session_scope(engine) as session:
        set_membership(
            session,
            tenant=session.get(Tenant, alpha.id),
            user=session.get(User, user.id),
            role=Role.readonly,
        )
    make_user(engine, tenant=alpha, role=Role.manager)  # someone else's membership

    with session_scope(engine) as session:
        tenants = user_tenants(session, user_id=user.id)

    assert [(t["id"], t["slug"], t["name"], t["role"], t["role_label"]) for t in tenants] == [
        (alpha.id, "alpha", "Alpha Ltd", "readonly", "Read-only"),
        (zulu.id, "zulu", "Zulu Corp", "owner", "Owner"),
    ]
    assert set(tenants[0]) == {"id", "slug", "name", "role", "role_label"}


def test_a_user_without_memberships_has_no_tenants(engine):
    make_tenant(engine)
    user = make_user(engine)
    with session_scope(engine) as session:
        assert user_tenants(session, user_id=user.id) == []


def test_tenant_for_member_returns_the_tenant_and_the_members_role(engine):
    tenant = make_tenant(engine, "acme")
    user = make_user(engine, tenant=tenant, role=Role.operator)
    with session_scope(engine) as session:
        found, role = tenant_for_member(session, user_id=user.id, slug="acme")
    assert (found.id, found.slug, role) == (tenant.id, "acme", Role.operator)


@pytest.mark.parametrize("slug", ["acme", "no-such-tenant", ""])
def test_tenant_for_member_raises_the_same_not_found_for_strangers_and_unknown_slugs(engine, slug):
    tenant = make_tenant(engine, "acme")
    make_user(engine, tenant=tenant, role=Role.owner)
    stranger = make_user(engine)
    for user_id in (stranger.id, None):
        with session_scope(engine) as session, pytest.raises(NotFound) as info:
            tenant_for_member(session, user_id=user_id, slug=slug)
        assert str(info.value) == "Not found" and info.value.http_status == 404

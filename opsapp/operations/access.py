"""Tenant-scoped authorization: non-members get NotFound (404), members lacking a capability get
Forbidden (403). The server decides; the UI only hides controls."""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session, select

from opsapp.models import Membership, OperationRun, Role


class Capability(StrEnum):
    view_runs = "view_runs"
    start_operations = "start_operations"  # syncs, drift, backup set changes, run now / retry
    execute_restore = "execute_restore"
    manage_schedules = "manage_schedules"


ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.owner: frozenset(Capability),
    Role.manager: frozenset(Capability),
    Role.operator: frozenset({Capability.view_runs, Capability.start_operations}),
    Role.readonly: frozenset({Capability.view_runs}),
}


class AccessDenied(Exception):
    http_status = 403


class NotFound(AccessDenied):
    """Deny as not found: the caller must not learn the tenant or run exists."""

    http_status = 404
    GENERIC = "Not found"

    def __init__(self, message: str = GENERIC) -> None:
        super().__init__(message)

    @property
    def specific(self) -> str:
        """What was not found ("Backup set not found"), or "" for the generic denial."""
        return "" if str(self) == self.GENERIC else str(self)


class Forbidden(AccessDenied):
    http_status = 403

    def __init__(self, message: str = "You do not have permission to do that") -> None:
        super().__init__(message)


def role_in_tenant(session: Session, *, user_id: int | None, tenant_id: int) -> Role | None:
    if user_id is None:
        return None
    role = session.exec(
        select(Membership.role).where(
            Membership.tenant_id == tenant_id, Membership.user_id == user_id
        )
    ).first()
    return Role(role) if role else None


def can(role: Role | None, capability: Capability) -> bool:
    return role is not None and capability in ROLE_CAPABILITIES[role]


def authorize(
    session: Session, *, user_id: int | None, tenant_id: int, capability: Capability
) -> Role:
    """Return the user's role in the tenant, or raise NotFound / Forbidden."""
    role = role_in_tenant(session, user_id=user_id, tenant_id=tenant_id)
    if role is None:
        raise NotFound()
    if not can(role, capability):
        raise Forbidden()
    return role


def get_run_for_user(
    session: Session, *, user_id: int | None, run_id: int, tenant_id: int | None = None
) -> OperationRun:
    """Load a run the user may view. Unknown run, other tenant and non-member all look alike."""
    run = session.get(OperationRun, run_id)
    if run is None or (tenant_id is not None and run.tenant_id != tenant_id):
        raise NotFound()
    authorize(session, user_id=user_id, tenant_id=run.tenant_id, capability=Capability.view_runs)
    return run

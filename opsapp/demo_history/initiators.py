"""Who started each run: the scheduler for its own runs, otherwise a tenant member whose role may
start that type — weighted the way day-to-day work is shared out."""

from __future__ import annotations

import random
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsapp.models import Membership, Role, User
from opsapp.operations.access import can
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.service import SYSTEM_INITIATOR

from .model import PlannedRun

# Operators do most of the day-to-day clicking, owners the least.
_ROLE_WEIGHTS = {Role.operator: 3, Role.manager: 2}
_OTHER_ROLE_WEIGHT = 1.5


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    role: Role


def load_members(conn: Connection, tenant_ids: list[int]) -> dict[int, list[Member]]:
    """Members of each tenant, in user id order (the order the weighted draw relies on)."""
    rows = conn.execute(
        sa.select(Membership.tenant_id, Membership.user_id, Membership.role, User.display_name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id.in_(tenant_ids))
        .order_by(Membership.tenant_id, Membership.user_id)
    ).all()
    result: dict[int, list[Member]] = {}
    for row in rows:
        result.setdefault(row.tenant_id, []).append(
            Member(row.user_id, row.display_name, Role(row.role))
        )
    return result


def assign_initiator(rng: random.Random, run: PlannedRun, members: list[Member]) -> None:
    """Set the run's user and initiator name."""
    op = OPERATION_TYPES[run.type]
    if run.type == "backup_schedule.scheduled":
        run.user_id, run.initiator_name = None, SYSTEM_INITIATOR
        return
    allowed = [m for m in members if can(m.role, op.capability) and m.role != Role.readonly]
    if not allowed:  # nobody may start it here: the scheduler's runs are all we can show
        run.user_id, run.initiator_name = None, SYSTEM_INITIATOR
        return
    weights = [_ROLE_WEIGHTS.get(m.role, _OTHER_ROLE_WEIGHT) for m in allowed]
    member = rng.choices(allowed, weights=weights)[0]
    run.user_id, run.initiator_name = member.user_id, member.name

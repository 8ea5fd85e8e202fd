"""Small readers shared by the worker unit tests."""

from __future__ import annotations

UNIT_TYPE = "test.worker_unit"
UNIT_TYPE_2 = "test.worker_unit_two"
SUMMARY_KEYS = ("total", "processed", "created", "failed")


def load_run(engine, run_id: int):
    from opsapp.db import session_scope
    from opsapp.models import OperationRun

    with session_scope(engine) as session:
        return session.get(OperationRun, run_id)


def notifications_of(engine, user_id: int):
    from sqlmodel import select

    from opsapp.db import session_scope
    from opsapp.models import Notification

    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Notification)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id)
            ).all()
        )

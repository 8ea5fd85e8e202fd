"""run outbox: operation_runs.next_send_at and its partial index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:20:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import opsapp.models.types  # noqa: F401  (custom column types)

revision: str = "0008"
down_revision: Union[str, None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_OUTBOX = sa.text("next_send_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("operation_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_send_at", opsapp.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_operation_runs_next_send",
            ["next_send_at"],
            unique=False,
            postgresql_where=_OUTBOX,
            sqlite_where=_OUTBOX,
        )
    # Runs queued before the outbox existed: due at once (a held restore run only once it was
    # dispatched), so a message Redis lost meanwhile is sent again by the first worker's relay.
    op.execute(
        "UPDATE operation_runs SET next_send_at = updated_at WHERE status = 'queued' "
        "AND (type <> 'restore.execute' OR dispatched_at IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("operation_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_operation_runs_next_send", postgresql_where=_OUTBOX, sqlite_where=_OUTBOX
        )
        batch_op.drop_column("next_send_at")

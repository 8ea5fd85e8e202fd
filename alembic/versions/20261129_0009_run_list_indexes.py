"""run list indexes: operation_runs by initiator and by outcome, newest first

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 20:00:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0009"
down_revision: Union[str, None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("operation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_operation_runs_tenant_initiator_created",
            ["tenant_id", "initiator_name", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_operation_runs_tenant_outcome_created",
            ["tenant_id", "outcome", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("operation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_operation_runs_tenant_outcome_created")
        batch_op.drop_index("ix_operation_runs_tenant_initiator_created")

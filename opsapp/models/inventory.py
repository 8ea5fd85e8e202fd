"""The last observed catalog of a tenant's Intune objects (inventory.sync writes it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsapp.models.types import UTCDateTime, utcnow


class InventoryItem(SQLModel, table=True):
    __tablename__ = "inventory_items"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "policy_type", "graph_id", name="uq_inventory_items_object"
        ),
        sa.Index("ix_inventory_items_tenant_type", "tenant_id", "policy_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    policy_type: str = Field(max_length=64)
    graph_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=400)
    last_modified: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_hash: str = Field(max_length=64)
    observed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set when a sync no longer saw the object in the tenant; cleared if it comes back.
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

"""Named leases in the database: mutual exclusion across processes without Redis.

Used so two prune invocations (or two schedulers) never run the same job at the same time.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from opsapp.models.types import UTCDateTime


class JobLock(SQLModel, table=True):
    __tablename__ = "job_locks"

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=100)
    expires_at: datetime = Field(sa_type=UTCDateTime)

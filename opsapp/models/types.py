"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL, JSON text on SQLite. Assign new objects: in-place mutation is not tracked.
PortableJSON = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on both dialects (SQLite drops tzinfo on its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return as_utc(value)

    def result_processor(self, dialect, coltype):
        """`as_utc` itself where the driver reads datetimes on its own (psycopg): one call per
        value instead of TypeDecorator's wrapper around process_result_value. SQLite's
        text-to-datetime step stays in front of it (TypeDecorator's own composition)."""
        if self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype) is None:
            return as_utc
        return super().result_processor(dialect, coltype)


def as_utc(value: datetime | None) -> datetime | None:
    """`value` with tzinfo `datetime.UTC`: an aware value converted, a naive one (SQLite keeps
    no zone) taken as UTC. Already UTC (psycopg in a UTC session): returned as it is."""
    if value is None or value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """A datetime as ISO text for JSON (read models, UI state), None kept as None."""
    return value.isoformat() if value else None

"""opsapp's PostgreSQL sessions run in UTC whatever the server's or the URL's time zone, keep
the other options a URL carries, and read timestamptz values as `datetime.UTC` datetimes; a
value read in another zone still comes out as UTC (UTCDateTime's conversion)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from opsapp.db import get_engine
from opsapp.models.types import UTCDateTime, as_utc


def test_sessions_are_utc_and_keep_the_urls_own_options(pg_url):
    url = sa.make_url(pg_url).update_query_dict(
        {"options": "-c statement_timeout=4321 -c TimeZone=Asia/Tokyo"}
    )
    engine = get_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar_one() == "UTC"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "4321ms"
            value = conn.exec_driver_sql("SELECT '2026-03-10 12:00+09'::timestamptz").scalar_one()
    finally:
        engine.dispose()
    assert value == datetime(2026, 3, 10, 3, 0, tzinfo=UTC) and value.tzinfo is UTC


def test_a_utc_datetime_column_reads_utc_in_a_session_of_another_zone(pg_url):
    """A connection opsapp did not set up (another zone): the column type still converts."""
    engine = sa.create_engine(pg_url, connect_args={"options": "-c TimeZone=America/Lima"})
    column = sa.literal_column("'2026-03-10 12:00+00'::timestamptz", type_=UTCDateTime)
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.select(column)).scalar_one()
    finally:
        engine.dispose()
    assert value == datetime(2026, 3, 10, 12, 0, tzinfo=UTC) and value.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (datetime(2026, 1, 2, 3, 4), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),  # SQLite: naive
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        (
            datetime(2026, 1, 2, 12, 4, tzinfo=ZoneInfo("Asia/Tokyo")),
            datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        ),
    ],
    ids=["none", "naive", "utc", "tokyo"],
)
def test_as_utc(value, expected):
    got = as_utc(value)
    assert got == expected and (got is None or got.tzinfo is UTC)

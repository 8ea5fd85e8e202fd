"""Paging for the list pages, plus the search and ordering clauses those lists share.

Page numbers come from URLs, so `clamp_page` turns anything into a usable page instead of
raising. `paginate` always reads one row more than it shows: that settles `has_next` without a
COUNT(*), which big tables (operation runs) skip; small tables may still ask for the total.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# The CLI reads the page limits below while it builds its parser, before it knows whether the
# command is valid: SQLAlchemy and SQLModel are imported where they are used, so a usage error
# answers in a fraction of the time.
if TYPE_CHECKING:
    from sqlmodel import Session

MAX_PAGE_SIZE = 200
# Keeps OFFSET far below the 64-bit limit both databases have, whatever a URL says.
MAX_PAGE = 1_000_000
MAX_SEARCH_CHARS = 200


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    page: int  # 1-based
    page_size: int
    total: int | None  # None when not counted (big tables)
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def first_index(self) -> int:
        """1-based position of the first row shown ("Showing 26–50"); 0 on an empty page."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1 if self.rows else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": list(self.rows),
            "page": self.page,
            "page_size": self.page_size,
            "total": self.total,
            "has_next": self.has_next,
            "has_prev": self.has_prev,
            "first_index": self.first_index,
            "last_index": self.last_index,
        }


class InvalidPage(ValueError):
    """`paginate` got a page or page size it cannot serve; the message says which."""


def _positive_int(value: int | str | None) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    return value if isinstance(value, int) and value >= 1 else None


def clamp_page(
    page: int | str | None,
    page_size: int | str | None,
    *,
    default_size: int = 25,
    max_size: int = MAX_PAGE_SIZE,
) -> tuple[int, int]:
    """URL values → (page, page_size). Garbage, zero or negative → page 1 / `default_size`;
    too large → the maximum. Never raises: a hand-edited URL still shows a page."""
    size = _positive_int(page_size) or default_size
    return min(_positive_int(page) or 1, MAX_PAGE), min(size, max_size)


def check_page(page: int, page_size: int) -> None:
    """Refuse a page or page size paginate cannot serve (also for pages read another way)."""
    if not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise InvalidPage(f"page must be a whole number from 1 to {MAX_PAGE}, got {page!r}")
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidPage(
            f"page size must be a whole number from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
        )


def paginate(
    session: Session,
    query: Any,
    *,
    page: int,
    page_size: int,
    count: bool = True,
    row: Callable[[Any], dict] = lambda r: r,
) -> Page:
    """One page of an ordered `query`; `row` turns each result into a plain dict.

    The query must already be ordered by a unique key, or rows could repeat across pages."""
    check_page(page, page_size)
    fetched = list(session.exec(query.limit(page_size + 1).offset((page - 1) * page_size)))
    total = None
    if count:
        import sqlalchemy as sa

        counted = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
        total = session.execute(counted).scalar_one()
    return Page(
        rows=[row(r) for r in fetched[:page_size]],
        page=page,
        page_size=page_size,
        total=total,
        has_next=len(fetched) > page_size,
    )


def contains_text(column: Any, text: str | None) -> Any | None:
    """Case-insensitive "contains" on both dialects, with % and _ matched literally.

    None when there is nothing to search for. SQLite folds ASCII case only."""
    text = (text or "").strip()[:MAX_SEARCH_CHARS]
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def ordered_by(column: Any, tie_breaker: Any, *, descending: bool, text: bool = False) -> list:
    """ORDER BY clauses that read the same on both dialects: NULLs last either way, text
    compared case-insensitively (the dialects' default collations differ), ties broken by
    `tie_breaker` (a unique column) so paging is stable."""
    import sqlalchemy as sa

    key = sa.func.lower(column) if text else column
    direction = sa.desc if descending else sa.asc
    return [column.is_(None), direction(key), direction(tie_breaker)]

"""ListState: the one list behaviour every table page shares — search, one type filter, sort,
paging — held in the URL query (`?q=…&type=…&sort=…&dir=…&page=…`) so a reload or a shared link
shows the same view. A change navigates to the new URL; the page's on_load reads it back and
fetches, so there is one path from URL to rows."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx

from opsapp.paging import Page, clamp_page
from opsapp.ui.routes import with_query

ALL = "all"  # the "no filter" choice (a select item cannot have an empty value)


class ListState(rx.State, mixin=True):
    search: str = ""
    type_filter: str = ALL
    sort: str = ""
    descending: bool = False
    page_number: int = 1
    page_size: int = 25
    rows: list[dict[str, Any]] = []
    total: int = 0
    has_next: bool = False
    has_prev: bool = False
    first_index: int = 0
    last_index: int = 0
    loaded: bool = False

    default_sort: ClassVar[str] = "display_name"
    sort_keys: ClassVar[tuple[str, ...]] = ("display_name",)

    def _read_query(self) -> None:
        params = self.router.url.query_parameters
        self.search = (params.get("q") or "").strip()[:200]
        self.type_filter = params.get("type") or ALL
        sort = params.get("sort") or self.default_sort
        self.sort = sort if sort in self.sort_keys else self.default_sort
        self.descending = params.get("dir") == "desc"
        self.page_number, self.page_size = clamp_page(params.get("page"), params.get("size"))

    def _list_args(self) -> dict[str, Any]:
        """Keyword arguments for the page's read model."""
        return {
            "search": self.search,
            "sort": self.sort,
            "descending": self.descending,
            "page": self.page_number,
            "page_size": self.page_size,
        }

    def _show(self, page: Page) -> None:
        data = page.to_dict()
        self.rows = data["rows"]
        self.total = data["total"] or 0
        self.has_next, self.has_prev = data["has_next"], data["has_prev"]
        self.first_index, self.last_index = data["first_index"], data["last_index"]
        self.loaded = True

    def _url(self, **changes: Any) -> str:
        params: dict[str, Any] = {
            "q": self.search,
            "type": "" if self.type_filter == ALL else self.type_filter,
            "sort": "" if self.sort == self.default_sort else self.sort,
            "dir": "desc" if self.descending else "",
            "page": self.page_number if self.page_number > 1 else "",
        }
        params.update(changes)
        return with_query(self.router.url.path, params)

    @rx.event
    def apply_search(self, form_data: dict[str, Any]):
        return rx.redirect(self._url(q=str(form_data.get("q", "")).strip(), page=""))

    @rx.event
    def set_type_filter(self, value: str):
        return rx.redirect(self._url(type="" if value == ALL else value, page=""))

    @rx.event
    def sort_by(self, key: str):
        if key not in self.sort_keys:
            return None
        descending = not self.descending if key == self.sort else False
        return rx.redirect(
            self._url(
                sort="" if key == self.default_sort else key,
                dir="desc" if descending else "",
                page="",
            )
        )

    @rx.event
    def next_page(self):
        return rx.redirect(self._url(page=self.page_number + 1)) if self.has_next else None

    @rx.event
    def prev_page(self):
        if not self.has_prev:
            return None
        return rx.redirect(self._url(page=self.page_number - 1 if self.page_number > 2 else ""))

    @rx.event
    def clear_filters(self):
        return rx.redirect(self.router.url.path)

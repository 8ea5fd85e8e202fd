"""Paging: URL values never break a page; Page reports its position; bad pages are refused."""

import pytest

from opsapp.paging import MAX_PAGE, MAX_PAGE_SIZE, InvalidPage, Page, clamp_page, paginate


@pytest.mark.parametrize(
    ("page", "size", "expected"),
    [
        (None, None, (1, 25)),
        ("3", "50", (3, 50)),
        (" 2 ", " 10 ", (2, 10)),
        (4, 100, (4, 100)),
        ("abc", "x", (1, 25)),
        ("-2", "-5", (1, 25)),
        (0, 0, (1, 25)),
        ("1.5", "", (1, 25)),
        (True, False, (1, 25)),
        ("7", "5000", (7, 200)),
        ("9" * 30, "25", (MAX_PAGE, 25)),
    ],
)
def test_clamp_page_turns_any_url_value_into_a_usable_page(page, size, expected):
    assert clamp_page(page, size) == expected


def test_clamp_page_honours_its_own_default_and_maximum():
    assert clamp_page("2", None, default_size=10) == (2, 10)
    assert clamp_page("2", "80", max_size=50) == (2, 50)


def test_page_to_dict_reports_its_position():
    page = Page(rows=[{"n": 26}, {"n": 27}], page=2, page_size=25, total=27, has_next=False)
    assert page.to_dict() == {
        "rows": [{"n": 26}, {"n": 27}],
        "page": 2,
        "page_size": 25,
        "total": 27,
        "has_next": False,
        "has_prev": True,
        "first_index": 26,
        "last_index": 27,
    }
    empty = Page(rows=[], page=1, page_size=25, total=None, has_next=False).to_dict()
    assert (empty["has_prev"], empty["first_index"], empty["last_index"]) == (False, 0, 0)


@pytest.mark.parametrize(
    ("page", "size", "words"),
    [(0, 25, "page must"), (1, 0, "page size"), (1, MAX_PAGE_SIZE + 1, "page size")],
)
def test_paginate_refuses_pages_it_cannot_serve_before_touching_the_database(page, size, words):
    with pytest.raises(InvalidPage, match=words):
        paginate(None, None, page=page, page_size=size)

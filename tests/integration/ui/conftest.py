"""State tests: the page states' event handlers called directly, with a real database (both
dialects), a real session token and the embedded worker — what a browser's websocket event would
run, minus the browser. A crafted event is just a handler call with someone's token."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from reflex.istate.data import RouterData
from reflex.state import State

from opsapp.auth import sign_in
from opsapp.models import Role, Tenant, User
from tests.factories import PASSWORD, make_tenant, make_user
from tests.fakes import RecordingDispatcher


@pytest.fixture
def app_db(db_url, engine, monkeypatch) -> Iterator[Any]:
    """Point the app's default engine (what handlers use) at the test database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    from opsapp.settings import get_settings

    get_settings.cache_clear()
    import opsapp.opsapp  # noqa: F401 - registers the pages, so route args become state vars

    yield engine


def token_for(engine, user: User) -> str:
    return sign_in(
        email=user.email, password=PASSWORD, client_key="state-test", engine=engine
    ).token


def make_state(
    cls, *, route: str, path: str, params: dict[str, str] | None = None, token: str = ""
):
    """A fresh state tree as Reflex builds it for one browser tab on `path`."""
    query = dict(params or {})
    router_data = {
        "pathname": route,
        "query": query,
        "asPath": path,
        "headers": {"origin": "http://testserver"},
        "token": "client-token",
        "sid": "sid",
        "ip": "127.0.0.1",
    }
    root = State(_reflex_internal_init=True)
    root.router_data = router_data
    root.router = RouterData.from_router_data(router_data)
    state = root.get_substate(cls.get_full_name().split("."))
    state.session_token = token
    return state


async def run_handler(result) -> list[Any]:
    """Everything a handler returned or yielded, flattened, without the bare state updates."""
    out: list[Any] = []
    if inspect.isasyncgen(result):
        async for item in result:
            out.append(item)
    elif inspect.iscoroutine(result):
        out.append(await result)
    else:
        out.append(result)
    flat: list[Any] = []
    for item in out:
        # Reflex refuses a list holding None ("must only return/yield: None, Events …").
        assert not (isinstance(item, list) and None in item), f"None inside {item!r}"
        flat.extend(item if isinstance(item, list) else [item])
    return [i for i in flat if i is not None]


def describe(events: list[Any]) -> str:
    """The rendered arguments of EventSpecs (toast titles, redirect paths) as one string."""
    parts = []
    for ev in events:
        args = getattr(ev, "args", ())
        name = getattr(getattr(ev, "handler", None), "fn", None)
        parts.append(f"{getattr(name, '__name__', ev)}: " + " ".join(str(v) for _k, v in args))
    return "\n".join(parts)


@pytest.fixture
def contoso(app_db) -> Tenant:
    return make_tenant(app_db, slug="contoso", name="Contoso")


@pytest.fixture
def other_tenant(app_db) -> Tenant:
    return make_tenant(app_db, slug="fabrikam", name="Fabrikam")


@pytest.fixture
def users(app_db, contoso) -> dict[str, User]:
    return {
        role.value: make_user(app_db, tenant=contoso, role=role, email=f"{role.value}@contoso.test")
        for role in Role
    }


@pytest.fixture
def dispatcher(monkeypatch) -> RecordingDispatcher:
    """Starts from the page states go to a recording fake instead of a broker."""
    from opsapp.ui.state import tenant as tenant_state

    fake = RecordingDispatcher()
    monkeypatch.setattr(tenant_state, "get_dispatcher", lambda: fake)
    return fake

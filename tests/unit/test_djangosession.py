"""DjangoSessions and DjangoStore against a real Django (SQLite database, db session engine):
which session a request has, per-key writes into Django sessions, the fallback for visitors
without one, and the login/logout receivers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from htagweb_asgi.integrations.django.sessions import DjangoSessions
from htagweb_asgi.integrations.django.store import DjangoStore, _as_texts
from htagweb_asgi.protocol import control
from htagweb_asgi.sessions.cookie import Signer
from htagweb_asgi.sessions.store import MemoryStore

SECRET = "django-test-secret-key-0123456789abcdef"
KEY = "abcdefghijklmnopqrstuvwxyz012345"  # Django's shape: 32 of [a-z0-9]
T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def django_db(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Django configured once for this process, with its tables in a fresh SQLite file (a
    file, not :memory:, which would be one database per thread)."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    if settings.configured:
        return
    settings.configure(
        SECRET_KEY=SECRET,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(tmp_path_factory.mktemp("django") / "db.sqlite3"),
            }
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # fast, tests only
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()
    call_command("migrate", verbosity=0)


def sessions() -> DjangoSessions:
    return DjangoSessions(store=MemoryStore(), runtime_dir="/nonexistent-htag-runtime")


def scope(**cookies: str) -> dict[str, Any]:
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return {"type": "http", "headers": [(b"cookie", header.encode("utf-8"))]}


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Django's ORM refuses to run in an event loop's thread, as it should."""
    return await anyio.to_thread.run_sync(function, *args)


def django_session(**data: Any) -> str:
    """A session as a Django view would have saved it; its key."""
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store.update(data)
    store.save()
    return str(store.session_key)


def django_data(key: str) -> dict[str, Any]:
    from django.contrib.sessions.backends.db import SessionStore

    return dict(SessionStore(session_key=key).load())


def rows() -> int:
    from django.contrib.sessions.models import Session

    return int(Session.objects.count())


# -- which session a request has ---------------------------------------------------------------
def test_djangos_cookie_names_the_session() -> None:
    assert sessions().session_id(scope(sessionid=KEY)) == "django:" + KEY


def test_djangos_cookie_wins_over_ours() -> None:
    ours = sessions()
    cookie = ours.signer.sign(ours.new_id())
    assert ours.session_id(scope(sessionid=KEY, htagweb_session=cookie)) == "django:" + KEY


@pytest.mark.parametrize(
    "value",
    ["", "short", KEY.upper(), KEY[:-1], KEY + "a", "../../" + KEY[6:], "é" * 32, "a" * 5000],
)
def test_a_django_cookie_of_another_shape_is_ignored_for_ours(value: str) -> None:
    ours = sessions()
    session_id = ours.new_id()
    assert ours.session_id(scope(sessionid=value)) is None
    both = scope(sessionid=value, htagweb_session=ours.signer.sign(session_id))
    assert ours.session_id(both) == session_id


def test_new_sessions_are_ours_signed_with_djangos_secret_key() -> None:
    ours = sessions()
    session_id = ours.new_id()
    assert not session_id.startswith("django:")
    assert ours.signer.sign(session_id) == Signer(SECRET.encode()).sign(session_id)
    given = DjangoSessions(secret_key="another-secret-of-enough-length", store=MemoryStore())
    assert given.signer.sign(session_id) != ours.signer.sign(session_id)


def test_our_cookie_path_is_the_whole_site() -> None:
    """Django's login and logout views must see it, to end its processes."""
    ours = sessions()
    assert b"Path=/;" in ours.set_cookie(ours.new_id(), {"scheme": "http"}, "/ui")


def test_cookie_based_django_sessions_are_refused() -> None:
    from django.test import override_settings

    engine = "django.contrib.sessions.backends.signed_cookies"
    with override_settings(SESSION_ENGINE=engine), pytest.raises(ValueError, match="signed_c"):
        sessions().session_id(scope(sessionid=KEY))


# -- the store ---------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_the_app_sees_the_django_session_as_json_texts() -> None:
    key = await in_thread(lambda: django_session(_auth_user_id="7", user={"username": "alice"}))
    snapshot = await sessions().load("django:" + key)
    assert snapshot == {"_auth_user_id": '"7"', "user": '{"username":"alice"}'}


@pytest.mark.anyio
async def test_a_missing_django_session_is_empty_and_stays_missing() -> None:
    before = await in_thread(rows)
    ours = sessions()
    assert await ours.load("django:" + KEY) == {}
    await ours.save("django:" + KEY, {"from_app": "1"})  # dropped: no session under a made-up key
    assert await in_thread(rows) == before


@pytest.mark.anyio
async def test_writes_are_per_key_and_keep_what_a_view_wrote_meanwhile() -> None:
    key = await in_thread(lambda: django_session(_auth_user_id="7", user={"username": "a"}))
    ours = sessions()
    assert "cart" not in await ours.load("django:" + key)

    def view_writes() -> None:
        from django.contrib.sessions.backends.db import SessionStore

        view = SessionStore(session_key=key)
        view["cart"] = [1, 2]
        view.save()

    await in_thread(view_writes)
    await ours.save("django:" + key, {"from_app": "1", "user": None})
    assert await in_thread(django_data, key) == {
        "_auth_user_id": "7",
        "cart": [1, 2],
        "from_app": 1,
    }


@pytest.mark.anyio
async def test_a_session_that_ends_while_saving_is_not_recreated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the load and the save (a logout): the update fails and nothing is inserted."""
    from django.contrib.sessions.backends.db import SessionStore

    monkeypatch.setattr(SessionStore, "load", lambda self: {"_auth_user_id": "7"})
    before = await in_thread(rows)
    await sessions().save("django:" + KEY, {"from_app": "1"})
    assert await in_thread(rows) == before


@pytest.mark.anyio
async def test_delete_ends_a_django_session() -> None:
    key = await in_thread(lambda: django_session(a=1))
    await in_thread(sessions().store.delete, "django:" + key)
    assert await in_thread(django_data, key) == {}


@pytest.mark.anyio
async def test_our_ids_live_in_the_fallback_store() -> None:
    fallback = MemoryStore()
    ours = DjangoSessions(store=fallback)
    session_id, before = ours.new_id(), await in_thread(rows)
    await ours.save(session_id, {"n": "1"})
    assert await ours.load(session_id) == {"n": "1"} == fallback.load(session_id)
    assert await in_thread(rows) == before
    renamed = ours.new_id()
    ours.store.rename(session_id, renamed)
    assert fallback.load(renamed) == {"n": "1"}


def test_django_keys_are_djangos_to_rename() -> None:
    store = DjangoStore(MemoryStore())
    with pytest.raises(NotImplementedError):
        store.rename("django:" + KEY, "django:" + KEY[::-1])


def test_values_json_cannot_carry_are_not_shown_to_the_app() -> None:
    assert _as_texts({"ok": [1, "a"], "odd": object()}) == {"ok": '[1,"a"]'}


# -- login and logout end the processes of the session that ends --------------------------------
@pytest.fixture
def ended(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(runtime base, session tag) of every session whose processes were asked to end."""
    calls: list[tuple[str, str]] = []

    def end_session(base: str, tag: str) -> int:
        calls.append((base, tag))
        return 1

    monkeypatch.setattr(control, "end_session", end_session)
    return calls


@pytest.fixture
def receivers() -> Iterator[DjangoSessions]:
    ours = sessions()
    ours.connect_auth_signals()
    ours.connect_auth_signals()  # twice: still one receiver each
    yield ours
    ours.disconnect_auth_signals()


def request_with(cookies: dict[str, str], session_key: str | None) -> Any:
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    request = RequestFactory().post("/accounts/login/")
    request.COOKIES.update(cookies)
    request.session = SessionStore(session_key=session_key)
    return request


def test_login_ends_the_processes_of_the_old_django_session_and_of_ours(
    receivers: DjangoSessions, ended: list[tuple[str, str]]
) -> None:
    from django.contrib.auth import login
    from django.contrib.auth.models import User

    user = User.objects.create_user("login-test", password="pw")
    old_key = django_session(cart=[1])
    anonymous = receivers.new_id()
    cookies = {"sessionid": old_key, "htagweb_session": receivers.signer.sign(anonymous)}
    request = request_with(cookies, old_key)
    login(request, user)
    assert request.session.session_key != old_key  # Django cycled the key
    tags = {receivers.tag("django:" + old_key), receivers.tag(anonymous)}
    assert sorted(ended) == sorted(("/nonexistent-htag-runtime", tag) for tag in tags)


def test_logout_ends_the_processes_of_the_session_it_flushes(
    receivers: DjangoSessions, ended: list[tuple[str, str]]
) -> None:
    from django.contrib.auth import logout
    from django.contrib.auth.models import User

    key = django_session(_auth_user_id="1")
    request = request_with({}, key)  # the session's key, whatever the cookies say
    request.user = User(pk=1, username="x")
    logout(request)
    assert ended == [("/nonexistent-htag-runtime", receivers.tag("django:" + key))]
    assert django_data(key) == {}  # and Django flushed it


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Django's async API is asyncio's
async def test_async_logout_ends_the_processes_too(
    receivers: DjangoSessions, ended: list[tuple[str, str]]
) -> None:
    from django.contrib import auth

    alogout = getattr(auth, "alogout", None)
    if alogout is None:
        pytest.skip("Django < 5.0 has no alogout()")
    key = await in_thread(lambda: django_session(_auth_user_id="1"))
    request = await in_thread(request_with, {"sessionid": key}, key)
    await alogout(request)  # sync receivers run in a thread: they may block
    assert ended == [("/nonexistent-htag-runtime", receivers.tag("django:" + key))]


def test_a_forged_cookie_ends_nothing(
    receivers: DjangoSessions, ended: list[tuple[str, str]]
) -> None:
    receivers.end_browser_processes(
        request_with({"sessionid": "../x", "htagweb_session": "a.b"}, None)
    )
    assert ended == []


def test_importing_the_adapter_does_not_import_django() -> None:
    code = (
        "import sys\n"
        "import htagweb_asgi.integrations.django.sessions, htagweb_asgi.integrations.django.store\n"
        "assert 'django' not in sys.modules, 'django imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)

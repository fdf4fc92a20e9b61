"""Test fixtures: a real PostGIS database per run, one rolled-back transaction per test.

The test database is ``<app database>_test`` on the same server (override with
``WUWEI_TEST_DB``); it is recreated and migrated once per run. Each test runs
inside a transaction on one connection that is rolled back afterwards; the
session joins it with savepoints, so services may commit freely.
"""

import os
import re
from contextlib import nullcontext
from urllib.parse import urlsplit

import psycopg2
import pytest
from flask_sqlalchemy.session import Session as FSASession
from psycopg2 import sql
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app import create_app
from app.core.extensions import db
from app.tracking.gateway import autocommit_connections
from app.tracking.gateway import install as install_gateway
from tests import sql_capture

BASE_URL = (
    os.environ.get("DATABASE_URL") or f"postgresql://postgres@127.0.0.1:{os.environ.get('PGPORT', '55432')}/wuwei"
)


def database_url(suffix: str) -> str:
    """URL of a scratch database beside the application's (``wuwei_test``, ``wuwei_e2e`` …)."""
    url = make_url(BASE_URL)
    name = os.environ.get("WUWEI_TEST_DB", f"{url.database}_test")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # pytest -n N: a database per worker
    if worker:
        name = f"{name}_{worker}"
    if suffix != "test":
        name = f"{name}_{suffix}"
    return url.set(database=name).render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    """Drop and create a database with PostGIS."""
    u = make_url(url)
    params = dict(host=u.host, port=u.port, user=u.username, password=u.password)
    conn = psycopg2.connect(dbname="postgres", **params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(u.database)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(u.database)))
    conn.close()
    conn = psycopg2.connect(dbname=u.database, **params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.close()


def make_test_app(url: str, **overrides):
    """An app on ``url`` with test settings."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_ENABLED": False,
        "WUWEI_BASEMAP": "none",
        "SERVER_NAME": None,
    }
    config.update(overrides)
    application = create_app(config)

    @application.before_request
    def _fresh_g():
        # Tests keep one app context open (for db.session), so requests would share ``g``
        # and Flask-Login's cached user; each request starts clean, as in production.
        from flask import g

        for key in list(g.__dict__):
            if not key.startswith("__"):
                g.__dict__.pop(key, None)

    return application


class GatewayConnections:
    """Connections for the tracking gateway in tests: the running test's transaction, so that what a
    test sends to ``/track/osmand`` is rolled back like the rest; autocommitted pooled connections, as
    in production, for tests marked ``no_transaction``."""

    def __init__(self):
        self.bound = None  # set by _transaction for the duration of a test
        self.pooled = None

    def __call__(self):
        if self.bound is not None:
            return nullcontext(self.bound)
        return self.pooled()


@pytest.fixture(scope="session")
def gateway_connections():
    return GatewayConnections()


@pytest.fixture(scope="session")
def app(tmp_path_factory, gateway_connections):
    """The application on a fresh, migrated test database, with the tracking gateway in front as served."""
    import flask_migrate

    url = database_url("test")
    recreate_database(url)
    application = make_test_app(url, MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
    gateway_connections.pooled = autocommit_connections(application)
    install_gateway(application, gateway_connections)
    with application.app_context():
        flask_migrate.upgrade(revision="head")
        # The demo is loaded once and committed; each test's changes are rolled back.
        from app.seed.demo import seed_demo

        seed_demo()
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


class _BoundSession(FSASession):
    """Flask-SQLAlchemy's get_bind ignores ``bind=``; honour it so tests stay in their transaction."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@pytest.fixture(autouse=True)
def _transaction(request, app, gateway_connections):
    """Run each test in a transaction that is rolled back afterwards."""
    if "no_transaction" in request.keywords:
        yield
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": _BoundSession}
        )
        gateway_connections.bound = connection  # /track/osmand answers before Flask: same transaction
        try:
            yield
        finally:
            gateway_connections.bound = None
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def demo(app):
    """The demo data (loaded once per run by the ``app`` fixture); names the dependency in tests."""
    return True


class AuthActions:
    """Log in through the real login form, or get bearer headers for a user."""

    def __init__(self, client, app):
        self._client = client
        self._app = app

    def login(self, username="planner", password=None):
        from app.auth.demo import DEMO_USERS

        if password is None:
            password = next((u["password"] for u in DEMO_USERS if u["username"] == username), "wuwei-grid")
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")

    def token(self, username="planner", device=None) -> dict:
        from app.auth.services import create_token

        with self._app.app_context():
            _, token = create_token(username, device)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(client, app):
    """Login helper."""
    return AuthActions(client, app)


@pytest.fixture
def count_queries(app):
    """Count SQL statements run inside the block: ``with count_queries() as n: ...; n()``."""
    from contextlib import contextmanager

    @contextmanager
    def counter():
        calls = []

        def before(conn, cursor, statement, params, context, executemany):
            calls.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield lambda: len(calls)
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counter


# Flags that keep Debian's Chromium off the network (DESIGN.md, "Traps already known").
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    """Debian's chromium; the browser tests fail (never skip) without it."""
    import shutil

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Debian's 'chromium' is not installed: run scripts/bootstrap.sh "
            "(apt-get install chromium); the browser tests need it and do not skip."
        )
    return executable


# How a new user's browser opens Wuwei: in Chinese, on Shanghai time.
AS_A_USER = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def local_chromium(pw, profile: str, viewport: dict, outside: list[str] | None = None, **options):
    """Debian's Chromium as a new user opens Wuwei (Chinese, Shanghai time, ``viewport``), allowed to reach
    127.0.0.1 only: returns the context and the list of URLs it refused (requests leaving the machine;
    ``outside`` when given, so that several contexts share one). ``options`` go to Playwright's
    ``launch_persistent_context`` (geolocation, permissions …)."""
    ctx = pw.chromium.launch_persistent_context(
        profile,
        executable_path=chromium_executable(),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=viewport,
        **AS_A_USER,
        **options,
    )
    return ctx, _local_only(ctx, outside)


def local_chromium_people(pw):
    """Debian's Chromium for a story with several people: returns ``person(viewport)``, which opens a
    context of its own (its own cookies, as each person has their own phone or desk) on the same terms as
    ``local_chromium``, and ``close()``. One shared cookie jar let a page's late response set its
    person's session cookie under the next person's login (a refused CSRF token, or the wrong user)."""
    browser = pw.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS)

    def person(viewport: dict):
        ctx = browser.new_context(viewport=viewport, **AS_A_USER)
        _local_only(ctx, None)
        return ctx

    return person, browser.close


def _local_only(ctx, outside: list[str] | None) -> list[str]:
    """Let ``ctx`` reach 127.0.0.1 only; the refused URLs are appended to the list returned."""
    outside = [] if outside is None else outside

    def only_local(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    ctx.route("**/*", only_local)
    return outside


def remote_references(html: str) -> list[str]:
    """The ``src``/``href``/``url(...)`` of a page that leave the machine: absolute or protocol-relative URLs
    to another host than the test client's ``localhost`` (a CDN …). Every asset is vendored under
    ``static/``, so a page's list is empty. This asks what the page references rather than whether "cdn"
    occurs in it: a random CSP nonce may spell "cdn"."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)""", html, re.IGNORECASE)
    urls = [a or b for a, b in refs]
    absolute = [u.strip() for u in urls if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", u.strip(), re.IGNORECASE)]
    return [u for u in absolute if urlsplit(u).hostname not in ("localhost", "127.0.0.1")]


def live_demo_server(suffix: str):
    """Serve the app on 127.0.0.1 (free port) from a thread, on a fresh migrated demo database.

    A generator for module fixtures: yields (base URL, database URL), then shuts down.
    """
    import threading

    import flask_migrate
    from werkzeug.serving import make_server

    from app.seed.demo import seed_demo

    url = database_url(suffix)
    recreate_database(url)
    application = make_test_app(url, WUWEI_BASEMAP="none", WTF_CSRF_ENABLED=True, TESTING=False)
    with application.app_context():
        flask_migrate.upgrade(revision="head")
        seed_demo()
        db.session.remove()
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", url
    finally:
        server.shutdown()
        thread.join(10)
        with application.app_context():
            db.engine.dispose()


def pytest_configure(config):
    sql_capture.install()
    config.addinivalue_line("markers", "after_all: runs after every other test (checks what the run did)")
    config.addinivalue_line("markers", "no_transaction: the test manages its own database")
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright")


def pytest_collection_modifyitems(config, items):
    last = [item for item in items if item.get_closest_marker("after_all")]
    items[:] = [item for item in items if not item.get_closest_marker("after_all")] + last

"""Issue 14's protections that every route shares: NUL refused, headers, races as 409, server-side
sessions, login timing, shared rate-limit counters, 503 when the database is unreachable."""

import re

import pytest
from flask import Blueprint
from sqlalchemy import text
from werkzeug import security as wz_security

from app.core.extensions import db
from app.core.ratelimit import PostgresStorage, storage_uri
from tests.conftest import database_url, make_test_app

# --- NUL characters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/incidents/?q=a%00b",
        "/api/v1/incidents?q=a%00b",
        "/layers/chargers?q=%00",
        "/open311/v2/requests.json?service_code=%00",
        "/households/?q=%00",
    ],
)
def test_nul_in_a_query_parameter_is_400_on_pages_api_and_protocols(client, auth, demo, url):
    auth.login("staff")
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code)
    auth.logout()


def test_nul_in_a_form_field_is_400_and_logs_nobody_in(client, demo):
    r = client.post("/login", data={"username": "plan\x00ner", "password": "wuwei-planner"})
    assert r.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


# --- headers ---------------------------------------------------------------------------------------


def test_every_answer_says_nosniff_and_pages_cannot_be_framed(client, auth, demo):
    static = client.get("/static/js/wuwei-map.js")
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in static.headers.get("Cache-Control", "")
    login = client.get("/login")
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]


def test_answers_to_a_logged_in_user_are_not_stored_in_caches(client, auth, demo):
    auth.login("staff")
    for url in ("/households/", "/api/v1/households", "/api/v1/me", "/"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers.get("Cache-Control") == "no-store", url
    auth.logout()


def test_the_remember_me_cookie_is_same_site_and_http_only(client, demo):
    r = client.post("/login", data={"username": "planner", "password": "wuwei-planner", "remember": "y"})
    cookies = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cookies and "SameSite=Lax" in cookies[0] and "HttpOnly" in cookies[0]
    client.post("/logout")


# --- races -----------------------------------------------------------------------------------------


def test_a_unique_violation_that_slips_past_a_service_is_409_not_500(app):
    application = make_test_app(database_url("test"))
    bp = Blueprint("race_probe", __name__)

    @bp.post("/api/v1/_race-probe")
    def probe():
        db.session.execute(
            text(
                "INSERT INTO users (username, password_hash, role, active, display_name) "
                "VALUES ('planner', '!', 'planner', false, 'dup')"
            )
        )
        return "", 204

    application.register_blueprint(bp)
    application.config["WTF_CSRF_ENABLED"] = False
    r = application.test_client().post("/api/v1/_race-probe")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"


# --- sessions and login ----------------------------------------------------------------------------


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_copied_session_cookie_stops_working_at_logout(app, client, demo):
    assert client.post("/login", data={"username": "planner", "password": "wuwei-planner"}).status_code == 302
    copied = _session_cookie(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/api/v1/me").status_code == 200  # the copy works while the session is open
    client.post("/logout")
    assert thief.get("/api/v1/me").status_code == 401
    assert thief.get("/").status_code == 302  # back to the login page


def test_an_unknown_user_costs_the_same_password_hashing_as_a_known_one(client, demo, monkeypatch):
    calls = []
    real = wz_security.check_password_hash

    def counting(pwhash, password):
        calls.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr("app.auth.services.check_password_hash", counting)
    client.post("/login", data={"username": "planner", "password": "wrong-guess"})
    known = list(calls)
    calls.clear()
    client.post("/login", data={"username": "nobody-by-this-name", "password": "wrong-guess"})
    assert len(calls) == len(known) == 1 and calls[0] == known[0]  # one hash, of the same method


def test_rate_limit_counters_are_shared_between_workers(app):
    url = storage_uri(database_url("test"))
    worker_a, worker_b = PostgresStorage(url), PostgresStorage(url)
    key = "test/shared-counter"
    worker_a.clear(key)
    try:
        for _ in range(6):
            worker_a.incr(key, 60)
        assert worker_b.incr(key, 60) == 7  # another process, another pool: the same count
        assert worker_b.get(key) == 7 and worker_a.get_expiry(key) > 0
    finally:
        worker_a.clear(key)
        worker_a.engine.dispose()
        worker_b.engine.dispose()


# --- the database is unreachable -------------------------------------------------------------------


@pytest.fixture
def app_without_database():
    """The app pointed at a port where no PostgreSQL listens."""
    return make_test_app("postgresql://postgres@127.0.0.1:9/wuwei_nowhere", WTF_CSRF_ENABLED=False)


@pytest.mark.no_transaction
@pytest.mark.parametrize(
    "method, url",
    [
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/chargers"),
        ("GET", "/api/v1/households"),
        ("POST", "/api/v1/incidents"),
        ("GET", "/tiles/buildings/15/26400/12600.mvt"),
        ("GET", "/healthz"),
        ("POST", "/track/owntracks"),
    ],
)
def test_an_unreachable_database_is_503_with_the_error_envelope(app_without_database, method, url):
    c = app_without_database.test_client()
    credentials = "Basic cGF0cm9sOnRva2Vu" if "owntracks" in url else "Bearer not-checked-before-the-database"
    r = c.open(
        url,
        method=method,
        headers={"Authorization": credentials},
        json={"_type": "location", "lat": 36.05, "lon": 103.84, "tst": 1764640000} if method == "POST" else None,
    )
    assert r.status_code == 503, (url, r.status_code, r.get_data(as_text=True)[:200])
    body = r.get_json()
    assert body and ("error" in body or body.get("database") == "down"), body


@pytest.mark.no_transaction
def test_an_unreachable_database_is_503_on_pages_and_open311_in_their_own_shapes(app_without_database):
    c = app_without_database.test_client()
    with c.session_transaction() as session:  # a logged-in browser: its user must be loaded
        session["_user_id"] = "1:some-session"
        session["_fresh"] = True
    page = c.get("/incidents/", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "text/html" in page.content_type
    assert page.headers.get("Retry-After")
    o311 = c.get("/open311/v2/services.json")
    assert o311.status_code == 503 and isinstance(o311.get_json(), list) and o311.get_json()[0]["code"] == 503
    login = c.post("/login", data={"username": "planner", "password": "wuwei-planner"})
    assert login.status_code == 503
    assert re.search("unavailable|不可用|暂时", login.get_data(as_text=True))


def test_a_method_not_allowed_says_which_are(client, auth, demo):
    r = client.delete("/api/v1/me", headers=auth.token("admin"))
    assert (
        r.status_code == 405 and "GET" in r.headers["Allow"] and r.get_json()["error"]["code"] == "method_not_allowed"
    )


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/bad-parking-spots",
        "/api/v1/patrols/coverage",
        "/patrols/coverage",
        "/api/v1/patrols",
        "/api/v1/patrols/live",
    ],
)
def test_an_admin_without_an_area_reads_patrol_figures(client, auth, demo, url):
    """An admin has no area (sees everything): these answered 500 ("a string literal cannot contain NUL")."""
    assert client.get(url, headers=auth.token("admin")).status_code == 200


def test_a_multipart_part_without_a_name_is_no_server_error(client, auth, demo):
    body = (
        b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.geojson"\r\n\r\n{}\r\n--b--\r\n'
    )
    r = client.post(
        "/api/v1/chargers/import",
        data=body,
        content_type="multipart/form-data; boundary=b",
        headers=auth.token("admin"),
    )
    assert r.status_code < 500, r.get_data(as_text=True)

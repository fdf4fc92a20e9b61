"""Security promises: rate-limited login, CSRF, audit of every write, hashed secrets, no 500s on odd input."""

import json
import os
import re
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from werkzeug.security import check_password_hash

from app.audit.models import AuditEntry
from app.auth.demo import DEMO_USERS
from app.auth.models import User
from app.core.config import Config
from app.core.extensions import db, limiter
from tests.conftest import database_url, make_test_app

CHARGER = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
    "properties": {"ports": 4, "status": "planned", "name": "CSRF 测试桩"},
}


def charger_count() -> int:
    return db.session.scalar(select(func.count()).select_from(db.metadata.tables["chargers"]))


def csrf_token_in(html: str) -> str:
    m = (
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        or re.search(r'name="csrf-token" content="([^"]+)"', html)
        or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    )
    assert m, "no CSRF token in the page"
    return m.group(1)


# --- rate limit --------------------------------------------------------------------------------------


@pytest.fixture
def limited_app(app):
    """An app with rate limits on (the limiter is process-wide: switch it back off afterwards)."""
    application = make_test_app(database_url("test"), RATELIMIT_ENABLED=True)
    limiter.reset()
    yield application
    limiter.reset()
    limiter.enabled = False


def test_eleventh_bad_login_in_a_minute_is_429(limited_app, demo):
    c = limited_app.test_client()
    for _ in range(10):
        assert c.post("/login", data={"username": "planner", "password": "wrong-guess"}).status_code == 401
    assert c.post("/login", data={"username": "planner", "password": "wrong-guess"}).status_code == 429
    # Even the right password waits: the limit is on attempts, not failures.
    assert c.post("/login", data={"username": "planner", "password": "wuwei-planner"}).status_code == 429
    # Another address is not affected.
    other = limited_app.test_client()
    r = other.post(
        "/login", data={"username": "planner", "password": "wuwei-planner"}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert r.status_code == 302


# --- CSRF --------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(app):
    return make_test_app(database_url("test"), WTF_CSRF_ENABLED=True).test_client()


def test_login_form_without_csrf_token_is_refused(csrf_client, demo):
    r = csrf_client.post("/login", data={"username": "planner", "password": "wuwei-planner"})
    assert r.status_code == 400
    assert csrf_client.get("/api/v1/me").status_code == 401


def test_login_form_with_csrf_token_logs_in(csrf_client, demo):
    token = csrf_token_in(csrf_client.get("/login").get_data(as_text=True))
    r = csrf_client.post("/login", data={"username": "planner", "password": "wuwei-planner", "csrf_token": token})
    assert r.status_code == 302
    assert csrf_client.get("/api/v1/me").get_json()["username"] == "planner"


def test_cookie_session_api_write_needs_the_csrf_header(csrf_client, demo):
    token = csrf_token_in(csrf_client.get("/login").get_data(as_text=True))
    csrf_client.post("/login", data={"username": "planner", "password": "wuwei-planner", "csrf_token": token})
    before = charger_count()
    r = csrf_client.post("/api/v1/chargers", data=json.dumps(CHARGER), content_type="application/json")
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"]
    assert charger_count() == before
    page_token = csrf_token_in(csrf_client.get("/").get_data(as_text=True))
    r = csrf_client.post(
        "/api/v1/chargers",
        data=json.dumps(CHARGER),
        content_type="application/json",
        headers={"X-CSRFToken": page_token},
    )
    assert r.status_code == 201
    assert charger_count() == before + 1


def test_bearer_token_writes_need_no_csrf(csrf_client, auth, demo):
    headers = auth.token("planner")
    r = csrf_client.post("/api/v1/chargers", data=json.dumps(CHARGER), content_type="application/json", headers=headers)
    assert r.status_code == 201


# --- audit -------------------------------------------------------------------------------------------


def test_insert_update_delete_through_the_api_are_audited_with_before_and_after(client, auth, demo):
    auth.login("planner")
    planner_id = db.session.scalar(select(User.id).where(User.username == "planner"))
    body = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [103.8950, 36.0730],
                    [103.8956, 36.0730],
                    [103.8956, 36.0733],
                    [103.8950, 36.0733],
                    [103.8950, 36.0730],
                ]
            ],
        },
        "properties": {"name": "审计停放区", "capacity": 12, "kind": "mixed", "status": "planned"},
    }
    fid = client.post("/api/v1/bike-zones", data=json.dumps(body), content_type="application/json").get_json()["id"]
    client.patch(
        f"/api/v1/bike-zones/{fid}", data=json.dumps({"properties": {"capacity": 30}}), content_type="application/json"
    )
    assert client.delete(f"/api/v1/bike-zones/{fid}").status_code == 204
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.table_name == "bike_zones", AuditEntry.row_id == str(fid))
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["insert", "update", "delete"]
    ins, upd, dele = entries
    assert ins.before is None and ins.after["properties"]["capacity"] == 12
    assert ins.after["geometry"]["type"] == "MultiPolygon"
    assert upd.before["properties"]["capacity"] == 12 and upd.after["properties"]["capacity"] == 30
    assert dele.before["properties"]["capacity"] == 30 and dele.after is None
    assert {e.user_id for e in entries} == {planner_id}
    assert all(e.at is not None and e.remote_addr == "127.0.0.1" for e in entries)


def test_a_refused_write_leaves_no_audit_entry(client, auth, demo):
    auth.login("planner")
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    bad = dict(CHARGER, properties={"ports": 0, "status": "planned"})
    assert client.post("/api/v1/chargers", data=json.dumps(bad), content_type="application/json").status_code == 422
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before


# --- secrets -----------------------------------------------------------------------------------------


def test_passwords_are_stored_hashed(app, demo):
    for demo_user in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == demo_user["username"]))
        assert demo_user["password"] not in user.password_hash
        assert check_password_hash(user.password_hash, demo_user["password"])
        assert not check_password_hash(user.password_hash, demo_user["password"] + "x")
    assert Config().PASSWORD_HASH_METHOD == "scrypt"
    # The audit log of user creation keeps no password hash either.
    leaked = db.session.execute(text("SELECT count(*) FROM audit_log WHERE after ? 'password_hash'")).scalar()
    assert leaked == 0


def test_secret_key_is_generated_once_into_var_when_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("WUWEI_VAR", str(tmp_path / "var"))
    first = Config().SECRET_KEY
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert Config().SECRET_KEY == first  # the same key on the next start
    monkeypatch.setenv("WUWEI_VAR", str(tmp_path / "other"))
    assert Config().SECRET_KEY != first  # another installation gets its own


def test_secret_key_from_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("WUWEI_VAR", str(tmp_path))
    assert Config().SECRET_KEY == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_session_cookie_is_httponly_and_samesite(client, auth, demo):
    r = auth.login("planner")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- odd input never gives a 500 ---------------------------------------------------------------------

ODD_REQUESTS = [
    ("GET", "/api/v1/chargers?q=%00", None, 400),
    ("GET", "/api/v1/chargers?compound_id=99999999999", None, 400),
    ("GET", "/api/v1/chargers?bbox=nan,nan,nan,nan", None, 400),
    ("GET", "/api/v1/chargers?bbox=1e999,0,0,0", None, 400),
    ("GET", "/api/v1/chargers/99999999999999999999", None, 404),
    ("GET", "/api/v1/chargers?limit=99999999999999999999999", None, 400),
    ("GET", "/api/v1/chargers?sort=-", None, 400),
    ("POST", "/api/v1/chargers", "[" * 50000, 400),
    ("POST", "/api/v1/chargers", b"\xff\xfe\x00", 400),
    ("POST", "/api/v1/chargers", "null", 400),
    (
        "POST",
        "/api/v1/chargers",
        {
            "type": "Feature",
            "geometry": CHARGER["geometry"],
            "properties": {"ports": 4, "status": "planned", "name": "a\u0000b"},
        },
        400,
    ),
    (
        "POST",
        "/api/v1/chargers",
        {
            "type": "Feature",
            "geometry": CHARGER["geometry"],
            "properties": {"ports": 4, "status": "planned", "compound_id": 2**40},
        },
        422,
    ),
    (
        "POST",
        "/api/v1/chargers",
        {"type": "Feature", "geometry": CHARGER["geometry"], "properties": {"ports": 4, "status": {"a": 1}}},
        422,
    ),
    (
        "POST",
        "/api/v1/chargers",
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [[103.8, 36.0]]},
            "properties": {"ports": 4, "status": "planned"},
        },
        422,
    ),
    (
        "POST",
        "/api/v1/chargers",
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": []},
            "properties": {"ports": 4, "status": "planned"},
        },
        422,
    ),
    (
        "POST",
        "/api/v1/bike-zones",
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[103.89, 36.07]]},
            "properties": {"capacity": 4, "kind": "mixed", "status": "planned"},
        },
        422,
    ),
    ("POST", "/api/v1/property-companies", {"name": "兰州晟合物业有限责任公司"}, 409),
    ("PATCH", "/api/v1/property-companies/1", {"alliance_standing": None}, 422),
    ("PATCH", "/api/v1/chargers/1", {"properties": {"ports": None}}, 422),
    ("PATCH", "/api/v1/areas/3", {"properties": {"code": "620103099"}}, 409),
]


@pytest.mark.parametrize("method, url, body, status", ODD_REQUESTS)
def test_odd_requests_get_a_clear_4xx(client, auth, demo, method, url, body, status):
    auth.login("admin")
    kwargs = {}
    if body is not None:
        kwargs = {
            "data": body if isinstance(body, (str, bytes)) else json.dumps(body),
            "content_type": "application/json",
        }
    r = client.open(url, method=method, **kwargs)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.get_json()["error"]["message"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
positions = st.lists(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-400, max_value=400) | st.integers(),
    min_size=0,
    max_size=4,
)
geometries = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Point", "Polygon", "MultiPolygon", "LineString", "Nope"]),
            "coordinates": st.one_of(
                positions, st.lists(positions, max_size=5), st.lists(st.lists(positions, max_size=5), max_size=2)
            ),
        }
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    props=st.dictionaries(
        st.sampled_from(
            ["name", "ports", "power_kw", "status", "compound_id", "installed_on", "operator", "grid_id", "x"]
        ),
        json_values,
        max_size=6,
    ),
    geometry=geometries,
)
def test_fuzzed_charger_bodies_never_give_a_500(client, auth, demo, props, geometry):
    headers = auth.token("admin")
    body = json.dumps({"type": "Feature", "geometry": geometry, "properties": props}, allow_nan=True)
    r = client.post("/api/v1/chargers", data=body, content_type="application/json", headers=headers)
    assert r.status_code in (201, 400, 403, 409, 422), r.get_data(as_text=True)[:300]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "bbox",
                "limit",
                "offset",
                "status",
                "compound_id",
                "q",
                "sort",
                "area",
                "community",
                "grid",
                "installed_on",
            ]
        ),
        st.text(max_size=40),
        max_size=4,
    )
)
def test_fuzzed_list_queries_never_give_a_500(client, auth, demo, params):
    headers = auth.token("admin")
    r = client.get("/api/v1/chargers", query_string=params, headers=headers)
    assert r.status_code in (200, 400), r.get_data(as_text=True)[:300]


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/", "/%0d%0aX:1"])
def test_login_never_redirects_off_site(client, demo, target):
    r = client.post("/login", query_string={"next": target}, data={"username": "planner", "password": "wuwei-planner"})
    assert r.status_code == 302
    assert "evil" not in r.headers["Location"] and "\n" not in r.headers["Location"]


def test_login_keeps_a_same_site_next(client, demo):
    r = client.post("/login?next=/api/v1/me", data={"username": "planner", "password": "wuwei-planner"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/api/v1/me")


@pytest.mark.parametrize(
    "username, password",
    [("plan\x00ner", "wuwei-planner"), ("planner", ""), ("x" * 65, "wuwei-planner"), ("planner", "wuwei-planner\x00")],
)
def test_odd_logins_are_refused_without_error(client, demo, username, password):
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code in (400, 401)
    assert client.get("/api/v1/me").status_code == 401


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    layer=st.sampled_from(["areas", "grids", "buildings", "compounds", "property-companies", "bike-zones"]),
    props=st.dictionaries(
        st.sampled_from(
            [
                "level",
                "code",
                "name",
                "parent_code",
                "note",
                "households",
                "floors",
                "capacity",
                "kind",
                "status",
                "alliance_standing",
                "standing_date",
                "compound_id",
                "property_company_id",
            ]
        ),
        json_values | st.sampled_from(["grid", "620103002001", "620103002001009", "2024-02-30"]),
        max_size=5,
    ),
    geometry=geometries,
    method=st.sampled_from(["PATCH", "PUT"]),
)
def test_fuzzed_updates_of_every_layer_never_give_a_500(client, auth, demo, layer, props, geometry, method):
    headers = auth.token("admin")
    fid = client.get(f"/api/v1/{layer}?limit=1&sort=-id", headers=headers).get_json()["features"][0]["id"]
    body = json.dumps({"type": "Feature", "geometry": geometry, "properties": props}, allow_nan=True)
    r = client.open(
        f"/api/v1/{layer}/{fid}", method=method, data=body, content_type="application/json", headers=headers
    )
    assert r.status_code in (200, 400, 403, 409, 422), r.get_data(as_text=True)[:300]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode),
    name=st.sampled_from(["x.geojson", "x.gpkg", "x.zip", "x.csv", "x.kml", "x.txt"]),
)
def test_fuzzed_import_files_never_give_a_500(client, auth, demo, data, name):
    import io

    headers = auth.token("planner")
    r = client.post(
        "/api/v1/chargers/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert r.status_code in (201, 403, 413, 415, 422), r.get_data(as_text=True)[:300]


def test_grid_workers_and_import_endpoints_need_csrf_with_cookie_sessions(csrf_client, demo):
    import io

    token = csrf_token_in(csrf_client.get("/login").get_data(as_text=True))
    csrf_client.post("/login", data={"username": "admin", "password": "wuwei-admin", "csrf_token": token})
    grid_id = db.session.scalar(text("SELECT id FROM areas WHERE code = '620103002001002'"))
    r = csrf_client.put(
        f"/api/v1/grids/{grid_id}/workers", data=json.dumps({"usernames": []}), content_type="application/json"
    )
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"]
    r = csrf_client.post(
        "/api/v1/chargers/import", data={"file": (io.BytesIO(b"{}"), "x.geojson")}, content_type="multipart/form-data"
    )
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"]
    assert db.session.scalar(text("SELECT count(*) FROM grid_workers WHERE area_id = :g"), {"g": grid_id}) > 0

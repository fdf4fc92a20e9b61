"""GET /healthz: 200 with the PostGIS version, 503 when the database cannot be reached."""

import pytest
from sqlalchemy import text

from app.core.extensions import db
from tests.conftest import make_test_app


def test_healthz_reports_postgis_version(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["postgis"] == db.session.execute(text("SELECT postgis_lib_version()")).scalar()
    assert body["postgis"].split(".")[0] == "3"


def test_healthz_needs_no_login_and_is_in_openapi(client):
    assert "/healthz" in client.get("/api/v1/openapi.json").get_json()["paths"]


@pytest.mark.no_transaction
def test_healthz_is_503_when_the_database_is_down():
    # Nothing listens on port 1: the app starts, but its database cannot be reached.
    down = make_test_app(
        "postgresql://postgres@127.0.0.1:1/wuwei", SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}}
    )
    with down.app_context():
        r = down.test_client().get("/healthz")
        db.session.remove()
        db.engine.dispose()
    assert r.status_code == 503
    assert r.get_json() == {"status": "unavailable", "database": "down", "postgis": None}

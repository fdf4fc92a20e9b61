"""/readyz, /metrics (and who may read it), the request id on the answer, the log lines and the SQL."""

import datetime as dt
import io
import json
import logging

import pytest
from sqlalchemy import event, text

from app.core.extensions import db
from app.core.metrics import FIXES, REQUESTS
from app.core.requestlog import REQUEST_ID, JsonFormatter, RequestIdFilter, request_id_from
from tests.conftest import make_test_app


def _empty_queue():
    """Jobs other tests committed are out of this test's view (the deletion is rolled back with the test)."""
    db.session.execute(text("DELETE FROM procrastinate_jobs"))
    db.session.commit()


def test_readyz_is_ready_with_the_schema_at_head(client):
    _empty_queue()
    r = client.get("/readyz")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ready" and body["database"] == {"status": "ok"}
    assert body["migrations"]["status"] == "ok" and body["migrations"]["current"] == body["migrations"]["head"]
    assert body["queue"]["status"] == "ok" and body["queue"]["waiting"] == 0
    assert body["replica"] == {"status": "not configured"}


def test_readyz_is_503_when_the_schema_is_behind_the_code(client):
    db.session.execute(text("UPDATE alembic_version SET version_num = '0010_open311_updates'"))
    db.session.commit()  # a savepoint: the test's transaction is rolled back afterwards
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["status"] == "unavailable" and r.get_json()["migrations"]["status"] == "behind"


def test_readyz_reports_jobs_waiting_and_a_stalled_queue(client):
    _empty_queue()
    job = db.session.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
            "VALUES ('default', 'transfer.import_file', '{}') RETURNING id"
        )
    ).scalar()
    db.session.commit()
    queue = client.get("/readyz").get_json()["queue"]
    assert queue["waiting"] == 1 and queue["status"] == "ok" and queue["oldest_waiting_seconds"] < 60
    db.session.execute(
        text("UPDATE procrastinate_events SET at = now() - interval '10 minutes' WHERE job_id = :j"), {"j": job}
    )
    db.session.execute(text("DELETE FROM procrastinate_workers"))
    db.session.commit()
    r = client.get("/readyz")
    assert r.status_code == 200  # jobs wait, but this server still serves requests
    assert r.get_json()["queue"]["status"] == "stalled" and r.get_json()["status"] == "degraded"


@pytest.mark.no_transaction
def test_readyz_is_503_when_the_database_is_down():
    down = make_test_app(
        "postgresql://postgres@127.0.0.1:1/wuwei", SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}}
    )
    with down.app_context():
        r = down.test_client().get("/readyz")
        db.session.remove()
        db.engine.dispose()
    assert r.status_code == 503 and r.get_json()["database"] == {"status": "down"}


def _metrics(client, **kw):
    return client.get("/metrics", **kw)


def test_metrics_count_requests_per_endpoint_and_the_queue(client):
    client.get("/healthz")
    r = _metrics(client)
    assert r.status_code == 200 and r.mimetype == "text/plain"
    body = r.get_data(as_text=True)
    assert 'wuwei_http_requests_total{endpoint="health.healthz",method="GET",status="200"}' in body
    assert 'wuwei_http_request_duration_seconds_bucket{endpoint="health.healthz"' in body
    assert "# TYPE wuwei_queue_jobs gauge" in body
    assert 'wuwei_db_pool_connections{state="in_use"}' in body
    client.get("/no/such/page")
    assert 'endpoint="unmatched",method="GET",status="404"' in _metrics(client).get_data(as_text=True)


def test_metrics_only_from_this_machine_or_for_an_admin(client, auth):
    far = {"REMOTE_ADDR": "203.0.113.9"}
    assert _metrics(client, environ_base=far).status_code == 403
    # nginx on the same machine relays from 127.0.0.1: a forwarded request is not a local one
    assert _metrics(client, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert _metrics(client, environ_base=far, headers=auth.token("leader")).status_code == 403
    assert _metrics(client, environ_base=far, headers=auth.token("admin")).status_code == 200


def test_tracking_fixes_are_counted_around_the_gateway_as_served(app, client, demo):
    from app.health import measure
    from app.patrols.devices import register_device

    _, secret = register_device("patrol", "test phone", "traccar", identifier="metrics-phone")
    served = app.wsgi_app
    measure(app)  # what app/wsgi.py does after installing the gateway
    try:
        before = FIXES.labels("osmand")._value.get()
        gateway = REQUESTS.labels("tracking_gateway", "GET", "200")._value.get()
        health = REQUESTS.labels("health.healthz", "GET", "200")._value.get()
        ts = int((dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)).timestamp())
        r = client.get(f"/track/osmand?id={secret}&lat=36.077&lon=103.8925&timestamp={ts}")
        assert r.status_code == 200 and r.headers["X-Request-ID"]
        assert FIXES.labels("osmand")._value.get() == before + 1
        assert REQUESTS.labels("tracking_gateway", "GET", "200")._value.get() == gateway + 1
        assert client.get("/healthz").headers["X-Request-ID"]
        assert REQUESTS.labels("health.healthz", "GET", "200")._value.get() == health + 1  # counted once
    finally:
        app.wsgi_app = served


def test_request_id_is_answered_taken_from_the_client_when_plain_and_put_on_sql(client, auth):
    statements = []
    headers = {**auth.token("staff"), "X-Request-ID": "nginx-42.a_b"}

    def seen(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "after_cursor_execute", seen)
    try:
        r = client.get("/api/v1/incidents", headers=headers)
    finally:
        event.remove(db.engine, "after_cursor_execute", seen)
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "nginx-42.a_b"
    assert statements and all(s.startswith("/* request_id=nginx-42.a_b */ ") for s in statements)
    made = client.get("/healthz", headers={"X-Request-ID": "x */ DROP TABLE users; --"}).headers["X-Request-ID"]
    assert made != "x */ DROP TABLE users; --" and request_id_from(made) == made


def test_log_lines_are_json_with_the_request_id(client):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        r = client.post(
            "/login", data={"username": "planner", "password": "wuwei-planner"}, headers={"X-Request-ID": "req-login-1"}
        )
        logging.getLogger("wuwei.test").warning("outside a request")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    login = [x for x in lines if x["message"].startswith("login planner")]
    assert r.status_code in (302, 303) and login
    assert login[0]["request_id"] == "req-login-1" and login[0]["level"] == "INFO" and login[0]["time"]
    assert lines[-1]["request_id"] == "-" and lines[-1]["message"] == "outside a request"
    assert REQUEST_ID.get() is None

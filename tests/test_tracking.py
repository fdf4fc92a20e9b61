"""Tracking protocols: real Traccar Client (OsmAnd) and OwnTracks payloads, resends, the gateway in front of
Flask, and what every worker sees at once (no per-process cache of devices or open patrols)."""

import base64
import datetime as dt
import json
import math

import pytest
from flask.wrappers import Response
from sqlalchemy import func, select, text
from werkzeug.test import Client

from app.core.extensions import db
from app.patrols.devices import hash_secret, register_device
from app.patrols.models import Device, Position
from app.tracking.gateway import TrackingGateway, autocommit_connections

UTC = dt.UTC
# A point in Songjiatan's first grid (the demo user "patrol" works there).
LON, LAT = 103.8925, 36.0770


def post_json(client, url, body, headers=None, method="post"):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json", headers=headers or {})


def device(identifier="test-phone-1", user="patrol", kind="traccar"):
    """Register a device named ``identifier``; returns the secret its app sends."""
    return register_device(user, "test phone", kind, identifier=identifier)[1]


def count_positions(identifier):
    return db.session.scalar(
        select(func.count())
        .select_from(Position)
        .join(Device, Device.id == Position.device_id)
        .where(Device.identifier == identifier)
    )


def recent(seconds_ago=60):
    return int((dt.datetime.now(UTC) - dt.timedelta(seconds=seconds_ago)).timestamp())


def line_fixes(start, n, step_m=5.0, every_s=5, lat0=LAT, lon0=LON):
    """``n`` fixes due east, ``step_m`` apart."""
    dlon = step_m / (111_320 * math.cos(math.radians(lat0)))
    return [(start + dt.timedelta(seconds=i * every_s), lat0, lon0 + i * dlon) for i in range(n)]


def send(client, ident, fixes, order=None):
    for i in order or range(len(fixes)):
        t, lat, lon = fixes[i][:3]
        acc = fixes[i][3] if len(fixes[i]) > 3 else 5
        r = client.get(f"/track/osmand?id={ident}&lat={lat}&lon={lon}&timestamp={int(t.timestamp())}&accuracy={acc}")
        assert r.status_code == 200


# --------------------------------------------------------------------------- OsmAnd / Traccar Client
def test_traccar_query_form_is_stored_once_even_when_resent(client, demo):
    secret = device()
    ts = recent()
    # Exactly what Traccar Client (classic) sends: GET/POST with query fields, speed in knots.
    url = (
        f"/track/osmand?id={secret}&timestamp={ts}&lat={LAT}&lon={LON}&speed=2.5&bearing=87.0"
        f"&altitude=1520.0&accuracy=6.0&batt=76.0"
    )
    r = client.post(url)
    assert r.status_code == 200 and r.data == b""
    assert client.post(url).status_code == 200  # resend after network loss
    assert client.get(url).status_code == 200
    assert count_positions("test-phone-1") == 1
    pos = db.session.scalar(select(Position).join(Device).where(Device.identifier == "test-phone-1"))
    assert pos.speed == pytest.approx(2.5 * 0.514444, rel=1e-4)
    assert pos.battery == 76 and pos.heading == 87 and pos.source == "osmand"


def test_osmand_form_body_with_location_and_ms_timestamp(client, demo):
    secret = device()
    r = client.post(
        "/track/osmand",
        data={"deviceid": secret, "location": f"{LAT},{LON}", "timestamp": str(recent() * 1000), "hdop": "1.2"},
    )
    assert r.status_code == 200
    assert count_positions("test-phone-1") == 1


def test_traccar_json_body_is_stored(client, demo):
    secret = device()
    t = (dt.datetime.now(UTC) - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "location": {
            "timestamp": t,
            "coords": {
                "latitude": LAT,
                "longitude": LON,
                "accuracy": 4.8,
                "speed": 1.3,
                "heading": 270.5,
                "altitude": 1519.2,
            },
            "is_moving": True,
            "odometer": 1234.5,
            "event": "motionchange",
            "battery": {"level": 0.62, "is_charging": False},
            "activity": {"type": "walking"},
        },
        "device_id": secret,
    }
    r = post_json(client, "/track/osmand", body)
    assert r.status_code == 200 and r.data == b""
    assert post_json(client, "/track/osmand", body).status_code == 200
    pos = db.session.scalar(select(Position).join(Device).where(Device.identifier == "test-phone-1"))
    assert count_positions("test-phone-1") == 1
    assert pos.speed == pytest.approx(1.3) and pos.battery == pytest.approx(62)


def test_unknown_device_is_refused_and_nothing_stored(client, demo):
    before = db.session.scalar(select(func.count()).select_from(Position))
    r = client.get(f"/track/osmand?id=nobody-123&lat={LAT}&lon={LON}&timestamp={recent()}")
    assert r.status_code == 400 and r.get_json()["error"]["fields"] == {"id": "unknown device"}
    body = {
        "device_id": "nobody-123",
        "location": {"timestamp": "2026-04-12T01:00:00Z", "coords": {"latitude": LAT, "longitude": LON}},
    }
    assert post_json(client, "/track/osmand", body).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Position)) == before


@pytest.mark.parametrize(
    "query, field",
    [
        ("lat=95&lon=103.9", "lat"),
        ("lat=36&lon=200", "lon"),
        ("lat=abc&lon=103.9", "lat"),
        ("lat=36.07&lon=103.89&timestamp=4102444800", "timestamp"),
        ("lon=103.89", "lat"),
        ("lat=36.07&lon=103.89&timestamp=yesterday", "timestamp"),
        ("lat=nan&lon=103.9", "lat"),
    ],
)
def test_bad_osmand_fixes_are_400_and_not_stored(client, demo, query, field):
    secret = device()
    r = client.get(f"/track/osmand?id={secret}&{query}")
    assert r.status_code == 400
    assert field in r.get_json()["error"]["fields"]
    assert count_positions("test-phone-1") == 0


def test_malformed_traccar_json_is_400(client, demo):
    secret = device()
    r = client.post("/track/osmand", data=b"{not json", content_type="application/json")
    assert r.status_code == 400
    r = post_json(client, "/track/osmand", {"device_id": secret, "location": {"coords": {"latitude": 1}}})
    assert r.status_code == 400
    assert count_positions("test-phone-1") == 0


def test_oversized_osmand_report_is_413_and_not_stored(client, demo):
    secret = device()
    r = client.post("/track/osmand", data={"id": secret, "lat": LAT, "lon": LON, "pad": "x" * 70_000})
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"
    assert count_positions("test-phone-1") == 0


def flask_only(app):
    """A client of the app without the gateway in front: Flask's own /track/osmand view answers."""
    assert isinstance(app.wsgi_app, TrackingGateway)
    return Client(app.wsgi_app.wsgi_app, Response)


def test_flask_view_answers_like_the_gateway(app, client, demo):
    # The gateway answers /track/osmand before Flask; without it, the blueprint's view runs the same code.
    secret = device()
    ts = recent()
    ok = f"/track/osmand?id={secret}&timestamp={ts}&lat={LAT}&lon={LON}"
    answers = []
    for c in (client, flask_only(app)):
        answers.append(
            [
                (r.status_code, r.get_json(silent=True))
                for r in (
                    c.get(ok),
                    c.get(ok),
                    c.get(f"/track/osmand?id=nobody-123&lat={LAT}&lon={LON}"),
                    c.get(f"/track/osmand?id={secret}&lat=95&lon=103.9"),
                )
            ]
        )
    assert answers[0] == answers[1]
    assert [a[0] for a in answers[0]] == [200, 200, 400, 400]
    assert answers[0][3][1]["error"]["fields"] == {"lat": "95.0 is outside -90..90"}
    assert count_positions("test-phone-1") == 1


@pytest.mark.no_transaction
def test_gateway_commits_each_fix_on_a_pooled_connection(app, client, demo):
    # Outside the tests' transaction: what production does (autocommit, connection back to the pool).
    ident = "test-pooled-1"
    with app.app_context():
        secret = device(ident)
        dev = db.session.scalar(select(Device).where(Device.identifier == ident))
        try:
            t0 = recent(600)
            for i in (0, 1, 1, 2):  # one resend
                r = client.get(f"/track/osmand?id={secret}&timestamp={t0 + i * 5}&lat={LAT}&lon={LON}")
                assert r.status_code == 200 and r.data == b""
            db.session.rollback()
            assert db.engine.pool.checkedout() == 0  # every connection went back to the pool
            assert count_positions(ident) == 3  # committed, seen from another connection
        finally:
            db.session.execute(text("DELETE FROM positions WHERE device_id = :d"), {"d": dev.id})
            db.session.execute(
                text("DELETE FROM audit_log WHERE table_name = 'devices' AND row_id = :d"), {"d": str(dev.id)}
            )
            db.session.delete(db.session.get(Device, dev.id))
            db.session.commit()


@pytest.mark.no_transaction
@pytest.mark.parametrize("gateway", [True, False])
def test_osmand_answers_503_when_the_database_is_down(gateway):
    from tests.conftest import make_test_app

    down = make_test_app(
        "postgresql://postgres@127.0.0.1:1/wuwei", SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}}
    )
    if gateway:
        down.wsgi_app = TrackingGateway(down.wsgi_app, autocommit_connections(down), down.app_context)
    r = down.test_client().get(f"/track/osmand?id=test-phone-1&timestamp={recent()}&lat={LAT}&lon={LON}")
    with down.app_context():
        db.engine.dispose()
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "unavailable"


# --------------------------------------------------------------------------- several workers
def worker(app, connections):
    """Another worker's gateway: its own instance in front of the same Flask app, on the test's transaction."""
    return Client(TrackingGateway(app.wsgi_app.wsgi_app, connections, app.app_context), Response)


def patrol_of_fix(identifier, t):
    return db.session.execute(
        select(Position.patrol_id)
        .join(Device, Device.id == Position.device_id)
        .where(Device.identifier == identifier, Position.fixed_at == t)
    ).scalar_one()


def fix_at(c, secret, t, identifier="test-phone-1"):
    r = c.get(f"/track/osmand?id={secret}&timestamp={t.timestamp()}&lat={LAT}&lon={LON}")
    assert r.status_code == 200, r.get_json()
    return patrol_of_fix(identifier, t)


def test_a_patrol_stopped_in_one_worker_stops_tagging_at_once_in_another(app, client, auth, demo, gateway_connections):
    s = device()
    a, b = worker(app, gateway_connections), worker(app, gateway_connections)
    auth.login("patrol")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    pid = post_json(client, "/api/v1/patrols", {"kind": "grid_walk", "title": "两个进程", "start": True}).get_json()[
        "id"
    ]
    assert fix_at(b, s, now + dt.timedelta(seconds=1)) == pid
    assert fix_at(a, s, now + dt.timedelta(seconds=2)) == pid
    assert client.post(f"/api/v1/patrols/{pid}/stop").status_code == 200  # worker A's Flask
    assert fix_at(b, s, now + dt.timedelta(seconds=20)) is None  # worker B, right after
    # A stop made by another process entirely: only the database changed, nothing ran here.
    pid = post_json(client, "/api/v1/patrols", {"kind": "grid_walk", "title": "另一个", "start": True}).get_json()["id"]
    assert fix_at(b, s, now + dt.timedelta(seconds=30)) == pid
    db.session.execute(
        text("UPDATE patrols SET state = 'finished', ended_at = clock_timestamp() WHERE id = :p"), {"p": pid}
    )
    assert fix_at(b, s, now + dt.timedelta(seconds=40)) is None


def test_a_device_registered_or_deactivated_elsewhere_counts_at_once(app, demo, gateway_connections):
    b = worker(app, gateway_connections)
    secret = "Zq8-fjW2_kPx7RmT4vYb9NcLd3Hs6GaE"  # what the app sends
    url = f"/track/osmand?id={secret}&timestamp={recent()}&lat={LAT}&lon={LON}"
    assert b.get(url).status_code == 400  # not registered yet
    user_id = db.session.scalar(text("SELECT id FROM users WHERE username = 'patrol'"))
    db.session.execute(
        text(
            "INSERT INTO devices (identifier, user_id, name, kind, active, secret_hash)"
            " VALUES ('test-phone-9', :u, 'x', 'traccar', true, :h)"
        ),
        {"u": user_id, "h": hash_secret(secret)},
    )
    assert b.get(url).status_code == 200  # registered by another worker
    db.session.execute(text("UPDATE devices SET active = false WHERE identifier = 'test-phone-9'"))
    assert b.get(url.replace(str(recent()), str(recent(30)))).status_code == 400  # deactivated elsewhere
    assert count_positions("test-phone-9") == 1


# --------------------------------------------------------------------------- OwnTracks
def owntracks_msg(tst, lat=LAT, lon=LON, **extra):
    return {
        "_type": "location",
        "acc": 12,
        "alt": 1521,
        "batt": 81,
        "bs": 1,
        "conn": "m",
        "created_at": tst,
        "lat": lat,
        "lon": lon,
        "m": 1,
        "t": "u",
        "tid": "zq",
        "tst": tst,
        "vac": 3,
        "vel": 4,
        **extra,
    }


def basic(user, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def test_owntracks_basic_auth_with_the_device_secret_stores(client, demo):
    secret = device("patrol/iphone", kind="owntracks")
    headers = {**basic("patrol", secret), "X-Limit-U": "patrol", "X-Limit-D": "iphone"}
    msg = owntracks_msg(recent())
    r = post_json(client, "/track/owntracks", msg, headers)
    assert r.status_code == 200 and r.get_json() == []
    assert post_json(client, "/track/owntracks", msg, headers).get_json() == []  # resend
    assert count_positions("patrol/iphone") == 1
    pos = db.session.scalar(select(Position).join(Device).where(Device.identifier == "patrol/iphone"))
    assert pos.speed == pytest.approx(4 / 3.6) and pos.source == "owntracks"
    # The device's public name works as the user name too.
    r = post_json(client, "/track/owntracks", owntracks_msg(recent(30)), basic("patrol/iphone", secret))
    assert r.status_code == 200 and count_positions("patrol/iphone") == 2
    # Other message types are accepted and ignored.
    r = post_json(client, "/track/owntracks", {"_type": "waypoint", "desc": "x", "tst": recent()}, headers)
    assert r.status_code == 200 and r.get_json() == []
    assert count_positions("patrol/iphone") == 2

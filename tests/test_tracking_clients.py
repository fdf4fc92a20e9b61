"""Field protocols as the real clients speak them (issue 20, tracking): each payload below is quoted from
its source, with only the device identifier replaced by a secret the server issued.

* ``TRACCAR_JSON`` and ``TRACCAR_QUERIES``: Traccar's own decoder tests, ``OsmAndProtocolDecoderTest``
  (``testDecodeJson``, ``testDecodeQuery``) in github.com/traccar/traccar — Traccar Client v9's JSON with
  ``-1`` for unknown values and ``mock``, and the OsmAnd query forms;
* Traccar Client for Android's SOS: ``ProtocolFormatter.formatRequest(url, position, alarm)`` appends
  ``&alarm=sos`` to the usual query (github.com/traccar/traccar-client-android);
* OwnTracks HTTP mode: the booklet's ``docs/tech/json.md`` (``location``, ``transition``, ``encrypted``)
  and the Recorder's ``?u=&d=`` identification (``docs/tech/http.md``).
"""

import base64
import datetime as dt
import io
import json

import pytest
from sqlalchemy import func, select, text

from app.auth.services import create_user
from app.core.extensions import db
from app.notices.models import Notice
from app.patrols.devices import register_device
from app.patrols.models import Device, DeviceEvent, Position

TRACCAR_JSON = [
    {
        "location": {
            "timestamp": "2025-06-15T13:45:12.862Z",
            "coords": {"latitude": 37.4219983, "longitude": -122.084, "accuracy": 5, "speed": 0, "heading": -1,
                       "altitude": 5},
            "is_moving": False, "odometer": 0, "event": "motionchange",
            "battery": {"level": 1, "is_charging": False}, "activity": {"type": "still"}, "extras": {},
            "_": "&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&",
        },
        "device_id": "48241179",
    },
    {
        "location": {
            "extras": {}, "mock": True,
            "coords": {"speed_accuracy": -1, "speed": -1, "longitude": -122.406417, "ellipsoidal_altitude": 0,
                       "floor": None, "heading_accuracy": -1, "latitude": 37.785834000000001, "accuracy": 5,
                       "altitude_accuracy": -1, "altitude": 0, "heading": -1},
            "is_moving": False, "age": 188, "odometer": 0, "uuid": "2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8",
            "event": "motionchange", "battery": {"level": -1, "is_charging": False},
            "activity": {"type": "unknown", "confidence": 100}, "timestamp": "2025-05-09T04:11:30.579Z",
        },
        "device_id": "658765",
    },
    {
        "location": {
            "event": "motionchange", "is_moving": False, "uuid": "0e9a2473-a9a7-4c00-997b-fb97d2154e75",
            "timestamp": "2021-07-21T08:06:34.444Z", "odometer": 0,
            "coords": {"latitude": -6.1148096, "longitude": 106.6837015, "accuracy": 3.8, "speed": 18.67,
                       "speed_accuracy": 0.26, "heading": 63, "heading_accuracy": 0.28, "altitude": 35.7,
                       "altitude_accuracy": 3.8},
            "activity": {"type": "still", "confidence": 100}, "battery": {"is_charging": False, "level": 0.79},
            "extras": {},
        },
        "device_id": "8737767034",
    },
]  # fmt: skip

TRACCAR_QUERIES = [  # (query with ID where the identifier was, stored by Traccar?)
    (("/?id=ID&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80"
     "&wifi=00-1C-B3-09-85-15,-70"), "event"),
    ("/?timestamp=1377177267&lat=60.0&lon=30.0", None),
    ("/?id=ID&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0", "fix"),
    ("/?id=ID&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0", "fix"),
    ("/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=ID", "fix"),
    ("/?id=ID&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0", "fix"),
    ("/?id=ID&timestamp=1377177267&lat=60.0&lon=30.0", "fix"),
    ("/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=ID", "fix"),
    ("/?id=ID&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87", "fix"),
    ("/?id=ID&timestamp=1377177267&location=60.0,30.0", "fix"),
    (("/?id=ID&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40"
     "&ignition=true&rpm=933&fuel=24"), "fix"),
]  # fmt: skip

LON, LAT = 103.8925, 36.0770  # Songjiatan, where the demo user "patrol" works


def recent(seconds_ago=60):
    return int((dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)).timestamp())


def secret_of(name="phone", user="patrol", kind="traccar"):
    return register_device(user, name, kind)[1]


def positions(secret_name):
    return db.session.scalars(
        select(Position).join(Device).where(Device.identifier == secret_name).order_by(Position.fixed_at)
    ).all()


def events(identifier):
    return db.session.scalars(
        select(DeviceEvent).join(Device).where(Device.identifier == identifier).order_by(DeviceEvent.id)
    ).all()


def basic(user, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


# --------------------------------------------------------------------------- Traccar Client


def test_traccar_v9_json_with_unknown_values_is_stored_with_them_unknown(client, demo):
    secret = secret_of()
    for body in TRACCAR_JSON:
        body = {**body, "device_id": secret}
        r = client.post("/track/osmand", data=json.dumps(body), content_type="application/json")
        assert r.status_code == 200, r.get_json()
    stored = positions("patrol/phone")
    assert len(stored) == 3
    unknown = next(p for p in stored if (p.fixed_at.year, p.fixed_at.month) == (2025, 5))  # the "mock" one
    assert (unknown.speed, unknown.heading, unknown.battery, unknown.accuracy) == (None, None, None, 5)
    full = next(p for p in stored if p.fixed_at.month == 6)
    assert (full.heading, full.battery, full.speed) == (None, 100, 0)
    moving = next(p for p in stored if p.fixed_at.year == 2021)
    assert moving.battery == pytest.approx(79) and moving.heading == 63 and moving.speed == pytest.approx(18.67)


def test_traccar_decoder_query_forms_are_kept_or_refused_as_traccar_does(client, demo):
    secret = secret_of()
    before = db.session.scalar(select(func.count()).select_from(Position))
    for query, kept in TRACCAR_QUERIES:
        r = client.post("/track/osmand" + query[1:].replace("ID", secret))
        assert (r.status_code == 200) == (kept is not None), (query, r.status_code, r.get_json())
    # Three of the forms share a time (1377177267): from one device, that is a resend, stored once.
    assert len(positions("patrol/phone")) == 7
    assert db.session.scalar(select(func.count()).select_from(Position)) == before + 7
    cell = events("patrol/phone")
    assert [(e.kind, e.attributes["cell"][1]) for e in cell] == [("no_fix", "257,02,16,2223,-90")]
    assert cell[0].geom is None


def test_the_android_sos_button_raises_an_alert_for_the_patrols_area_staff(client, auth, demo):
    secret = secret_of()
    sjt = create_user("sjtstaff", "sjt-staff-password", "staff", "620102011002", "宋家滩社区 干事")
    auth.login("patrol")
    pid = client.post("/api/v1/patrols", json={"kind": "grid_walk", "title": "求助", "start": True}).get_json()["id"]
    ts = recent(-2)  # after the patrol started
    sos = (
        f"/track/osmand?id={secret}&timestamp={ts}&lat={LAT}&lon={LON}&speed=0.0&bearing=0.0"
        f"&altitude=1520.0&accuracy=5.0&batt=64.0&alarm=sos"
    )
    assert client.post(sos).status_code == 200
    assert client.post(sos).status_code == 200  # the phone resends: one event, one alert each
    assert [(e.kind, e.detail, e.patrol_id) for e in events("patrol/phone")] == [("alarm", "sos", pid)]
    assert len(positions("patrol/phone")) == 1
    told = db.session.execute(select(Notice.user_id, Notice.kind, Notice.link).where(Notice.kind == "patrol.sos")).all()
    assert told == [(sjt.id, "patrol.sos", f"/patrols/{pid}")]  # not zjystaff (another community), not patrol
    live = client.get("/api/v1/patrols/live").get_json()["features"]
    assert [f["properties"]["alarm"] for f in live if f["properties"]["kind"] == "sos"] == ["sos"]


def test_a_heartbeat_without_coords_is_kept_as_an_event(client, demo):
    secret = secret_of()
    t = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = {
        "location": {"timestamp": t, "event": "heartbeat", "is_moving": False, "odometer": 0,
                     "battery": {"level": -1, "is_charging": False}, "activity": {"type": "still"}},
        "device_id": secret,
    }  # fmt: skip
    r = client.post("/track/osmand", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200
    assert [(e.kind, e.detail) for e in events("patrol/phone")] == [("heartbeat", "heartbeat")]
    assert positions("patrol/phone") == []


def test_head_and_get_without_a_position_write_nothing(app, client, demo):
    from tests.test_tracking import flask_only

    secret = secret_of()
    url = f"/track/osmand?id={secret}&timestamp={recent()}&lat={LAT}&lon={LON}"
    for c in (client, flask_only(app)):
        r = c.head(url)
        assert r.status_code == 200 and r.data == b""
        r = c.get(f"/track/osmand?id={secret}&timestamp={recent()}&alarm=sos")
        assert r.status_code == 400 and "lat" in r.get_json()["error"]["fields"]
        assert c.get(f"/track/osmand?id={secret}&timestamp={recent()}").status_code == 400
    assert positions("patrol/phone") == [] and events("patrol/phone") == []


# --------------------------------------------------------------------------- OwnTracks


def owntracks(client, body, secret, url="/track/owntracks", user="patrol"):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=basic(user, secret))


def test_owntracks_unknown_course_stays_unknown(client, demo):
    secret = secret_of("iphone", kind="owntracks")
    msg = {"_type": "location", "acc": 10, "alt": 1520, "batt": 77, "cog": -1, "lat": LAT, "lon": LON,
           "tid": "zq", "tst": recent(), "vel": -1, "t": "u"}  # fmt: skip
    assert owntracks(client, msg, secret).status_code == 200
    (p,) = positions("patrol/iphone")
    assert (p.heading, p.speed, p.battery) == (None, None, 77)


def test_an_encrypted_owntracks_payload_is_refused_so_the_app_keeps_it(client, demo):
    secret = secret_of("iphone", kind="owntracks")
    batch = [
        {"_type": "location", "lat": LAT, "lon": LON, "tst": recent(), "tid": "zq"},
        {"_type": "encrypted", "data": "nJ6lZ1DoHAIIGHLGCy9CKUJK2rYHCq8Ci6jOuVdWYbVMt2uXwXbhO3+HvJYqnKbZ"},
    ]
    r = owntracks(client, batch, secret)
    assert r.status_code == 422 and "encryption" in r.get_json()["error"]["message"].lower()
    assert positions("patrol/iphone") == []  # nothing of the batch: the app sends all of it again


def test_owntracks_transitions_are_stored_and_the_recorders_u_d_work(client, demo):
    secret = secret_of("iphone", kind="owntracks")
    ts = recent()
    transition = {"_type": "transition", "wtst": ts - 3600, "lat": LAT, "lon": LON, "tst": ts, "acc": 10,
                  "tid": "zq", "event": "enter", "desc": "宋家滩社区", "t": "c"}  # fmt: skip
    r = owntracks(client, transition, secret, url="/track/owntracks?u=patrol&d=iphone")
    assert r.status_code == 200 and r.get_json() == []
    assert owntracks(client, transition, secret).status_code == 200  # resent: stored once
    (e,) = events("patrol/iphone")
    assert (e.kind, e.detail, e.attributes["wtst"]) == ("transition", "enter:宋家滩社区", ts - 3600)


def test_the_owntracks_reply_carries_the_patrol_mates_last_positions(client, auth, demo):
    create_user("mate", "mate-password-1", "patrol", "620102011002", "巡查队员 王小明")
    auth.login("patrol")
    body = {"kind": "grid_walk", "title": "两人巡查", "start": True, "participants": ["mate"]}
    assert client.post("/api/v1/patrols", json=body).status_code == 201
    mine = secret_of("iphone", kind="owntracks")
    theirs = secret_of("android", user="mate", kind="owntracks")
    ts = recent(-2)  # after the patrol started
    assert owntracks(client, {"_type": "location", "lat": LAT, "lon": LON + 0.001, "tst": ts, "acc": 6, "batt": 50},
                     theirs, user="mate").status_code == 200  # fmt: skip
    r = owntracks(client, {"_type": "location", "lat": LAT, "lon": LON, "tst": ts + 1}, mine)
    reply = r.get_json()
    card, location = reply
    assert card == {"_type": "card", "name": "巡查队员 王小明", "tid": "MA", "topic": "owntracks/mate/android"}
    assert location["_type"] == "location" and location["topic"] == card["topic"] and location["tst"] == ts
    assert (location["lat"], location["lon"], location["acc"], location["batt"]) == (LAT, LON + 0.001, 6, 50)
    auth.logout()
    outsider = secret_of("phone2", user="gridworker", kind="owntracks")
    r = owntracks(client, {"_type": "location", "lat": LAT, "lon": LON, "tst": ts}, outsider, user="gridworker")
    assert r.get_json() == []  # not in that patrol: nobody's positions


# --------------------------------------------------------------------------- one rule for naive times


@pytest.mark.parametrize(
    "send",
    [
        lambda c, s: c.post(f"/track/osmand?id={s}&lat={LAT}&lon={LON}&timestamp=2026-11-30+09%3A10%3A11"),
        lambda c, s: c.post(
            "/track/osmand",
            json={
                "device_id": s,
                "location": {"timestamp": "2026-11-30T09:10:11", "coords": {"latitude": LAT, "longitude": LON}},
            },
        ),
        lambda c, s: c.post(
            "/track/owntracks",
            json={"_type": "location", "lat": LAT, "lon": LON, "tst": "2026-11-30T09:10:11"},
            headers=basic("patrol", s),
        ),
    ],
    ids=["osmand query", "traccar json", "owntracks"],
)
def test_a_time_without_a_zone_is_wall_clock_time_in_the_deployment_zone(client, demo, send):
    secret = secret_of()
    assert send(client, secret).status_code == 200
    (p,) = positions("patrol/phone")
    assert p.fixed_at == dt.datetime(2026, 11, 30, 1, 10, 11, tzinfo=dt.UTC)  # 09:10:11 in Asia/Shanghai


def test_naive_times_in_the_phone_page_and_in_files_follow_the_same_rule(client, auth, demo):
    auth.login("patrol")
    pid = client.post("/api/v1/patrols", json={"kind": "grid_walk", "title": "时区", "start": True}).get_json()["id"]
    batch = [{"lat": LAT, "lon": LON, "t": "2026-11-30T09:10:11"}]
    assert client.post(f"/api/v1/patrols/{pid}/positions", json={"positions": batch}).status_code == 200
    csv = b"time,lat,lon\n2026-11-30 09:20:00,36.077,103.8925\n"
    r = client.post(
        f"/api/v1/patrols/{pid}/import", data={"file": (io.BytesIO(csv), "t.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert r.status_code == 201, r.get_json()
    got = db.session.execute(
        text(
            "SELECT to_char(fixed_at AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM positions WHERE patrol_id = :p ORDER BY 1"
        ),
        {"p": pid},
    ).scalars()
    assert list(got) == ["01:10:11", "01:20:00"]

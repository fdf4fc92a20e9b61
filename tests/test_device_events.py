"""Device events (issue 20): the SOS stays on the live map until staff acknowledge it (who and when,
audited); the events API reads a patrol's or a device's events under the rules of positions."""

import datetime as dt

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.services import create_user
from app.core.extensions import db
from app.patrols.devices import register_device
from app.patrols.models import DeviceEvent

LON, LAT = 103.8925, 36.0770  # Songjiatan, where the demo user "patrol" works


def ts(seconds_from_now=0):
    return int((dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_from_now)).timestamp())


def sos(client, secret, t, lat=LAT, lon=LON):
    """Traccar Client for Android's SOS: the usual OsmAnd query with ``&alarm=sos``."""
    url = f"/track/osmand?id={secret}&timestamp={t}&lat={lat}&lon={lon}&speed=0.0&accuracy=5.0&batt=64.0&alarm=sos"
    assert client.post(url).status_code == 200
    # The gateway wrote on the test's connection, inside the session's savepoint: keep it when a later
    # request's error rolls the session back (in production the gateway commits on its own).
    db.session.commit()


@pytest.fixture
def field(client, auth, demo):
    """A patrol of the demo user "patrol" (Songjiatan), its phone, and staff of Songjiatan."""
    sjt = create_user("sjtstaff", "sjt-staff-password", "staff", "620102011002", "宋家滩社区 干事")
    device, secret = register_device("patrol", "phone", "traccar")
    member = auth.token("patrol")
    body = {"kind": "grid_walk", "title": "夜间巡查", "start": True}
    pid = client.post("/api/v1/patrols", json=body, headers=member).get_json()["id"]
    return {"pid": pid, "device": device, "secret": secret, "member": member, "sjt": sjt,
            "staff": auth.token("sjtstaff"), "other_staff": auth.token("zjystaff")}  # fmt: skip


def live_sos(client, headers):
    features = client.get("/api/v1/patrols/live", headers=headers).get_json()["features"]
    return [f for f in features if f["properties"]["kind"] == "sos"]


def test_an_sos_stays_on_the_live_map_until_staff_acknowledge_it(client, field):
    sos(client, field["secret"], ts(2))
    (feature,) = live_sos(client, field["staff"])
    p = feature["properties"]
    assert (p["who"], p["alarm"], p["patrol_id"]) == ("巡查队员 李子琴", "sos", field["pid"])
    assert (p["lat"], p["lon"]) == (LAT, LON) and p["place"]  # the grid it is in
    assert live_sos(client, field["member"])  # the member sees it too
    # The patrol stops; the alarm is still there .
    assert client.post(f"/api/v1/patrols/{field['pid']}/stop", headers=field["member"]).status_code == 200
    assert len(live_sos(client, field["staff"])) == 1

    url = f"/api/v1/device-events/{p['event_id']}/acknowledge"
    assert client.post(url, headers=field["member"]).status_code == 403  # a patrol member is not staff
    assert client.post(url, headers=field["other_staff"]).status_code == 404  # another community's staff
    assert db.session.get(DeviceEvent, p["event_id"]).acknowledged_at is None
    r = client.post(url, headers=field["staff"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["acknowledged_by"] == "宋家滩社区 干事" and r.get_json()["acknowledged_at"]
    event = db.session.get(DeviceEvent, p["event_id"])
    assert event.acknowledged_by == field["sjt"].id
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.table_name == "device_events", AuditEntry.row_id == str(event.id))
    ).one()
    assert audit.user_id == field["sjt"].id and audit.before["acknowledged_at"] is None
    assert live_sos(client, field["staff"]) == [] and live_sos(client, field["member"]) == []
    again = client.post(url, headers=field["staff"])
    assert again.status_code == 409 and "宋家滩社区 干事" in again.get_json()["error"]["message"]


def test_an_sos_outside_a_patrol_shows_to_the_owner_and_the_staff_of_the_owners_area(client, auth, field):
    sos(client, field["secret"], ts(-3600))  # an hour ago, before the patrol: outside it, and still shown
    assert [f["properties"]["patrol_id"] for f in live_sos(client, field["staff"])] == [None]
    assert len(live_sos(client, field["member"])) == 1
    assert live_sos(client, field["other_staff"]) == []
    assert live_sos(client, auth.token("gridworker")) == []


def test_other_alarms_than_the_one_acknowledged_stay(client, field):
    sos(client, field["secret"], ts(2))
    sos(client, field["secret"], ts(3), lat=LAT + 0.001)
    first, second = live_sos(client, field["staff"])
    url = f"/api/v1/device-events/{first['properties']['event_id']}/acknowledge"
    assert client.post(url, headers=field["staff"]).status_code == 200
    assert [f["id"] for f in live_sos(client, field["staff"])] == [second["id"]]


# --------------------------------------------------------------------------- the events API


def test_a_patrols_events_are_read_by_whoever_reads_its_track(client, auth, field):
    sos(client, field["secret"], ts(2))
    body = {"location": {"timestamp": dt.datetime.now(dt.UTC).isoformat(), "event": "heartbeat"},
            "device_id": field["secret"]}  # fmt: skip
    assert client.post("/track/osmand", json=body).status_code == 200
    url = f"/api/v1/patrols/{field['pid']}/events"
    r = client.get(url, headers=field["member"])
    assert r.status_code == 200
    got = r.get_json()
    assert got["total"] == 2 and [e["kind"] for e in got["events"]] == ["alarm", "heartbeat"]  # newest first
    alarm = got["events"][0]
    assert (alarm["device"], alarm["who"], alarm["detail"], alarm["lat"]) == (
        "patrol/phone",
        "巡查队员 李子琴",
        "sos",
        LAT,
    )
    assert alarm["happened_at"].endswith("+08:00") and alarm["acknowledged_at"] is None
    assert client.get(url + "?kind=alarm", headers=field["member"]).get_json()["total"] == 1
    # Staff of the area read it (audited); staff elsewhere get 404, leaders 403.
    assert client.get(url, headers=field["staff"]).get_json()["total"] == 2
    reads = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "read_personal", AuditEntry.row_id == str(field["pid"]))
    ).all()
    assert [(a.user_id, a.after) for a in reads] == [(field["sjt"].id, {"what": "events"})]
    assert client.get(url, headers=field["other_staff"]).status_code == 404
    assert client.get(url, headers=auth.token("leader")).status_code == 403


def test_bad_event_queries_are_400(client, field):
    url = f"/api/v1/patrols/{field['pid']}/events"
    r = client.get(url + "?kind=panic", headers=field["member"])
    assert r.status_code == 400 and "kind" in str(r.get_json()["error"]["fields"])
    assert client.get(url + "?limit=0", headers=field["member"]).status_code == 400
    r = client.get(
        f"/api/v1/devices/{field['device'].id}/events?from=2026-12-01&to=2026-11-01", headers=field["member"]
    )
    assert r.status_code == 400


def test_a_devices_events_are_its_owners_and_area_admins(client, auth, field):
    sos(client, field["secret"], ts(2))
    url = f"/api/v1/devices/{field['device'].id}/events"
    mine = client.get(url, headers=field["member"])
    assert mine.status_code == 200 and mine.get_json()["total"] == 1
    assert client.get(url + "?from=2020-01-01&to=2020-01-31", headers=field["member"]).get_json()["total"] == 0
    assert client.get(url, headers=field["staff"]).status_code == 404  # staff read patrols, not devices
    assert client.get(url, headers=auth.token("gridworker")).status_code == 404
    assert client.get("/api/v1/devices/999999/events", headers=field["member"]).status_code == 404
    admin = client.get(url, headers=auth.token("admin"))
    assert admin.status_code == 200 and admin.get_json()["events"][0]["detail"] == "sos"
    read = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "read_personal", AuditEntry.table_name == "devices")
    ).one()
    assert read.row_id == str(field["device"].id)

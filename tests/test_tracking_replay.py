"""A day of one patrol phone, replayed (issue 20): 2,000 fixes over eight hours, resent after network losses
as Traccar Client's offline buffer does, a lunch pause, an SOS — and then counted: nothing lost, nothing
doubled, the pause a gap in the exported track, one alert per staff member.

The requests are Traccar Client's own: the Android app's OsmAnd query (``ProtocolFormatter.kt``, with
``&alarm=sos`` for the SOS button) and the v9 app's JSON body (as in Traccar's ``OsmAndProtocolDecoderTest``).
"""

import datetime as dt
import json
import random

import gpxpy
import pytest
from sqlalchemy import func, select, text

from app.auth.services import create_user
from app.core.extensions import db
from app.notices.models import Notice
from app.patrols.devices import register_device
from app.patrols.models import Device, DeviceEvent, Position

LON, LAT = 103.8925, 36.0770
FIXES, EVERY_S, PAUSE_AT, PAUSE_S, SOS_AT = 2000, 14, 1000, 45 * 60, 1500


def day(start: dt.datetime) -> list[tuple[int, float, float]]:
    """(epoch s, lat, lon) of the day's fixes: a slow walk with a 45-minute pause after fix 1000."""
    out, t = [], start
    for i in range(FIXES):
        if i == PAUSE_AT:
            t += dt.timedelta(seconds=PAUSE_S)
        out.append((int(t.timestamp()), LAT + i * 0.00001, LON + (i % 2) * 0.00001))  # about 1 m per fix
        t += dt.timedelta(seconds=EVERY_S)
    return out


def android(secret, fix, alarm=None):
    ts, lat, lon = fix
    url = (
        f"/track/osmand?id={secret}&timestamp={ts}&lat={lat}&lon={lon}&speed=0.7&bearing=90.0"
        f"&altitude=1520.0&accuracy=6.0&batt=80.0"
    )
    return url + (f"&alarm={alarm}" if alarm else "")


def v9_json(secret, fix):
    ts, lat, lon = fix
    when = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "location": {
            "timestamp": when,
            "coords": {"latitude": lat, "longitude": lon, "accuracy": 6, "speed": -1, "heading": -1, "altitude": 1520},
            "is_moving": True,
            "odometer": 0,
            "event": "motionchange",
            "battery": {"level": -1, "is_charging": False},
            "activity": {"type": "walking"},
            "extras": {},
        },
        "device_id": secret,
    }


@pytest.mark.slow
def test_a_day_of_one_patrol_phone_is_stored_whole_and_once(client, auth, demo):
    _, secret = register_device("patrol", "day phone", "traccar")
    staff = create_user("sjtstaff", "sjt-staff-password", "staff", "620102011002", "宋家滩社区 干事")
    auth.login("patrol")
    pid = client.post("/api/v1/patrols", json={"kind": "grid_walk", "title": "一天", "start": True}).get_json()["id"]
    auth.logout()
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=9)
    db.session.execute(text("UPDATE patrols SET started_at = :t WHERE id = :p"), {"t": start, "p": pid})
    fixes = day(start + dt.timedelta(minutes=1))
    rng = random.Random(20)
    sent = 0
    for i, fix in enumerate(fixes):
        if i % 3 == 2:  # the v9 app's JSON now and then (a second phone app on the same identifier)
            r = client.post("/track/osmand", data=json.dumps(v9_json(secret, fix)), content_type="application/json")
        else:
            r = client.post(android(secret, fix, "sos" if i == SOS_AT else None))
        assert r.status_code == 200, (i, r.get_json())
        sent += 1
        if i % 97 == 96:  # the network dropped: the offline buffer sends the last 40 again
            for old in fixes[i - 39 : i + 1]:
                assert client.post(android(secret, old)).status_code == 200
                sent += 1
        if rng.random() < 0.05:  # the answer got lost: the same request again
            assert client.post(android(secret, fix, "sos" if i == SOS_AT else None)).status_code == 200
            sent += 1
    assert sent > FIXES * 1.4  # a good share were resends
    device_id = db.session.scalar(select(Device.id).where(Device.identifier == "patrol/day-phone"))
    count, distinct, in_patrol = db.session.execute(
        select(func.count(), func.count(func.distinct(Position.fixed_at)), func.count(Position.patrol_id)).where(
            Position.device_id == device_id
        )
    ).one()
    assert (count, distinct, in_patrol) == (FIXES, FIXES, FIXES)  # nothing lost, nothing doubled
    times = db.session.scalars(select(Position.fixed_at).where(Position.device_id == device_id)).all()
    assert {int(t.timestamp()) for t in times} == {f[0] for f in fixes}
    alarms = db.session.scalars(select(DeviceEvent).where(DeviceEvent.device_id == device_id)).all()
    assert [(e.kind, e.detail, int(e.happened_at.timestamp())) for e in alarms] == [("alarm", "sos", fixes[SOS_AT][0])]
    told = db.session.scalars(select(Notice.user_id).where(Notice.kind == "patrol.sos")).all()
    assert told == [staff.id]  # once, although the SOS request may have been sent twice
    auth.login("patrol")
    assert client.post(f"/api/v1/patrols/{pid}/stop").status_code == 200
    gpx = gpxpy.parse(client.get(f"/api/v1/patrols/{pid}.gpx").get_data(as_text=True))
    assert len(gpx.tracks[0].segments) == 2  # the lunch pause is a gap, not a straight line

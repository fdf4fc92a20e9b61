"""GPX and CSV tracks (issue 20): a partly bad file imports its good points and lists the refused ones
(or, asked for all-or-nothing, refuses the whole file with that list); GPX export keeps pauses as
separate ``<trkseg>``s instead of drawing a straight line across them.

The GPX below has the shape Garmin devices write (GPX 1.1, ``<trk>``/``<trkseg>``/``<trkpt>`` with
``<ele>`` and UTC ``<time>``, Garmin's TrackPointExtension namespace declared), with a point that lost
its time, as GPSBabel leaves one when it converts a route.
"""

import datetime as dt
import io

import gpxpy
from sqlalchemy import func, select

from app.core.extensions import db
from app.patrols.models import Position

GARMIN_GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx creator="Garmin Connect" version="1.1" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:ns3="http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd">
  <metadata><time>2026-11-30T01:00:00.000Z</time></metadata>
  <trk><name>宋家滩巡查</name><type>walking</type>
    <trkseg>
      <trkpt lat="36.0770" lon="103.8925"><ele>1520.2</ele><time>2026-11-30T01:00:00.000Z</time></trkpt>
      <trkpt lat="36.0771" lon="103.8926"><ele>1520.4</ele><time>2026-11-30T01:00:10.000Z</time></trkpt>
      <trkpt lat="36.0772" lon="103.8927"><ele>1520.5</ele></trkpt>
      <trkpt lat="36.0773" lon="103.8928"><ele>1520.6</ele><time>2026-11-30T01:00:30.000Z</time></trkpt>
    </trkseg>
    <trkseg>
      <trkpt lat="36.0790" lon="103.8950"><ele>1521.0</ele><time>2026-11-30T01:20:00.000Z</time></trkpt>
      <trkpt lat="136.0791" lon="103.8951"><ele>1521.1</ele><time>2026-11-30T01:20:10.000Z</time></trkpt>
      <trkpt lat="36.0792" lon="103.8952"><ele>1521.2</ele><time>2026-11-30T01:20:20.000Z</time></trkpt>
    </trkseg>
  </trk>
</gpx>
"""

CSV = """time,lat,lon,accuracy
2026-11-30 09:00:00,36.0770,103.8925,5
2026-11-30 09:00:10,95.0,103.8926,5
,36.0772,103.8927,5
2026-11-30 09:00:30,36.0773,103.8928,5
"""


def start(client, auth):
    auth.login("patrol")
    r = client.post("/api/v1/patrols", json={"kind": "grid_walk", "title": "导入", "start": False})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def upload(client, pid, data: bytes, name: str, **form):
    return client.post(
        f"/api/v1/patrols/{pid}/import",
        data={"file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def stored(pid):
    return db.session.scalar(select(func.count()).select_from(Position).where(Position.patrol_id == pid))


def test_a_partly_bad_gpx_imports_the_good_points_and_lists_the_others(client, auth, demo):
    pid = start(client, auth)
    r = upload(client, pid, GARMIN_GPX.encode(), "garmin.gpx")
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["stored"] == 5 and out["received"] == 7 and out["refused_count"] == 2
    assert out["refused"] == [
        {"where": "track 1 segment 1 point 3", "reason": "no time"},
        {"where": "track 1 segment 2 point 2", "reason": "lat: 136.0791 is outside -90..90"},
    ]
    assert stored(pid) == 5


def test_all_or_nothing_refuses_the_file_with_the_same_list(client, auth, demo):
    pid = start(client, auth)
    r = upload(client, pid, CSV.encode(), "track.csv", all_or_nothing="true")
    assert r.status_code == 422
    points = r.get_json()["error"]["fields"]["points"]
    assert [p["where"] for p in points] == ["line 3", "line 4"]
    assert "lat" in points[0]["reason"] and "time" in points[1]["reason"]
    assert stored(pid) == 0
    r = upload(client, pid, CSV.encode(), "track.csv")
    assert r.status_code == 201 and r.get_json()["stored"] == 2 and r.get_json()["refused_count"] == 2


def test_a_file_with_no_good_point_is_refused_with_the_list(client, auth, demo):
    pid = start(client, auth)
    bad = b"time,lat,lon\n2026-11-30 09:00:00,95,103.89\n"
    r = upload(client, pid, bad, "bad.csv")
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["points"][0]["where"] == "line 2"
    assert stored(pid) == 0


def test_gpx_export_keeps_a_pause_as_a_new_segment(client, auth, demo):
    pid = start(client, auth)
    assert upload(client, pid, GARMIN_GPX.encode(), "garmin.gpx").status_code == 201
    r = client.get(f"/api/v1/patrols/{pid}.gpx")
    assert r.status_code == 200
    gpx = gpxpy.parse(r.get_data(as_text=True))
    segments = [[p.time for p in s.points] for s in gpx.tracks[0].segments]
    assert len(segments) == 2  # the 19-minute break is not a straight line
    assert segments[0][-1] < segments[1][0] - dt.timedelta(minutes=5)
    assert sum(len(s) for s in segments) == 5


def test_a_gpx_time_without_a_zone_is_wall_clock_time_in_the_deployment_zone(client, auth, demo):
    pid = start(client, auth)
    naive = GARMIN_GPX.replace("2026-11-30T01:00:00.000Z", "2026-11-30T09:00:00")
    r = upload(client, pid, naive.encode(), "naive.gpx")
    assert r.status_code == 201, r.get_json()
    first = db.session.scalar(select(func.min(Position.fixed_at)).where(Position.patrol_id == pid))
    assert first == dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # 09:00 in Asia/Shanghai

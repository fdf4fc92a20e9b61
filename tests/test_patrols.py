"""Patrols: life cycle, tracks and their cleaning, results, bad parking, partitions, access, pages, demo."""

import datetime as dt
import io
import math

import gpxpy
import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.core.extensions import db
from app.core.time import TZ
from app.patrols.demo import CLEANUP_TITLE, DEMO_DEVICE, SJT_TITLES
from app.patrols.models import Device, Patrol
from app.patrols.tracks import patrol_stats
from gis.tracks import haversine_m
from tests.conftest import remote_references
from tests.test_tracking import (
    LAT,
    LON,
    UTC,
    count_positions,
    device,
    line_fixes,
    post_json,
    send,
)


# --------------------------------------------------------------------------- patrols, tracks, cleaning
def start_patrol(client, auth, kind="grid_walk", user="patrol"):
    auth.login(user)
    r = post_json(client, "/api/v1/patrols", {"kind": kind, "title": "测试巡查", "start": True})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_patrol_start_stop_collects_fixes_out_of_order_and_resent(client, auth, demo):
    secret = device()
    pid = start_patrol(client, auth)
    fixes = line_fixes(dt.datetime.now(UTC) + dt.timedelta(seconds=1), 11)  # 50 m due east
    order = [0, 3, 1, 2, 5, 4, 6, 8, 7, 9, 10, 3, 7]  # out of order, with resends
    send(client, secret, fixes, order)
    r = client.post(f"/api/v1/patrols/{pid}/stop")
    assert r.status_code == 200, r.get_json()
    stats = r.get_json()["stats"]
    assert stats["fixes"] == 11
    assert stats["distance_m"] == pytest.approx(50, abs=0.5)
    assert count_positions("test-phone-1") == 11
    # Start and stop are audited; single fixes are not.
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.table_name == "patrols", AuditEntry.row_id == str(pid))
    ).all()
    assert actions.count("update") == 2
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.table_name == "positions")) == 0
    )
    assert client.post(f"/api/v1/patrols/{pid}/stop").status_code == 409


def test_gps_spikes_and_poor_fixes_are_cleaned_from_the_track(client, auth, demo):
    secret = device()
    pid = start_patrol(client, auth)
    fixes = [list(f) + [5] for f in line_fixes(dt.datetime.now(UTC) + dt.timedelta(seconds=1), 41)]  # 200 m
    fixes[10][1] += 400 / 110_540  # a multipath jump of 400 m and back
    fixes[25][2] += 300 / 111_320  # and another
    fixes[30][3] = 150  # a fix with 150 m accuracy, 60 m off
    fixes[30][1] += 60 / 110_540
    send(client, secret, fixes)
    stats = post_json(client, f"/api/v1/patrols/{pid}/stop", {}).get_json()["stats"]
    assert stats["raw_fixes"] == 41 and stats["dropped_fixes"] == 3
    assert stats["distance_m"] == pytest.approx(200, abs=2)  # raw would be ~1,600 m
    assert stats["moving_s"] > 0 and stats["duration_s"] == 200
    assert stats["grids"] and stats["grids"][0]["code"].startswith("620102011002")
    # The detail page's map asks for the track as it asks every layer (bbox and limit of the screen):
    # answered whole; a malformed bbox is still refused.
    track = client.get(f"/api/v1/patrols/{pid}/track?bbox=103.89,36.07,103.90,36.08&limit=5000")
    assert track.status_code == 200 and track.get_json()["features"]
    assert client.get(f"/api/v1/patrols/{pid}/track?bbox=1,2,3").status_code == 400


def test_cleanup_area_is_buffered_track_in_square_metres(client, auth, demo):
    secret = device()
    pid = start_patrol(client, auth, kind="cleanup")
    r = post_json(
        client,
        f"/api/v1/patrols/{pid}",
        {"cleanup_width_m": 10, "bags": 12, "weight_kg": 30.5, "volunteers": 8},
        method="patch",
    )
    assert r.status_code == 200
    send(client, secret, line_fixes(dt.datetime.now(UTC) + dt.timedelta(seconds=1), 21))  # 100 m
    body = client.post(f"/api/v1/patrols/{pid}/stop").get_json()
    # A 100 m line buffered 5 m each side with round ends: 100 × 10 + π × 5².
    assert body["stats"]["area_m2"] == pytest.approx(1000 + math.pi * 25, rel=0.02)
    assert body["results"]["bags"] == 12 and body["stats"]["people"] == 1 + 8


def test_results_reject_bad_values_and_change_nothing(client, auth, demo):
    pid = start_patrol(client, auth, kind="cleanup")
    for bad in ({"bags": -1}, {"bags": "many"}, {"cleanup_width_m": 0}, {"weight_kg": True}, {"colour": "red"}):
        r = post_json(client, f"/api/v1/patrols/{pid}", bad, method="patch")
        assert r.status_code == 422, bad
    assert db.session.get(Patrol, pid).bags is None
    r = client.patch(f"/api/v1/patrols/{pid}", data="{oops", content_type="application/json")
    assert r.status_code == 400


def test_bad_parking_spot_is_linked_to_the_nearest_bike_zone(client, auth, demo):
    pid = start_patrol(client, auth, kind="bike_rectification")
    # 30 m south of 宋家滩主干道东口停放区 (103.8905–103.8913, 36.0785–36.0788).
    r = post_json(
        client,
        f"/api/v1/patrols/{pid}/bad-parking",
        {"lon": 103.8909, "lat": 36.0785 - 30 / 110_540, "bikes": 6, "reparked": True},
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["zone_distance_m"] == pytest.approx(30, abs=1)
    fc = client.get(f"/api/v1/patrols/{pid}/bad-parking").get_json()
    assert fc["features"][0]["properties"]["nearest_zone"] == "宋家滩主干道东口停放区"
    assert post_json(client, f"/api/v1/patrols/{pid}/bad-parking", {"lon": 500, "lat": 36}).status_code == 422


def test_phone_batch_upload_skips_resends(client, auth, demo):
    pid = start_patrol(client, auth)
    now = dt.datetime.now(UTC)
    batch = [
        {
            "lat": LAT,
            "lon": LON + i * 1e-5,
            "t": int((now - dt.timedelta(seconds=60 - i * 5)).timestamp() * 1000),
            "acc": 6,
        }
        for i in range(10)
    ]
    r = post_json(client, f"/api/v1/patrols/{pid}/positions", {"positions": batch})
    body = r.get_json()
    assert (body["received"], body["stored"], body["track"]["stored_fixes"]) == (10, 10, 10)
    r = post_json(client, f"/api/v1/patrols/{pid}/positions", {"positions": batch[5:] + batch[:2]})
    body = r.get_json()
    assert (body["received"], body["stored"], body["track"]["stored_fixes"]) == (7, 0, 10)
    bad = post_json(client, f"/api/v1/patrols/{pid}/positions", {"positions": [{"lat": 91, "lon": 0, "t": 1}]})
    assert bad.status_code == 422 and "positions.0.lat" in bad.get_json()["error"]["fields"]
    bad = post_json(client, f"/api/v1/patrols/{pid}/positions", {"positions": [{"lat": "x", "lon": 0, "t": 1}]})
    assert bad.status_code == 422 and "positions.0.lat" in bad.get_json()["error"]["fields"]


def test_gpx_export_and_import_round_trip(client, auth, demo):
    auth.login("patrol")
    src = db.session.scalar(select(Patrol).where(Patrol.title == SJT_TITLES[0]))
    r = client.get(f"/api/v1/patrols/{src.id}.gpx")
    assert r.status_code == 200 and r.mimetype == "application/gpx+xml"
    gpx = gpxpy.parse(r.data.decode())
    points = [p for t in gpx.tracks for s in t.segments for p in s.points]
    assert len(points) == src.fixes
    r = post_json(client, "/api/v1/patrols", {"kind": "bike_rectification", "title": "补录轨迹"})
    pid = r.get_json()["id"]
    gpx_bytes = client.get(f"/api/v1/patrols/{src.id}.gpx").data
    r = client.post(
        f"/api/v1/patrols/{pid}/import",
        data={"file": (io.BytesIO(gpx_bytes), "track.gpx")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201 and r.get_json()["stored"] == len(points)
    copy = client.get(f"/api/v1/patrols/{pid}").get_json()
    assert copy["state"] == "finished"
    assert copy["stats"]["distance_m"] == pytest.approx(src.distance_m, rel=0.01)


def test_csv_import_and_bad_files(client, auth, demo):
    pid = start_patrol(client, auth)
    csv_text = "time,lat,lon,accuracy\n" + "".join(
        f"2026-04-20T08:{i:02d}:00+08:00,{LAT},{LON + i * 1e-4},5\n" for i in range(10)
    )
    r = client.post(
        f"/api/v1/patrols/{pid}/import",
        data={"file": (io.BytesIO(csv_text.encode()), "walk.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201 and r.get_json()["stored"] == 10
    for name, data in (("x.gpx", b"<gpx><trk>"), ("x.csv", b"a,b\n1,2\n"), ("x.csv", b"time,lat,lon\nnow,95,1\n")):
        r = client.post(
            f"/api/v1/patrols/{pid}/import", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
        )
        assert r.status_code == 422, name
    assert client.post(f"/api/v1/patrols/{pid}/import", data={}).status_code == 400


# --------------------------------------------------------------------------- partitions
def test_month_rollover_follows_shanghai_time(app, demo):
    db.session.execute(text("SELECT wuwei_position_partition(DATE '2027-05-01')"))
    db.session.execute(text("SELECT wuwei_position_partition(DATE '2027-04-01')"))
    device()
    dev = db.session.scalar(select(Device).where(Device.identifier == "test-phone-1"))
    # 16:30 UTC on 30 April is 00:30 on 1 May in Lanzhou: the fix belongs to May.
    for t in ("2027-04-30T15:59:59+00:00", "2027-04-30T16:30:00+00:00"):
        db.session.execute(
            text(
                "INSERT INTO positions (device_id, user_id, fixed_at, geom, source) VALUES "
                "(:d, :u, :t, ST_SetSRID(ST_MakePoint(103.89, 36.07), 4326), 'csv')"
            ),
            {"d": dev.id, "u": dev.user_id, "t": t},
        )
    parts = db.session.execute(
        text(
            "SELECT fixed_at AT TIME ZONE 'UTC', tableoid::regclass::text FROM positions "
            "WHERE device_id = :d ORDER BY fixed_at"
        ),
        {"d": dev.id},
    ).all()
    assert [p[1] for p in parts] == ["positions_202704", "positions_202705"]


def test_fixes_caught_by_the_default_partition_move_when_their_month_is_created(app, demo):
    device()
    dev = db.session.scalar(select(Device).where(Device.identifier == "test-phone-1"))
    db.session.execute(
        text(
            "INSERT INTO positions (device_id, user_id, fixed_at, geom, source) VALUES "
            "(:d, :u, '2031-03-15T10:00:00+08:00', ST_SetSRID(ST_MakePoint(103.89, 36.07), 4326), 'csv')"
        ),
        {"d": dev.id, "u": dev.user_id},
    )
    where = "SELECT tableoid::regclass::text FROM positions WHERE device_id = :d"
    assert db.session.scalar(text(where), {"d": dev.id}) == "positions_default"
    assert db.session.scalar(text("SELECT wuwei_position_partition(DATE '2031-03-20')")) == "positions_203103"
    assert db.session.scalar(text(where), {"d": dev.id}) == "positions_203103"
    assert db.session.scalar(text("SELECT count(*) FROM positions_default")) == 0


def test_partitions_ahead_exist_and_command_is_idempotent(runner, demo):
    r = runner.invoke(args=["patrols", "partitions", "--months-ahead", "2"])
    assert r.exit_code == 0 and "partition" in r.output
    next_month = (dt.datetime.now(TZ).date().replace(day=28) + dt.timedelta(days=7)).strftime("%Y%m")
    assert db.session.scalar(text("SELECT to_regclass(:n)::text"), {"n": f"positions_{next_month}"})
    assert runner.invoke(args=["patrols", "partitions"]).output.startswith("positions: 0")


# --------------------------------------------------------------------------- access
def test_member_sees_own_patrols_leader_of_team_sees_team(client, auth, demo):
    auth.login("sjt3")  # a team member, not on the demo patrols
    assert client.get("/api/v1/patrols").get_json()["total"] == 0
    demo_patrol = db.session.scalar(select(Patrol).where(Patrol.title == SJT_TITLES[0]))
    assert client.get(f"/api/v1/patrols/{demo_patrol.id}").status_code == 404
    r = post_json(
        client, "/api/v1/patrols", {"kind": "grid_walk", "title": "sjt3 自己的巡查", "team_id": demo_patrol.team_id}
    )
    own = r.get_json()["id"]
    assert [p["id"] for p in client.get("/api/v1/patrols").get_json()["patrols"]] == [own]
    auth.logout()
    auth.login("patrol")  # the team's leader
    ids = {p["id"] for p in client.get("/api/v1/patrols").get_json()["patrols"]}
    assert {own, demo_patrol.id} <= ids
    auth.logout()
    auth.login("hls2")  # another community's grid worker
    assert client.get(f"/api/v1/patrols/{own}").status_code == 404
    assert client.get(f"/api/v1/patrols/{own}.gpx").status_code == 404
    assert post_json(client, f"/api/v1/patrols/{own}", {"bags": 1}, method="patch").status_code == 404


def test_leaders_see_aggregates_only(client, auth, demo):
    auth.login("leader")
    cleanup = db.session.scalar(select(Patrol).where(Patrol.title == CLEANUP_TITLE))
    assert client.get("/api/v1/patrols").status_code == 403
    assert client.get(f"/api/v1/patrols/{cleanup.id}").status_code == 403
    assert client.get(f"/api/v1/patrols/{cleanup.id}/track").status_code == 403
    assert client.get("/api/v1/patrols/live").status_code == 403
    cov = client.get("/api/v1/patrols/coverage?period=month&date=2026-04-12").get_json()
    walked = {g["code"] for g in cov["grids"] if g["walked"]}
    assert "620103002001003" in walked or "620103002001004" in walked
    assert "620102005003001" in cov["not_walked"]  # nobody walked Zhangjiayuan's grids
    assert all("user" not in g and "who" not in g for g in cov["grids"])
    assert client.get("/patrols/coverage?period=month&date=2026-04-12").status_code == 200
    assert client.get("/api/v1/patrols/coverage?period=year").status_code == 400


def test_live_map_shows_active_patrols_of_the_team(client, auth, demo):
    secret = device()
    pid = start_patrol(client, auth)
    send(client, secret, line_fixes(dt.datetime.now(UTC) + dt.timedelta(seconds=1), 5))
    fc = client.get("/api/v1/patrols/live?bbox=103.85,36.0,103.95,36.1&limit=100").get_json()
    kinds = sorted(f["properties"]["kind"] for f in fc["features"])
    assert kinds == ["position", "trail"]
    pos = next(f for f in fc["features"] if f["properties"]["kind"] == "position")
    assert pos["properties"]["patrol_id"] == pid
    assert client.get("/api/v1/patrols/live?bbox=0,0,1,1").get_json()["features"] == []
    assert client.get("/api/v1/patrols/live?bbox=1,2,3").status_code == 400
    auth.logout()
    auth.login("hls2")
    assert client.get("/api/v1/patrols/live").get_json()["features"] == []


# --------------------------------------------------------------------------- pages, devices, demo
def test_pages_render_for_a_patrol_member(client, auth, demo):
    auth.login("patrol")
    p = db.session.scalar(select(Patrol).where(Patrol.title == SJT_TITLES[1]))
    for url in (
        "/patrols/",
        "/patrols/?kind=bike_rectification",
        f"/patrols/{p.id}",
        "/patrols/live",
        "/patrols/phone",
        "/patrols/devices",
        "/patrols/coverage",
    ):
        r = client.get(url)
        assert r.status_code == 200, url
        assert remote_references(r.get_data(as_text=True)) == [], url
    page = client.get(f"/patrols/{p.id}").data.decode()
    assert "宋家滩共享单车整治巡查（背街小巷）" in page and f"/api/v1/patrols/{p.id}/track" in page
    sw = client.get("/patrols/sw.js")
    assert sw.status_code == 200 and b"caches" in sw.data
    assert client.get("/patrols/?kind=boat").status_code == 400
    assert "Patrol records" in client.get("/patrols/?lang=en").data.decode()


def test_devices_register_by_cli_and_page(runner, client, auth, demo):
    r = runner.invoke(args=["devices", "register", "--user", "sjt1", "--identifier", "sjt1-phone"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["devices", "register", "--user", "sjt1", "--identifier", "sjt1-phone"])
    assert r.exit_code != 0 and "already registered" in r.output
    auth.login("sjt2")
    r = post_json(client, "/api/v1/devices", {"identifier": "bad id with spaces"})
    assert r.status_code == 422
    r = post_json(client, "/api/v1/devices", {"identifier": "sjt2-phone", "kind": "traccar"})
    assert r.status_code == 201
    assert [d["identifier"] for d in client.get("/api/v1/devices").get_json()["devices"]] == ["sjt2-phone"]
    assert post_json(client, "/api/v1/devices", {"identifier": "x-phone", "user": "sjt1"}).status_code == 403


def test_demo_cleanup_and_rectification(demo):
    cleanup = db.session.scalar(select(Patrol).where(Patrol.title == CLEANUP_TITLE))
    assert cleanup.kind == "cleanup" and cleanup.started_at.astimezone(TZ).date() == dt.date(2026, 4, 12)
    minutes = (cleanup.ended_at - cleanup.started_at).total_seconds() / 60
    assert 60 < minutes < 90  # "just over an hour"
    assert cleanup.area_m2 > 10_000 and cleanup.bags and cleanup.volunteers
    stats = patrol_stats(cleanup)
    assert stats["dropped_fixes"] >= 3 and stats["people"] >= 20
    spots = db.session.scalar(
        text(
            "SELECT count(*) FROM bad_parking_spots s JOIN patrols p ON p.id = s.patrol_id "
            "WHERE p.kind = 'bike_rectification' AND s.nearest_zone_id IS NOT NULL"
        )
    )
    assert spots >= 8
    assert db.session.scalar(select(Device.id).where(Device.identifier == DEMO_DEVICE))


def test_haversine_matches_postgis(app, demo):
    d = db.session.scalar(
        text("SELECT ST_Distance(ST_MakePoint(103.89, 36.07)::geography, ST_MakePoint(103.90, 36.08)::geography)")
    )
    assert haversine_m(36.07, 103.89, 36.08, 103.90) == pytest.approx(d, rel=0.005)


def test_reading_someone_elses_track_is_audited(client, auth, demo):
    auth.login("sjt3")
    pid = post_json(
        client,
        "/api/v1/patrols",
        {
            "kind": "grid_walk",
            "title": "sjt3 巡查",
            "team_id": db.session.scalar(select(Patrol.team_id).where(Patrol.title == SJT_TITLES[0])),
        },
    ).get_json()["id"]
    assert client.get(f"/api/v1/patrols/{pid}/track").status_code == 200  # own track: no entry
    auth.logout()
    auth.login("patrol")  # the team leader
    assert client.get(f"/api/v1/patrols/{pid}.gpx").status_code == 200
    reads = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "read_personal", AuditEntry.row_id == str(pid))
    ).all()
    assert [r.after["what"] for r in reads] == ["gpx"]


def test_phone_page_incident_report_calls_work_when_the_incidents_api_is_there(client, auth, demo):
    """The phone page asks /api/v1/incident-categories, then posts what patrols-phone.js posts."""
    auth.login("patrol")
    r = client.get("/api/v1/incident-categories")
    if r.status_code == 404:  # without the incidents feature the page hides its form
        pytest.skip("incidents API not installed")
    code = r.get_json()["categories"][0]["code"]
    r = post_json(
        client,
        "/api/v1/incidents",
        {"category": code, "description": "背街小巷单车堵塞消防通道", "lon": LON, "lat": LAT},
    )
    assert r.status_code == 201 and isinstance(r.get_json()["id"], int)


def test_patrols_are_planned_only_inside_ones_area(client, auth, demo):
    auth.login("sjt1")  # grid worker of Songjiatan's first grid
    ok = post_json(client, "/api/v1/patrols", {"kind": "cleanup", "title": "社区清洁", "area": "620102011002"})
    assert ok.status_code == 201 and ok.get_json()["area"]["code"] == "620102011002"
    for code in ("620103002001", "6201", "620102011"):  # another community, the city, the street
        r = post_json(client, "/api/v1/patrols", {"kind": "cleanup", "title": "越界", "area": code})
        assert r.status_code == 403, code
    r = post_json(client, "/api/v1/patrols", {"kind": "boat", "title": "", "area": "999"})
    assert r.status_code == 422 and {"kind", "title"} <= set(r.get_json()["error"]["fields"])
    r = post_json(client, "/api/v1/patrols", {"kind": "cleanup", "title": "无此区域", "area": "999"})
    assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == {"area"}
    assert db.session.scalar(select(func.count()).select_from(Patrol).where(Patrol.title == "越界")) == 0


def test_patrol_endpoints_are_declared_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path in (
        "/api/v1/patrols",
        "/api/v1/patrols/{patrol_id}",
        "/api/v1/patrols/{patrol_id}/positions",
        "/api/v1/patrols/live",
        "/api/v1/patrols/coverage",
        "/api/v1/bad-parking-spots",
        "/api/v1/devices",
        "/track/osmand",
        "/track/owntracks",
    ):
        assert path in paths, path
    assert "patrols.run" in paths["/api/v1/patrols"]["get"]["description"]
    assert "application/geo+json" in paths["/api/v1/patrols/live"]["get"]["responses"]["200"]["content"]
    upload = paths["/api/v1/patrols/{patrol_id}/import"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert doc["components"]["schemas"]["PatrolIn"]["properties"]["kind"]["enum"][0] == "grid_walk"


def test_counts_take_json_integers_only(client, auth, demo):
    pid = start_patrol(client, auth, kind="cleanup")
    assert (
        post_json(client, f"/api/v1/patrols/{pid}", {"bags": 12.0}, method="patch").get_json()["results"]["bags"] == 12
    )
    for bad in ({"bags": "12"}, {"bags": 1.5}, {"volunteers": False}):
        assert post_json(client, f"/api/v1/patrols/{pid}", bad, method="patch").status_code == 422, bad
    assert client.get("/api/v1/patrols?colour=red").status_code == 400  # unknown parameter
